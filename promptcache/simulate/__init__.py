"""Stage 5, simulate: each provider's prompt cache, fed calls in time order.

``policies.make_policy`` builds one ``Policy`` per model from the cache rules (DeepSeek V4 units
and the legacy 64-token rule, OpenAI automatic and breakpoint caching, Anthropic breakpoints,
Gemini implicit and explicit caches, an ideal cache); each answers ``request(shape, ...) ->
Outcome`` (tokens read, written, uncached). ``engine`` holds the shared prefix machinery and
``sweep`` the parameter grids of ``--sweep``/``--cache-param``. Simulators know tokens and time,
never prices.
"""
