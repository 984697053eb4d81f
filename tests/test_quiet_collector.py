"""``quiet_collector``: no cyclic collection inside a section, a full one only once the quiet
sections have left ``COLLECT_AFTER`` new tracked objects (not after every small what-if)."""

from __future__ import annotations

import gc
import weakref

import pytest

from promptcache.simulate import partition
from promptcache.simulate.partition import quiet_collector


class _Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def collections(monkeypatch):
    """The full collections ``quiet_collector`` runs, counted (and run)."""
    calls: list[int] = []
    real = gc.collect

    def collect(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(partition.gc, "collect", collect)
    monkeypatch.setattr(partition, "_fresh", 0)
    assert gc.isenabled()
    return calls


def test_disabled_inside_enabled_after(collections):
    with quiet_collector():
        assert not gc.isenabled()
        with quiet_collector():  # nested: left as it is
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_small_sections_run_no_full_collection(collections):
    kept = []
    for _ in range(50):
        with quiet_collector():
            kept.append([[] for _ in range(100)])  # 101 tracked objects a section
    assert collections == []  # the old collector ran one after each section: 50
    assert 0 < partition._fresh < partition.COLLECT_AFTER


def test_a_full_collection_once_enough_is_left(collections, monkeypatch):
    monkeypatch.setattr(partition, "COLLECT_AFTER", 1_000)
    kept = []
    for _ in range(3):
        with quiet_collector():
            kept.append([[] for _ in range(400)])
    assert collections == [1]  # after the third section: 1,203 objects left
    assert partition._fresh == 0


def test_cycles_made_quietly_are_still_freed(collections, monkeypatch):
    monkeypatch.setattr(partition, "COLLECT_AFTER", 100)
    with quiet_collector():
        ref = weakref.ref(_Cycle())
        junk = [[] for _ in range(500)]
        alive = ref() is not None
    assert alive
    assert collections == [1]
    assert ref() is None
    assert junk


def test_left_to_the_generational_collector(collections):
    with quiet_collector():
        ref = weakref.ref(_Cycle())
    assert collections == []
    for _ in range(50):  # young collections as allocation goes on free the cycle
        [[] for _ in range(1_000)]
        if ref() is None:
            break
    assert ref() is None
