"""Stage 2, read: one module per log format, each turning lines into ``model.calls.Call``.

``reader.read_logs(paths)`` opens files, directories, globs and ``.gz``, detects each file's
format (``detect``) and yields calls in file order, keeping a ``ReadStats`` ledger in which
lines = calls + skipped, with every skipped line counted by reason. Readers normalise; they do not
tokenize, simulate or price.
"""
