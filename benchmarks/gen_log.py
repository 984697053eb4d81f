"""Seeded, deterministic generator of a realistic month of LLM request logs (OpenAI-compatible JSONL).

    python benchmarks/gen_log.py --calls 100000 --seed 7 -o benchmarks/out/log-100k.jsonl

Shape (see benchmarks/README.md, "The benchmark log"):

- ``TEMPLATES`` (24 by default) application templates, Zipf-weighted (a few apps make most calls).
  Each has a system prompt of 2k-20k tokens (log-uniform, drawn from a fixed vocabulary) and,
  for agent templates, a tool list of 5-30 JSON-schema tools. One template in four starts its
  system prompt with the current date and time (the classic cache breaker), so restructuring
  applies and the log is read twice, as in real use.
- Four kinds of session: ``chat`` (1-12 turns, prompt grows by user + assistant turns),
  ``agent`` (2-25 steps; each step replays the history plus the previous tool call and its
  result, so the prompt grows call by call), ``extract`` (one call with a 150-1200-token document)
  and ``rag`` (one call with 3-6 retrieved passages from a fixed pool of 400).
- Per-call dynamic content: user questions, documents, tool results, ids are fresh random text.
- Time: sessions arrive over 30 days (from 2026-10-01T00:00Z) as a Poisson process whose rate
  follows a daily cycle (busy 08:00-20:00 UTC) and a weekly one (weekends at 35 %); calls in a
  session follow each other by 2-90 s. Lines are written in time order (a heap of open sessions).
- 60 users (the cache scope), 85 % deepseek-v4-pro and 15 % deepseek-v4-flash.
- ``usage`` as DeepSeek reports it: ``prompt_tokens`` is exact (the DeepSeek V4 chat template
  rendered by ``promptcache.measure.tokens.render`` and counted with the DeepSeek V4 tokenizer, each
  distinct piece once), ``completion_tokens`` exact for the output text, and
  ``prompt_cache_hit_tokens`` / ``prompt_cache_miss_tokens`` a plausible provider figure (the
  previous call of the session or the template's system prompt, floored to 64-token units).

Same ``--calls`` and ``--seed`` give byte-identical files.
"""

from __future__ import annotations

import argparse
import heapq
import math
import os
import random
import sys
from datetime import UTC, datetime

import orjson

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from promptcache.measure import tokens as T

EPOCH = datetime(2026, 10, 1, tzinfo=UTC).timestamp()
DAYS = 30
USERS = 60

_BASE = ["the", "a", "of", "to", "and", "in", "is", "for", "that", "with", "on", "as", "be", "by", "this", "it", "are", "or", "from", "at", "an", "will", "not", "your", "you", "if", "when", "each", "must", "should", "only", "any", "all", "data", "user", "tool", "file", "value", "result", "request", "response", "order", "answer", "report", "table", "field", "format", "output", "input", "schema", "record", "account", "invoice", "customer", "policy", "document", "section", "summary", "context", "error", "retry", "step", "plan", "check", "return", "never", "always", "include", "exactly", "before", "after", "first", "last", "list", "item", "number", "date", "time", "name", "status", "code", "message"]


_SYL = [c + v for c in "bcdfghklmnprstvwz" for v in ("a", "e", "i", "o", "u", "er", "an", "on", "in")]


def _vocab(rng: random.Random, n: int = 3000) -> list[str]:
    words = list(_BASE)
    while len(words) < n:
        words.append("".join(rng.choices(_SYL, k=rng.choice((1, 2, 2, 3, 3, 4)))))
    return words


class Text:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.words = _vocab(rng)
        self.cum = list(_cum_zipf(len(self.words)))

    def words_n(self, n: int) -> str:
        w = self.rng.choices(self.words, cum_weights=self.cum, k=n)
        # sentences of ~14 words
        out = []
        for i in range(0, n, 14):
            s = " ".join(w[i:i + 14])
            out.append(s[:1].upper() + s[1:] + ".")
        return " ".join(out)

    def tokens(self, n: int) -> str:
        return self.words_n(max(1, int(n * 0.8)))  # ~1.25 tokens per word with this vocabulary


