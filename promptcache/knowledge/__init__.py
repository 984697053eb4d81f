"""Stage 1, what promptcache knows about providers: dated prices and cache rules, as data.

``catalog`` loads ``data/prices.json`` (every price dated and sourced, peak windows and tiers) and
answers "what did this call cost per token at that instant"; ``cache_rules`` loads
``data/cache_rules.json`` (each provider's cache parameters, their sources and what is unknown),
both validated by pydantic; ``config`` reads a team's own ``[tool.promptcache]`` settings. Later
stages ask this package; nothing here reads a log.
"""
