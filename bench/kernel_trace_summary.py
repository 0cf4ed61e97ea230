"""Where a graph-replayed decode step's time goes, from a kernel trace (bench/cuda_kernel_trace.cpp).

usage: python3 bench/kernel_trace_summary.py TRACE.csv [--skip N] [--timeline FIRST:LAST]

The step graph is the graph with the most kernel records; its replays are cut from them in start order (every
node once per replay). Kernels of a step overlap (programmatic dependent launch lets the next one start while
its predecessor finishes), so per kernel this prints, besides its duration, its *exclusive* time: how far it
moved the step's frontier (the latest end so far) beyond where its predecessors had left it. Exclusive times
plus the idle gaps add up to the step. Kernels are told apart by name, grid and block size (the int4 GEMV of
q/k/v and the one of o differ in grid).
--timeline FIRST:LAST lists kernels FIRST..LAST of the median step one by one (start, duration, exclusive,
overlap with the frontier).
"""
import argparse
import csv
import re
import statistics
from collections import defaultdict


def short(name: str) -> str:
    name = re.sub(r"qbench::cuda::(\(anonymous namespace\)::)?", "", name)
    name = re.sub(r"\(.*", "", name)  # drop the argument list
    name = re.sub(r"^void ", "", name)
    return name[:60]


def load(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in ("start_ns", "end_ns", "graph_id", "node_id", "grid_x", "grid_y", "grid_z", "block_x"):
            r[k] = int(r[k])
        r["key"] = f"{short(r['name'])} [{r['grid_x']}x{r['grid_y']}x{r['grid_z']}, {r['block_x']}]"
    return rows


def replays_of(rows):
    """The step graph's replays in time order. A decode step alternates between graphs of the same shape (one
    per staging half, launch_queue.cu), so every graph with as many nodes as the most replayed one counts."""
    counts, nodes = defaultdict(int), defaultdict(set)
    for r in rows:
        if r["graph_id"]:
            counts[r["graph_id"]] += 1
            nodes[r["graph_id"]].add(r["node_id"])
    if not counts:
        raise SystemExit("no graph-launched kernels in the trace (graphs off?)")
    top = max(counts, key=counts.get)
    n = len(nodes[top])
    gids = sorted(g for g in counts if len(nodes[g]) == n)
    recs = sorted((r for r in rows if r["graph_id"] in gids), key=lambda r: r["start_ns"])
    out, bad, i = [], 0, 0
    while i + n <= len(recs):
        chunk = recs[i:i + n]
        g = chunk[0]["graph_id"]
        if all(r["graph_id"] == g for r in chunk) and {r["node_id"] for r in chunk} == nodes[g]:
            out.append(chunk)
            i += n
        else:
            bad += 1
            i += 1
    return gids, n, out, bad


def walk(step):
    """Per kernel (in start order): (record, idle gap before it, exclusive time, overlap with the frontier)."""
    frontier = step[0]["start_ns"]
    out = []
    for r in step:
        gap = max(0, r["start_ns"] - frontier)
        excl = max(0, r["end_ns"] - max(r["start_ns"], frontier))
        overlap = max(0, frontier - r["start_ns"])
        out.append((r, gap, excl, overlap))
        frontier = max(frontier, r["end_ns"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--skip", type=int, default=2, help="first replays left out (warm-up)")
    ap.add_argument("--timeline", default="", help="FIRST:LAST kernels of the median step, one by one")
    args = ap.parse_args()
    gid, n, steps, bad = replays_of(load(args.trace))
    steps = steps[args.skip:]
    if not steps:
        raise SystemExit(f"graph {gid}: {n} kernels per replay, no complete replay after the first {args.skip}")
    spans = [max(r["end_ns"] for r in s) - s[0]["start_ns"] for s in steps]
    q = statistics.quantiles(spans, n=10) if len(spans) >= 2 else [spans[0]] * 9
    print(f"graphs {','.join(map(str, gid))}: {n} kernels per step, {len(steps)} steps analysed "
          f"({bad} records out of step)")
    print(f"step span (first kernel's start to last kernel's end): median {statistics.median(spans) / 1e3:.1f} us, "
          f"p10 {q[0] / 1e3:.1f}, p90 {q[-1] / 1e3:.1f}")
    # From one step's last kernel to the next one's first: the host's turn (sync, build, launch) when steps
    # follow each other directly; other work in between (a non-graph kernel) makes it larger.
    between = [b[0]["start_ns"] - max(r["end_ns"] for r in a) for a, b in zip(steps, steps[1:])]
    if between:
        print(f"between steps (last kernel's end to the next step's first start): median "
              f"{statistics.median(between) / 1e3:.1f} us")

    dur, excl, idle, cnt = (defaultdict(list) for _ in range(4))
    order = {}
    gaps = []
    for s in steps:
        d, e, g, c = defaultdict(float), defaultdict(float), defaultdict(float), defaultdict(int)
        total_gap = 0
        for i, (r, gap, ex, _) in enumerate(walk(s)):
            k = r["key"]
            order.setdefault(k, i)
            d[k] += r["end_ns"] - r["start_ns"]
            e[k] += ex
            g[k] += gap
            c[k] += 1
            total_gap += gap
        gaps.append(total_gap)
        for k in d:
            dur[k].append(d[k])
            excl[k].append(e[k])
            idle[k].append(g[k])
            cnt[k].append(c[k])
    span = statistics.median(spans)
    print(f"idle (no kernel running) per step: median {statistics.median(gaps) / 1e3:.1f} us")
    print()
    print(f"{'kernel [grid, block]':76s} {'n/step':>6s} {'us each':>8s} {'busy us':>8s} {'excl us':>8s} "
          f"{'share':>6s} {'idle before':>11s}")
    for k in sorted(excl, key=lambda k: -statistics.median(excl[k])):
        c = statistics.median(cnt[k])
        md = statistics.median(dur[k])
        me = statistics.median(excl[k])
        print(f"{k:76s} {c:6.0f} {md / c / 1e3:8.2f} {md / 1e3:8.1f} {me / 1e3:8.1f} {100 * me / span:5.1f}% "
              f"{statistics.median(idle[k]) / 1e3:11.1f}")

    if args.timeline:
        first, last = (int(x) for x in args.timeline.split(":"))
        mid = sorted(range(len(steps)), key=lambda i: spans[i])[len(steps) // 2]
        s = steps[mid]
        t0 = s[0]["start_ns"]
        print()
        print(f"kernels {first}..{last} of the median step (us from its start)")
        print(f"{'#':>4s} {'start':>8s} {'dur':>7s} {'excl':>7s} {'overlap':>7s} {'gap':>6s}  kernel")
        for i, (r, gap, ex, ov) in enumerate(walk(s)):
            if first <= i <= last:
                print(f"{i:4d} {(r['start_ns'] - t0) / 1e3:8.2f} {(r['end_ns'] - r['start_ns']) / 1e3:7.2f} "
                      f"{ex / 1e3:7.2f} {ov / 1e3:7.2f} {gap / 1e3:6.2f}  {r['key']}")


if __name__ == "__main__":
    main()
