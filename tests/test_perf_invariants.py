"""The performance work changes no result: each cache or batch equals the plain computation."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest

from promptcache.analyze.pipeline import analyze
from promptcache.knowledge.catalog import Catalog, default_catalog
from promptcache.measure import tokens
from promptcache.model.calls import Call, Segment
from promptcache.read.reader import read_logs
from promptcache.segment import groups as segment
from promptcache.segment import volatile

EXAMPLE = Path(str(resources.files("promptcache").joinpath("data/example.jsonl.gz")))


def test_bucket_cache_equals_lookup_everywhere():
    cat = default_catalog()
    step = cat._bucket_step
    assert step > 0 and 3600 % step == 0
    rng = random.Random(5)
    t0 = datetime(2026, 4, 20, tzinfo=UTC)
    names = [n for n in cat.names()]
    for _ in range(20000):
        t = t0 + timedelta(seconds=rng.uniform(0, 86400 * 400))
        n = rng.choice(names)
        assert cat.bucket(n, t) == cat._bucket(n, t)
    # every edge: price changes and peak windows, a microsecond either side
    for m in cat.models:
        for p in m.prices:
            if p.start is not None:
                for d in (-1, 0, 1):
                    t = p.start + timedelta(microseconds=d)
                    assert cat.bucket(m.id, t) == cat._bucket(m.id, t)
    for day in range(14):
        for hh in range(24):
            for d in (-1, 0, 1):
                t = datetime(2026, 11, 1, hh, tzinfo=UTC) + timedelta(days=day, microseconds=d)
                assert cat.bucket("deepseek-v4-pro", t) == cat._bucket("deepseek-v4-pro", t)


def test_bucket_cache_with_a_list_instant_equals_lookup():
    """The cache keys ``list_at`` by its step as well: every price start falls on a step edge."""
    cat = default_catalog()
    rng = random.Random(11)
    t0 = datetime(2026, 4, 20, tzinfo=UTC)
    names = [n for n in cat.names()]
    starts = [p.start for m in cat.models for p in m.prices if p.start is not None]
    fallback = datetime(2026, 11, 15, 12, tzinfo=UTC)
    instants = [t0 + timedelta(seconds=rng.uniform(0, 86400 * 400)) for _ in range(5)]
    for _ in range(20000):
        n = rng.choice(names)
        t = rng.choice(instants)  # few call instants, many list instants: the cache is hit across them
        near = rng.choice(starts) + timedelta(microseconds=rng.choice((-1, 0, 1)), seconds=rng.choice((0, -1, 1, -899, 899)))
        list_at = rng.choice((t, near, t0 + timedelta(seconds=rng.uniform(0, 86400 * 400))))
        blend = rng.random() < 0.2
        fb = rng.choice((None, fallback))
        got = cat.bucket(n, t, list_at=list_at, blend=blend, fallback=fb)
        assert got == cat._bucket(n, t, list_at, blend, fb)


def test_bucket_step_zero_for_odd_edges():
    data = default_catalog().model_dump(mode="json")
    data["models"][0]["prices"][-1]["start"] = "2026-08-16T16:00:00.5Z"
    assert Catalog.model_validate(data)._bucket_step == 0


def test_cached_text_helpers_equal_uncached():
    calls = list(read_logs([EXAMPLE]))
    for c in calls[:200]:
        for s in c.segments:
            assert segment._main_key(s.text) == segment._main_key.__wrapped__(s.text)
            if s.role == "tools":
                assert tokens._tools_deepseek(s.text) == tokens._tools_deepseek.__wrapped__(s.text)


def test_one_cache_on_the_way_to_a_template_key():
    """``_main_key`` caches a prompt's digest; under it ``_text_key`` and ``volatile.fingerprint`` run
    once per text it misses, uncached: caches of theirs kept each distinct prompt's fingerprint and
    longest lines (~40 bytes a short chat at 20k calls, up to 512 prompts) and were never hit."""
    assert not hasattr(volatile.fingerprint, "cache_info") and not hasattr(segment._text_key, "cache_info")
    segment._main_key.cache_clear()
    words = ("briefly", "politely", "in French")
    texts = [f"You are assistant #{i}.\nAnswer every question {words[i % 3]}." for i in range(10, 40)]
    calls = [Call("t", i, "deepseek-v4-pro", [Segment("system", t), Segment("user", "Hi?")]) for i, t in enumerate(texts)]
    keys = [segment.template_key(c) for c in calls + calls]
    assert segment._main_key.cache_info().misses == 30  # each text's key made once
    assert keys[:30] == keys[30:] and len(set(keys)) == 3  # the number zeroed: one template a wording


@pytest.mark.parametrize("family", ["deepseek-v4", "cl100k"])
def test_encode_batch_equals_encode(family):
    tk = tokens.get_tokenizer(family)
    texts = [s.text for c in list(read_logs([EXAMPLE]))[:50] for s in c.segments] + ["", "x", "<｜User｜>hi"]
    assert tk.encode_batch(texts) == [tk.encode(t) for t in texts]


def test_example_report_unchanged_without_the_caches(monkeypatch):
    fast = analyze([EXAMPLE]).model_dump_json()
    monkeypatch.setattr(Catalog, "bucket", lambda self, name, at, list_at=None, blend=False, fallback=None:
                        self._bucket(name, at, list_at, blend, fallback))
    monkeypatch.setattr(tokens, "_tools_deepseek", tokens._tools_deepseek.__wrapped__)
    monkeypatch.setattr(segment, "_main_key", segment._main_key.__wrapped__)
    slow = analyze([EXAMPLE]).model_dump_json()
    assert fast == slow
