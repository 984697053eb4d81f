"""Stage 7, advise: cache breakers found in the log, each with a concrete fix, re-simulated.

``breakers`` finds what breaks a template's prefix (volatile lines, tool order, JSON key order,
whitespace, a per-call system message, user scope, cold bursts, history rewrites) and proposes
the layout that fixes it; ``provider_options`` finds the breakers in a provider's request options
(Anthropic breakpoints, OpenAI minimum and cache-key routing); ``whatif`` prices each fix alone,
combined and all-but-one, and keeps only fixes that cost more on no model.
"""
