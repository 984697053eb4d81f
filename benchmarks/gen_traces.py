"""Seeded generator of Claude-Code-like block-hash sessions in the WEKA kv-cache-tester trace format.

    python benchmarks/gen_traces.py --calls 50000 --seed 7 -o benchmarks/out/traces-50000-s7

Writes one JSON document per session (``trace_00001.json`` ...), in the format of the public WEKA
traces (``$PROMPTCACHE_REALDATA/traces/weka-claude-code``; read by ``promptcache.logs.traces``):
compact JSON with ``id``, ``models``, ``block_size`` (64), ``hash_id_scope`` ("local"),
``tool_tokens``, ``system_tokens``, ``requests`` and ``totals``; each request has ``t`` (s from
the session start), ``type`` ("n"), ``model``, ``in``, ``out``, ``hash_ids`` (full 64-token blocks
only; the partial tail has no id), ``input_types``, ``output_types``, ``stop``, ``api_time`` and
``think_time``; sub-agents are nested ``{"type": "subagent", "agent_id", "subagent_type", ...,
"requests"}`` entries whose ids share the parent's namespace, their request list sometimes stored
as a Python repr string, as in the real files.

The distributions mirror what the 33 shared traces show and the WEKA README publishes (739
traces, 59,204 requests; see benchmarks/README.md, "The trace generator"):

- requests per session log-normal (median ~48, P25 ~19, P75 ~101, capped at 1,200); the first
  request median ~21k tokens, or ~120k for the 30 % of sessions resumed with a large context, of
  which a tools + system head of ~10.8k + ~2.6k tokens; one session in 8 has a 1M-token window;
- each step resends the previous request and adds new blocks (log-normal, median ~12 blocks,
  P90 ~70; a tool result now and then adds thousands of tokens); as in the shared traces, 94 % of
  the steps extend the previous request, 4 % rehash its last block and 2 % drop or edit its
  last 2-30 blocks;
- a session that grows past its context limit (150k-200k tokens; 400k-850k on a 1M window) is compacted: the next request
  keeps the tools + system head and carries a fresh summary of 15k-80k tokens;
- one session in 40 starts 1-6 sub-agents (Explore/Plan/general-purpose, on Haiku or Sonnet,
  3-60 requests each, their own tools + system head, ids from the parent's counter);
- ``t``: each request starts ``api_time`` (log-normal, median ~6.5 s) + ``think_time``
  (log-normal, median ~10 s; one in 50 a long human pause of minutes to hours) after the previous.

Same arguments give byte-identical files. Mean input per request is ~2,000 blocks (~128k
tokens): the default 50,000 calls are ~100M blocks, ~460 MB of JSON.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys

import orjson

BLOCK = 64
MAIN_MODELS = [("claude-opus-4-5-20251101", 0.70), ("claude-sonnet-4-5-20250929", 0.15),
               ("claude-sonnet-4-20250514", 0.12), ("claude-opus-4-6", 0.03)]
SUB_MODELS = ["claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929"]
SUB_TYPES = ["Explore", "Plan", "general-purpose"]
OUT_TYPES = [(("thinking", "tool_use"), 0.33), (("text", "thinking", "tool_use"), 0.23), (("text", "tool_use"), 0.14),
             ((), 0.13), (("tool_use",), 0.07), (("text",), 0.07), (("text", "thinking"), 0.03)]


def lognormal(rng: random.Random, median: float, p75: float) -> float:
    """A log-normal draw with the given median and 75th percentile."""
    sigma = math.log(p75 / median) / 0.6745
    return rng.lognormvariate(math.log(median), sigma)


def pick(rng: random.Random, weighted: list) -> object:
    r = rng.random() * sum(w for _, w in weighted)
    for v, w in weighted:
        r -= w
        if r <= 0:
            return v
    return weighted[-1][0]


class Ids:
    """The session's hash-id counter (ids are local to a session; sub-agents share it)."""

    def __init__(self) -> None:
        self.next = 1

    def take(self, n: int) -> list[int]:
        out = list(range(self.next, self.next + n))
        self.next += n
        return out


