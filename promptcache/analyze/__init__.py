"""Stage 9, analyze: the orchestration of all earlier stages over a log, and its options.

``pipeline.analyze(paths, options.AnalyzeOptions)`` reads the log once (``first_pass``),
segments it, simulates and prices each candidate model as logged and restructured
(``simulations.Simulations``: each run once, shared by models that cache alike, what-ifs
re-simulated in part), runs the advisor and the recommendation, and returns a
``model.report.Report``; ``timeline`` accumulates the chart series; ``worst`` finds the requests
that lost the most and where their prompts differ. It returns data; the words and number formats
are ``report``'s.
"""
