"""The figures trace authors publish, reproduced: ``python benchmarks/trace_figures.py PATH...``

Per file: the ideal (unlimited, never-expiring) prefix-cache hit ratio, token-weighted. Over the
conversations (WEKA sessions, sub-agents excluded): the distribution of the consecutive-request
prefix overlap, the figure the WEKA README publishes. See docs/traces.md.
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """``python benchmarks/trace_figures.py PATH...``: the trace figures (see docs/traces.md)."""
    import statistics
    import sys
    from collections import defaultdict

    from promptcache.read.reader import read_logs
    from promptcache.read.traces import EPOCH, consecutive_overlap
    from promptcache.simulate.ideal import ideal_hits

    paths = argv if argv is not None else sys.argv[1:]
    reader = read_logs(paths)
    by_conv: dict[str, list] = defaultdict(list)
    by_file: dict[str, list] = defaultdict(list)
    for call in reader:
        by_file[call.source].append(call)
        if call.conversation_id:
            by_conv[call.conversation_id].append(call)
    for src, calls in by_file.items():
        h, t = ideal_hits(sorted(calls, key=lambda c: (c.timestamp or EPOCH, c.line)))
        print(f"{src}: {len(calls)} requests, ideal (unlimited) prefix-cache hit ratio {h / t:.3f}" if t else src)
    ratios = []
    for cid, calls in by_conv.items():
        if "/" in cid:
            continue  # sub-agents: the published conversation-only figure is per main session
        h, t = consecutive_overlap(calls)
        if t:
            ratios.append(h / t)
    if ratios:
        q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        print(f"conversations: {len(ratios)}; consecutive-request overlap: min {min(ratios):.0%} P25 {q[0]:.0%} "
              f"median {statistics.median(ratios):.0%} P75 {q[2]:.0%} max {max(ratios):.0%} "
              f"mean {statistics.mean(ratios):.0%}")
    print(f"lines {reader.stats.lines} = calls {reader.stats.calls} + skipped {reader.stats.skipped_lines}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
