"""Benchmark: T2T-Sim corpus generation speed, one process vs several.

Generates the same windows with ``num_proc=1`` and ``num_proc=N`` (default 2),
checks they are identical, and prints windows/s for each and the speed-up ratio,
plus the projected time for the paper-sized corpus of 40,000 windows.

    python benchmarks/corpus_generation.py --windows 2400 --procs 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from t2t_hf.data.sim import generate_examples  # noqa: E402


def run(n: int, seed: int, procs: int) -> tuple[float, float, list]:
    """Wall seconds, CPU seconds (this process and its finished workers) and the examples."""
    c0 = os.times()
    t = time.perf_counter()
    ex = list(generate_examples(n, seed=seed, num_proc=procs))
    wall = time.perf_counter() - t
    c1 = os.times()
    cpu = (c1.user + c1.system + c1.children_user + c1.children_system) - (c0.user + c0.system + c0.children_user
                                                                           + c0.children_system)
    return wall, cpu, ex


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=2400, help="windows per run (default 2400 = 200 sessions)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--procs", type=int, default=2)
    args = ap.parse_args()
    t1, c1, e1 = run(args.windows, args.seed, 1)
    tn, cn, en = run(args.windows, args.seed, args.procs)
    same = len(e1) == len(en) and all(a["id"] == b["id"] and a["caption"] == b["caption"]
                                      and np.array_equal(a["size"], b["size"]) and np.array_equal(a["time"], b["time"])
                                      for a, b in zip(e1, en))
    pk = sum(len(e["size"]) for e in e1)
    r1, rn = args.windows / t1, args.windows / tn
    print(f"windows: {args.windows} (packets: {pk:,}, {pk / args.windows:.0f} per window)")
    print(f"num_proc=1: {t1:.1f} s wall, {c1:.1f} CPU s, {r1:.1f} windows/s")
    print(f"num_proc={args.procs}: {tn:.1f} s wall, {cn:.1f} CPU s, {rn:.1f} windows/s")
    print(f"load average during the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(other work on the machine slows the wall-clock numbers)")
    print(f"ratio num_proc={args.procs} / num_proc=1: {rn / r1:.2f}x; identical output: {same}")
    print(f"projected 40,000 windows (wall clock as measured): {40000 / r1 / 60:.1f} min with 1 process, "
          f"{40000 / rn / 60:.1f} min with {args.procs}")
    cpu_per_window = cn / args.windows
    print(f"CPU cost: {1 / cpu_per_window:.0f} windows per CPU-second; 40,000 windows = {40000 * cpu_per_window / 60:.1f} "
          f"CPU-minutes, {40000 * cpu_per_window / 60 / args.procs:.1f} min on {args.procs} otherwise idle cores")


if __name__ == "__main__":
    main()
