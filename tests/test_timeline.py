"""``analyze.timeline.TimelineBuilder.drop``: a series an interrupt cut short leaves no trace.

Found while merging two changes: one keyed the simulated series by (model, layout), the other
dropped them by the string "model/layout", so a dropped series stayed in the chart."""

from __future__ import annotations

from promptcache.analyze.timeline import TimelineBuilder


def test_drop_forgets_the_series_and_its_group_figures():
    t = TimelineBuilder(0.0, 3600.0)
    t.call(10.0)
    t.simulated(("deepseek-v4-pro", "as_logged"), 10.0, 50, 100, group="g1")
    t.simulated(("deepseek-flash", "as_logged"), 10.0, 40, 100, group="g1")
    t.drop(("deepseek-v4-pro", "as_logged"))
    built = t.build()
    assert [(s.model, s.layout) for s in built.simulated] == [("deepseek-flash", "as_logged")]
    assert [c.source for c in built.group_cache] == ["deepseek-flash/as_logged"]
