"""Stage 9, analyze: the orchestration of all earlier stages over a log, and its options.

``pipeline.analyze(paths, AnalyzeOptions)`` reads the log once (``first_pass``), segments it,
simulates and prices each candidate model as logged and restructured, runs the advisor and the
recommendation, and returns a ``model.report.Report``; ``timeline`` accumulates the chart series;
``parallel`` runs independent simulations in forked workers for ``--jobs``. It returns data; the
words and number formats are ``report``'s.
"""
