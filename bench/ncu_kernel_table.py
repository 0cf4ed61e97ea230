"""One line per profiled kernel from Nsight Compute's text report (`ncu --set full ...` printed to a file).

usage: python3 bench/ncu_kernel_table.py NCU_TEXT_REPORT

Prints, per kernel launch in report order: grid, duration, DRAM throughput, issue slots busy, active and eligible
warps per scheduler, cycles between a warp's issued instructions and how many of them it waited on L1TEX, issued
instructions and achieved warps per SM: the numbers docs/benchmarks-h100.md's int4 GEMV table is built from.
A metric the report lacks prints as "-".
"""
import re
import sys

# (column, metric name as ncu prints it)
METRICS = [
    ("us", "Duration"),
    ("DRAM %", "DRAM Throughput"),
    ("issue %", "Issue Slots Busy"),
    ("active/sched", "Active Warps Per Scheduler"),
    ("eligible/sched", "Eligible Warps Per Scheduler"),
    ("cyc/issue", "Warp Cycles Per Issued Instruction"),
    ("issued inst", "Issued Instructions"),
    ("warps/SM", "Achieved Active Warps Per SM"),
]
KERNEL = re.compile(r"^  (\S.*?) \((\d+), (\d+), (\d+)\)x\((\d+), (\d+), (\d+)\), Context")
L1TEX = re.compile(r"spends ([\d.]+) cycles being stalled waiting for a scoreboard dependency")


def parse(lines):
    kernels = []
    for line in lines:
        m = KERNEL.match(line)
        if m:
            name = re.sub(r"\(.*", "", m.group(1))
            kernels.append({"name": name[-40:], "grid": f"{m.group(2)}x{m.group(3)}x{m.group(4)}"})
            continue
        if not kernels:
            continue
        k = kernels[-1]
        for col, metric in METRICS:
            # "    Duration                         us        11.42"
            mm = re.match(rf"^\s+{re.escape(metric)}\s+(\S+\s+)?([\d,.]+)\s*$", line)
            if mm and col not in k:
                k[col] = mm.group(2).replace(",", "")
        mm = L1TEX.search(line)
        if mm and "L1TEX cyc" not in k:
            k["L1TEX cyc"] = mm.group(1)
    return kernels


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        kernels = parse(f)
    if not kernels:
        sys.exit(f"{sys.argv[1]}: no kernel sections (is it ncu's text report?)")
    cols = ["name", "grid"] + [c for c, _ in METRICS] + ["L1TEX cyc"]
    print(" | ".join(cols))
    for k in kernels:
        print(" | ".join(k.get(c, "-") for c in cols))


if __name__ == "__main__":
    main()