def conversation(rng: random.Random, ids: Ids, n_req: int, model: str, head_tokens: int, first_tokens: int,
                 limit_tokens: int, *, sub: bool) -> tuple[list[dict], int]:
    """The requests of one agent loop (a main session or a sub-agent); returns them and their duration."""
    head = ids.take(head_tokens // BLOCK)
    first_blocks = max(len(head) + 1, first_tokens // BLOCK)
    blocks = head + ids.take(first_blocks - len(head))
    tail = rng.randrange(BLOCK)  # the partial last block: counted in ``in``, no hash
    t = 0.0
    reqs: list[dict] = []
    for i in range(n_req):
        if i:
            n_tokens = len(blocks) * BLOCK + tail
            if n_tokens > limit_tokens and not sub:  # compaction: head + a fresh summary
                summary = int(lognormal(rng, 30_000, 45_000))
                blocks = head + ids.take(max(1, min(summary, 80_000) // BLOCK))
                in_types = ["text", "thinking", "tool_result", "tool_use"]
            else:
                u = rng.random()
                if u < 0.04 and len(blocks) > len(head) + 1:
                    blocks = blocks[:-1]  # the previous request's last block rehashed
                elif u < 0.06 and len(blocks) > len(head) + 30:
                    blocks = blocks[:-rng.randint(2, 30)]  # a recent turn edited or dropped
                grow = 1 + int(lognormal(rng, 11, 26))
                if rng.random() < 0.03:
                    grow += rng.randrange(100, 700)  # a large file or tool output read at once
                blocks = blocks + ids.take(grow)
                in_types = ["text"] if rng.random() < 0.12 else ["tool_result"]
            tail = rng.randrange(BLOCK)
        else:
            in_types = ["text"]
        out_types = list(pick(rng, OUT_TYPES))
        stop = "tool_use" if "tool_use" in out_types else ("" if not out_types else "end_turn")
        out = int(lognormal(rng, 230, 420)) + 20
        api = round(min(300.0, 1.0 + lognormal(rng, 5.3, 9.0) + out / 150.0), 2)
        think = 0.0 if i == 0 else float(int(lognormal(rng, 9, 25)) + 1)
        if i and rng.random() < 0.02:
            think = float(int(lognormal(rng, 600, 3000)))  # the user went away
        t = t if i == 0 else round(t + think + reqs[-1]["api_time"], 3)
        reqs.append({"t": t, "type": "n", "model": model, "in": len(blocks) * BLOCK + tail, "out": out,
                     "hash_ids": blocks, "input_types": in_types, "output_types": out_types, "stop": stop,
                     "api_time": api, "think_time": think})
    return reqs, int((t + (reqs[-1]["api_time"] if reqs else 0)) * 1000)


def session(rng: random.Random, k: int, n_req: int) -> tuple[dict, int, int]:
    """One session document, its request count and its block count (sub-agents included)."""
    ids = Ids()
    model = str(pick(rng, MAIN_MODELS))
    tool_tokens = int(rng.gauss(10_800, 1_000))
    system_tokens = int(rng.gauss(2_600, 300))
    head = tool_tokens + system_tokens
    big = rng.random() < 0.12  # a 1M-token context window
    resumed = rng.random() < 0.3  # a session resumed (or started) with a large context
    first = lognormal(rng, 120_000, 200_000) if resumed else lognormal(rng, 21_000, 30_000)
    first = int(min(850_000 if big else 190_000, max(head + 800, first)))
    limit = rng.randrange(400_000, 850_000) if big else rng.randrange(150_000, 200_000)
    limit = max(limit, first + 20_000)
    reqs, _ = conversation(rng, ids, n_req, model, head, first, limit, sub=False)
    subs = []
    if n_req >= 8 and rng.random() < 1 / 40:
        for a in range(rng.randint(1, 6)):
            at = rng.randrange(1, n_req - 1)
            sm = rng.choice(SUB_MODELS)
            st, ss = int(rng.gauss(7_800, 500)), int(rng.gauss(900, 100))
            sreqs, dur = conversation(rng, ids, rng.randint(3, 60), sm, st + ss, st + ss + rng.randrange(1_000, 8_000),
                                      10**9, sub=True)
            entry = {"t": round(reqs[at]["t"] + reqs[at]["api_time"] / 2, 3), "type": "subagent",
                     "agent_id": f"agent_{a + 1:03d}", "subagent_type": rng.choice(SUB_TYPES), "duration_ms": dur,
                     "total_tokens": sreqs[-1]["in"] + sreqs[-1]["out"], "tool_use_count": len(sreqs) - 1,
                     "status": "completed",
                     "requests": repr(sreqs) if rng.random() < 0.3 else sreqs,  # some real files hold a repr
                     "models": [sm], "tool_tokens": st, "system_tokens": ss}
            subs.append((at, entry, sreqs))
    for at, entry, _ in sorted(subs, key=lambda s: -s[0]):
        reqs.insert(at + 1, entry)
    flat = [r for r in reqs if r["type"] == "n"]
    sub_reqs = [r for _, _, sr in subs for r in sr]
    p_in, p_out = sum(r["in"] for r in flat), sum(r["out"] for r in flat)
    s_in, s_out = sum(r["in"] for r in sub_reqs), sum(r["out"] for r in sub_reqs)
    doc = {"id": f"trace_{k:05d}", "models": [model], "block_size": BLOCK, "hash_id_scope": "local",
            "tool_tokens": tool_tokens, "system_tokens": system_tokens, "requests": reqs,
            "totals": {"parent_tokens": {"input": p_in, "output": p_out},
                       "subagent_tokens": {"input": s_in, "output": s_out},
                       "combined_tokens": {"input": p_in + s_in, "output": p_out + s_out},
                       "subagent_count": len(subs)}}
    every = flat + sub_reqs
    return doc, len(every), sum(len(r["hash_ids"]) for r in every)


def generate(calls: int, seed: int, out_dir: str) -> tuple[int, int, int]:
    """Write sessions until ``calls`` requests; returns (sessions, requests, blocks)."""
    rng = random.Random(seed)
    os.makedirs(out_dir, exist_ok=True)
    done = blocks = k = 0
    while done < calls:
        k += 1
        n_req = max(3, min(1_200, int(lognormal(rng, 48, 101))))
        n_req = min(n_req, max(3, calls - done))
        doc, n, b = session(rng, k, n_req)
        done += n
        blocks += b
        with open(os.path.join(out_dir, f"{doc['id']}.json"), "wb") as f:
            f.write(orjson.dumps(doc))
    return k, done, blocks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=50_000, help="requests to generate (sub-agents included)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("-o", "--out", required=True, help="output directory (one JSON file per session)")
    a = ap.parse_args(argv)
    sessions, done, blocks = generate(a.calls, a.seed, a.out)
    print(f"{sessions} sessions, {done} requests, {blocks:,} blocks of {BLOCK} tokens -> {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
