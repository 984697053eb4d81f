"""Reports: the ``Report`` data model and one renderer per output format (pure functions of it)."""
