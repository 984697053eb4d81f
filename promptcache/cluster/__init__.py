"""Past one machine: the analysis's work units on a cluster (``--engine dask``).

An adapter above ``analyze/``: it gives ``AnalyzeOptions.executor`` an executor whose units run on
Dask distributed (``dask_engine``). No stage imports it, and nothing here imports Dask until
``--engine dask`` asks for it (``promptcache[dask]``). See docs/scale.md.
"""
