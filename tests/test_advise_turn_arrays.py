"""The advisor's per-call state across turns as typed arrays (issue 15, target 3): ``link_turns``
(a slot per conversation code and a sorted array of whole-prompt keys instead of two dicts),
``_roots``, and ``detect_model_switches``' last model per conversation (``_LastModel``), each
against the plain dict computation it replaced."""

from array import array
from collections.abc import Hashable
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from promptcache.advise.breakers import Latest
from promptcache.advise.session import _LastModel, _roots, link_turns
from promptcache.measure.shape import ChatShape, Shape, chain_of
from promptcache.model.facts import conversation_keys
from promptcache.model.strings import Coded, StringTable


def old_link_turns(facts, order, shapes) -> list[int]:
    """``link_turns`` as it was (705a71d): a dict of every call's whole-prompt chain key."""
    parent = [-1] * len(facts)
    by_prefix: dict[int, int] = {}
    by_conv: dict[Hashable, int] = {}
    conversation = conversation_keys(facts)
    for i in order:
        sh = shapes[i]
        keys = [
            k
            for k, r in zip(sh.keys_from(0)[:-1] if type(sh) is ChatShape else sh.keys[:-1], sh.roles, strict=False)
            if r != "tools"
        ]
        chain = chain_of(keys)
        conv = conversation(i)
        p = by_conv.get(conv, -1) if conv is not None else -1
        if p < 0:
            p = next((by_prefix[chain[k]] for k in range(len(keys) - 1, 0, -1) if chain[k] in by_prefix), -1)
        parent[i] = p
        if keys:
            by_prefix[chain[len(keys)]] = i
        if conv is not None:
            by_conv[conv] = i
    return parent


def old_roots(parent, order) -> list[int]:
    root = list(range(len(parent)))
    for i in order:
        if parent[i] >= 0:
            root[i] = root[parent[i]]
    return root


class Rec:
    def __init__(self, conversation):
        self.conversation = conversation


class Coded_facts(list):
    """Records plus a ``FactTable``'s ``coded("conversation")`` (codes into a ``StringTable``)."""

    def __init__(self, convs):
        super().__init__(Rec(c) for c in convs)
        self.table = StringTable()
        self.codes = array("I", (self.table.code(c) for c in convs))

    def coded(self, name):
        assert name == "conversation"
        return self.codes, Coded(self.codes, self.table)


def shape(keys: list[int], roles: list[str]) -> Shape:
    keys = [*keys, 10_000 + len(keys)]  # the generation piece
    roles = (*roles, "assistant")
    return Shape(keys, [1] * len(keys), roles, [-1] * len(keys), chain_of(keys), None, 0, False)


calls = st.lists(
    st.tuples(
        st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d", "é"])),  # conversation
        st.lists(st.tuples(st.integers(1, 4), st.sampled_from(["system", "user", "assistant", "tools"])), max_size=5),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(calls, st.randoms(use_true_random=False), st.booleans())
def test_link_turns_is_the_dict_walk(rows, rnd, coded):
    """Prompts from a 4-key alphabet (so whole prompts begin later ones), tools pieces among them,
    conversations or none, any order: the same parents, by conversation code or by string, and the
    same roots."""
    convs = [c for c, _ in rows]
    facts = Coded_facts(convs) if coded else [Rec(c) for c in convs]
    shapes = [shape([k for k, _ in p], [r for _, r in p]) for _, p in rows]
    order = list(range(len(rows)))
    rnd.shuffle(order)
    want = old_link_turns(facts, order, shapes)
    got = link_turns(facts, order, shapes)
    assert isinstance(got, array) and list(got) == want
    assert list(_roots(got, order)) == old_roots(want, order)
    assert list(link_turns(facts, range(len(rows)), shapes)) == old_link_turns(facts, range(len(rows)), shapes)


def test_link_turns_on_a_first_pass(write_log):
    """Chat shapes (``keys_from``) and a ``FactTable`` (conversation codes) from a real first pass:
    conversations with ids, turns without (linked by prefix), a rewritten history; the table and its
    records give the old parents."""
    from promptcache.analyze.first_pass import first_pass
    from promptcache.knowledge.catalog import load_catalog
    from promptcache.measure.shape import Measurer
    from promptcache.read.reader import read_logs

    t0 = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    rows = []
    for c in range(6):
        msgs = [{"role": "system", "content": f"You answer questions about order set {c % 2}. " * 20}]
        for k in range(4):
            msgs = [*msgs, {"role": "user", "content": f"Conversation {c}, turn {k}?"}]
            if k == 2 and c == 3:
                msgs = [msgs[0], msgs[-1]]  # history rewritten
            row = {"timestamp": (t0 + timedelta(minutes=c, seconds=20 * k)).isoformat(),
                   "request": {"model": "deepseek-v4-pro", "messages": list(msgs)},
                   "response": {"choices": [{"message": {"role": "assistant", "content": f"Done {c}.{k}."}}]}}
            if c % 3:
                row["conversation_id"] = f"conv-{c}"
            rows.append(row)
            msgs.append({"role": "assistant", "content": f"Done {c}.{k}."})
    path = write_log(rows, "turns.jsonl")
    measurers = {"deepseek-v4": Measurer("deepseek-v4")}
    fp = first_pass(read_logs([path]), catalog=load_catalog(), measurers=measurers, primary="deepseek-v4",
                    at=None, now=t0, calibrate=False)
    seq = fp.shapes["deepseek-v4"]
    assert any(type(seq[i]) is ChatShape for i in range(len(seq)))
    order = sorted(range(len(fp.facts)), key=lambda i: (fp.facts[i].start, i))
    want = old_link_turns(fp.facts, order, seq)
    assert sum(p >= 0 for p in want) > 12  # linked by id and by prefix
    assert list(link_turns(fp.facts, order, seq)) == want
    assert list(link_turns(list(fp.facts), order, seq)) == want


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.sampled_from(["a", "b", "c"])), st.sampled_from(["m1", "m2", "m3"]))),
       st.booleans())
def test_last_model_and_latest_are_the_dicts(rows, coded):
    """``_LastModel.swap`` and ``_Latest.swap`` give what a dict by conversation gave, by code or
    by key."""
    convs = [c for c, _ in rows]
    facts = Coded_facts(convs) if coded else [Rec(c) for c in convs]
    keys = conversation_keys(facts)
    as_keys = Coded(facts.codes, facts.table).keys() if coded else [keys(i) for i in range(len(rows))]
    last, latest = _LastModel(as_keys), Latest(facts)
    assert (last.slot is not None) == coded and (latest.slot is not None) == coded
    was_model: dict[Hashable, str] = {}
    was_call: dict[Hashable, int] = {}
    for i, (_, m) in enumerate(rows):
        conv = as_keys[i]
        if conv is not None:
            assert last.swap(conv, m) == was_model.get(conv)
            was_model[conv] = m
        assert latest.swap(i) == (was_call.get(conv, -1) if conv is not None else -1)
        if conv is not None:
            was_call[conv] = i
