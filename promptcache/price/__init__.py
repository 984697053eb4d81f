"""Stage 6, price: simulated and observed tokens turned into money, in ``Decimal``.

``ledger`` sums tokens per (group, model, price instant) bucket and multiplies once;
``scenarios`` runs a whole-log simulation for an assignment of models and a layout and prices it,
and re-simulates only the partitions a change touches (``resimulate``); ``units`` prices a work
unit where it is simulated (partial ledgers: token sums per bucket), reduces the units' ledgers
into the whole log's, and derives a what-if's ledger from its base's; ``calibration`` compares
the simulation with what the provider reported, per group, and names the likeliest reason.
"""