def _cum_zipf(n: int, s: float = 1.05):
    c = 0.0
    for i in range(1, n + 1):
        c += 1.0 / i ** s
        yield c


def _rid(rng: random.Random, n: int = 24) -> str:
    return "".join(rng.choices("0123456789abcdef", k=n))


def make_templates(rng: random.Random, text: Text, count: int, short: bool = False) -> list[dict]:
    kinds = ["chat"] * 4 if short else ["chat", "agent", "extract", "rag"]
    out = []
    lo, hi = (150, 600) if short else (2000, 20000)
    sizes = sorted(int(math.exp(rng.uniform(math.log(lo), math.log(hi)))) for _ in range(count))
    for t in range(count):
        kind = kinds[t % 4]
        size = sizes[t]
        rules = "\n".join(f"Rule {i + 1}: {text.tokens(rng.randint(12, 40))}" for i in range(size // 32))
        system = f"You are assistant #{t} of the {kind} service. {text.tokens(60)}\n\n{rules}"
        volatile = t % 8 == 5
        tools = None
        if kind == "agent":
            tools = []
            for j in range(rng.randint(5, 30)):
                props = {f"arg_{k}": {"type": rng.choice(["string", "integer", "boolean"]),
                                      "description": text.tokens(rng.randint(8, 30))} for k in range(rng.randint(1, 6))}
                tools.append({"type": "function", "function": {
                    "name": f"tool_{t}_{j}", "description": text.tokens(rng.randint(20, 120)),
                    "parameters": {"type": "object", "properties": props, "required": sorted(props)[:1]}}})
        out.append({"id": t, "kind": kind, "system": system, "tools": tools, "volatile": volatile,
                    "model": "deepseek-v4-flash" if t % 7 == 3 else "deepseek-v4-pro"})
    return out


def _rate(t: float) -> float:
    """Relative arrival rate at epoch t: a daily cycle (busy 08-20 UTC) and a weekly one."""
    dt = datetime.fromtimestamp(t, tz=UTC)
    hour = dt.hour + dt.minute / 60
    daily = 0.25 + 0.75 * max(0.0, math.sin(math.pi * (hour - 6) / 16)) if 6 <= hour <= 22 else 0.25
    weekly = 0.35 if dt.weekday() >= 5 else 1.0
    return daily * weekly


class Session:
    __slots__ = ("acc", "conv", "counted", "head", "messages", "model", "prev_prompt", "step", "steps", "t", "tpl", "user")

    def __init__(self, tpl: dict, user: str, conv: str, steps: int, t: float):
        self.tpl, self.user, self.conv, self.steps, self.step, self.t = tpl, user, conv, steps, 0, t
        self.messages: list[dict] = []
        self.prev_prompt = 0
        self.counted = 1
        self.acc = 0  # tokens of the rendered messages so far (without the generation prompt)
        self.head = 0
        self.model = tpl["model"]


class Generator:
    def __init__(self, calls: int, seed: int, templates: int = 24, short: bool = False):
        self.rng = random.Random(seed)
        self.text = Text(self.rng)
        self.short = short  # short chats only (~2 KB a line): the 2M-call memory figure
        self.templates = make_templates(self.rng, self.text, templates, short)
        self.tpl_cum = list(_cum_zipf(templates, 0.9))
        self.calls = calls
        self.tk = T.get_tokenizer("deepseek-v4")
        self.gen = 0
        self.counts: dict[str, int] = {}
        self.passages = [self.text.tokens(self.rng.randint(80, 300)) for _ in range(400)]
        self.gen = self._count(T.ASSISTANT + T.THINK_CLOSE)
        mean = self._mean_steps()
        accept = sum(_rate(EPOCH + 300 * i) for i in range(7 * 288)) / (7 * 288)
        self.session_rate = calls / mean / (DAYS * 86400) / accept
        self.seen_tpl: dict[tuple[str, int], float] = {}
        self.seq = 0

    def _steps(self, kind: str, rng: random.Random) -> int:
        if kind == "chat":
            return rng.randint(1, 4) if self.short else rng.randint(1, 10)
        if kind == "agent":
            return rng.randint(2, 16)
        return 1

    def _mean_steps(self) -> float:
        r = random.Random(1)
        w = [b - a for a, b in zip([0.0] + self.tpl_cum, self.tpl_cum)]
        tot = sum(w)
        return sum(wi / tot * sum(self._steps(t["kind"], r) for _ in range(200)) / 200
                   for wi, t in zip(w, self.templates))

    def _count(self, text: str) -> int:
        n = self.counts.get(text)
        if n is None:
            n = len(self.tk.encode(text))
            if len(self.counts) > 200_000:
                self.counts.clear()
            self.counts[text] = n
        return n

    def _piece(self, role: str, text: str, tool_calls: list | None = None) -> int:
        """Tokens of one message as DeepSeek's chat template renders it (``promptcache.measure.tokens``)."""
        if role == "user":
            return self._count(T.USER + text)
        if role == "tool":
            return self._count(T.TOOL_OUTPUT[0] + text + T.TOOL_OUTPUT[1])
        calls = T._tool_calls_deepseek(orjson.dumps(tool_calls).decode()) if tool_calls else ""
        return self._count(T.ASSISTANT + T.THINK_CLOSE + text + calls + T.EOS)

    def _head(self, tpl: dict, system: str) -> int:
        """Tokens of the first turn: BOS, the rendered tool list, the system prompt."""
        if not tpl["tools"]:
            return self._count(T.BOS + system)
        tools = T._tools_deepseek(orjson.dumps(tpl["tools"]).decode())
        return self._count(T.BOS + tools) + self._count(system)

    def _new_session(self, t: float) -> Session:
        rng = self.rng
        tpl = rng.choices(self.templates, cum_weights=self.tpl_cum)[0]
        user = f"u{int(rng.paretovariate(1.2)) % USERS:02d}"
        s = Session(tpl, user, f"c-{_rid(rng, 16)}", self._steps(tpl["kind"], rng), t)
        if tpl["kind"] == "agent" and rng.random() < 0.3:
            s.model = "deepseek-v4-flash"
        return s

    def _call(self, s: Session) -> dict:
        rng, text, tpl = self.rng, self.text, s.tpl
        when = datetime.fromtimestamp(s.t, tz=UTC)
        if s.step == 0:
            system = tpl["system"]
            if tpl["volatile"]:
                system = f"Current date and time: {when.strftime('%Y-%m-%d %H:%M')} UTC\n" + system
            s.messages = [{"role": "system", "content": system}]
            s.head = s.acc = self._head(tpl, system)
        kind = tpl["kind"]
        out_tool = None
        if kind == "extract":
            s.messages.append({"role": "user", "content": f"Document {_rid(rng, 8)}:\n{text.tokens(rng.randint(150, 1200))}"})
            answer = orjson.dumps({"vendor": text.words_n(2), "total": rng.randint(1, 99999) / 100,
                                   "id": _rid(rng, 12)}).decode()
        elif kind == "rag":
            docs = "\n\n".join(rng.choices(self.passages, k=rng.randint(3, 6)))
            s.messages.append({"role": "user", "content": f"Context:\n{docs}\n\nQuestion: {text.tokens(rng.randint(10, 60))}"})
            answer = text.tokens(rng.randint(40, 300))
        elif kind == "chat" and self.short:
            s.messages.append({"role": "user", "content": text.tokens(rng.randint(8, 40))})
            answer = text.tokens(rng.randint(20, 80))
        elif kind == "chat":
            s.messages.append({"role": "user", "content": text.tokens(rng.randint(8, 150))})
            answer = text.tokens(rng.randint(30, 400))
        else:  # agent
            if s.step == 0:
                s.messages.append({"role": "user", "content": f"Task {_rid(rng, 8)}: {text.tokens(rng.randint(20, 120))}"})
            last = s.step == s.steps - 1
            if last:
                answer = text.tokens(rng.randint(20, 200))
            else:
                fn = rng.choice(tpl["tools"])["function"]
                answer = ""
                out_tool = [{"id": f"call_{_rid(rng, 12)}", "type": "function",
                             "function": {"name": fn["name"], "arguments": orjson.dumps(
                                 {k: text.words_n(2) for k in fn["parameters"]["properties"]}).decode()}}]
        req = {"model": s.model, "messages": list(s.messages), "user": s.user}
        if tpl["tools"]:
            req["tools"] = tpl["tools"]
        for m in s.messages[s.counted:]:
            s.acc += self._piece(m["role"], m["content"], m.get("tool_calls"))
        s.counted = len(s.messages)
        prompt, head = s.acc + self.gen, s.head
        # what DeepSeek would report as a hit: the session's previous prompt, else the template head
        if s.prev_prompt and s.step > 0:
            hit = s.prev_prompt // 64 * 64
        elif (s.user, tpl["id"]) in self.seen_tpl and not tpl["volatile"] and s.t - self.seen_tpl[(s.user, tpl["id"])] < 6 * 3600:
            hit = head // 64 * 64
        else:
            hit = 0
        hit = min(hit, prompt)
        self.seen_tpl[(s.user, tpl["id"])] = s.t
        s.prev_prompt = prompt
        completion = self._count(answer) + (8 * len(out_tool) + len(out_tool[0]["function"]["arguments"]) // 4 if out_tool else 0)
        msg = {"role": "assistant", "content": answer}
        if out_tool:
            msg["tool_calls"] = out_tool
        self.seq += 1
        line = {
            "timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "latency_ms": 400 + completion * 12 + rng.randint(0, 1500),
            "user_id": s.user,
            "conversation_id": s.conv,
            "request": req,
            "response": {"id": f"chatcmpl-{self.seq}", "model": s.model,
                         "choices": [{"index": 0, "message": msg, "finish_reason": "tool_calls" if out_tool else "stop"}],
                         "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                                   "prompt_cache_hit_tokens": hit, "prompt_cache_miss_tokens": prompt - hit}},
        }
        # the next call of the session replays this one
        s.messages.append(msg)
        if out_tool:
            s.messages.append({"role": "tool", "tool_call_id": out_tool[0]["id"],
                               "content": f"{{\"ok\": true, \"id\": \"{_rid(rng, 12)}\", \"data\": \"{text.tokens(rng.randint(30, 400))}\"}}"})
        return line

    def lines(self):
        rng = self.rng
        heap: list[tuple[float, int, Session]] = []
        t = EPOCH
        n = 0
        k = 0
        next_arrival = t + rng.expovariate(self.session_rate)
        while n < self.calls:
            if not heap or next_arrival <= heap[0][0]:
                t = next_arrival
                next_arrival = t + rng.expovariate(self.session_rate)
                if rng.random() > _rate(t):  # thinning: daily and weekly cycle
                    continue
                s = self._new_session(t)
                k += 1
                heapq.heappush(heap, (t, k, s))
                continue
            _, _, s = heapq.heappop(heap)
            yield self._call(s)
            n += 1
            s.step += 1
            if s.step < s.steps:
                s.t += rng.uniform(2, 90)
                k += 1
                heapq.heappush(heap, (s.t, k, s))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--templates", type=int, default=24)
    ap.add_argument("--short", action="store_true",
                    help="short chats only (system prompts of 150-600 tokens, 1-4 short turns; ~2 KB a line)")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args(argv)
    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
    g = Generator(a.calls, a.seed, a.templates, a.short)
    tmp = a.output + ".part"
    with open(tmp, "wb", buffering=1 << 20) as f:
        for line in g.lines():
            f.write(orjson.dumps(line))
            f.write(b"\n")
    os.replace(tmp, a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
