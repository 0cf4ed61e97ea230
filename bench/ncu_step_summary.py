"""GPU time per kernel of one decode step, from `ncu --csv --metrics gpu__time_duration.sum` output.

usage: python3 bench/ncu_step_summary.py NCU_CSV STEPS
Prints, per kernel (templates shortened), launches and microseconds per step and the share of the step.
"""
import csv
import re
import sys
from collections import defaultdict


def short(name: str) -> str:
    name = re.sub(r"\(.*", "", name)  # drop the argument list
    name = re.sub(r"qbench::cuda::(\(anonymous namespace\)::)?", "", name)
    return name[:70]


def main() -> None:
    path, steps = sys.argv[1], float(sys.argv[2])
    lines = [l for l in open(path, encoding="utf-8", errors="replace") if l.startswith('"')]
    rows = list(csv.DictReader(lines))
    t = defaultdict(float)
    c = defaultdict(int)
    for r in rows:
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        k = short(r["Kernel Name"])
        t[k] += float(r["Metric Value"].replace(",", ""))  # ns
        c[k] += 1
    total = sum(t.values())
    if not total:
        print("no kernels profiled")
        return
    print(f"{'kernel':70s} {'launch/step':>11s} {'us/step':>9s} {'share':>6s}")
    for k in sorted(t, key=t.get, reverse=True):
        print(f"{k:70s} {c[k] / steps:11.1f} {t[k] / steps / 1e3:9.1f} {100 * t[k] / total:5.1f}%")
    print(f"{'total GPU time':70s} {sum(c.values()) / steps:11.1f} {total / steps / 1e3:9.1f}")


if __name__ == "__main__":
    main()
