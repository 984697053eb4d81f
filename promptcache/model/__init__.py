"""Stage 0, the records: what every stage passes to the next.

``calls`` holds a call as read (``Call``, ``Segment``, ``Usage``); ``facts`` the compact per-call
record kept once the text is gone (``CallFacts``); ``hints`` the cache options a request carries
(``CacheHints``); ``findings`` what each kind of cache breaker rests on (its evidence, as data);
``report`` the report itself (``Report`` and its parts, the JSON schema's
source). Records hold data only: no I/O, no simulation, no prices, no sentences. Every stage may
import ``model``; ``model`` imports nothing else of promptcache.
"""
