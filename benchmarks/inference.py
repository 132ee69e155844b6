"""Windows captioned per second on CPU by the t2t-small configuration.

Compares, in one run: greedy vs beam search (3 beams), each with and without the KV cache, plus the feature
extractor alone and greedy end to end (features + generation). Every caption is forced to exactly
``--tokens`` new tokens (min_new_tokens = max_new_tokens), so the numbers do not depend on when an untrained
model would stop. Weights are random (speed does not depend on them); windows are synthetic traffic windows with
10-400 packets (seeded), so the benchmark needs no data.

Runs once per torch thread count in ``--threads`` (default "1,2"): on a shared, busy machine two OpenMP threads
can be much slower than one (threads wait on each other), so both are shown, with the load average.

Usage:
    python benchmarks/inference.py                 # threads 1 and 2, 256 windows, batch 64, 15 tokens
    python benchmarks/inference.py --threads 2 --windows 512 --batch-size 64 --tokens 15
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from t2t_hf.configuration_t2t import T2TConfig
from t2t_hf.feature_extraction_t2t import T2TFeatureExtractor
from t2t_hf.modeling_t2t import T2TForTrafficCaptioning


class _Window:  # duck-typed traffic window (the feature extractor accepts any object with these arrays)
    def __init__(self, time, size, protocol, flow):
        self.start, self.end = 0.0, 10.0
        self.time, self.size, self.protocol, self.flow, self.new_flow = time, size, protocol, flow, None


def synthetic_windows(n: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(10, 400))
        out.append(_Window(np.sort(rng.uniform(0, 10, k)), rng.integers(-1500, 1500, k).astype(np.int32),
                           rng.choice([6, 17], k).astype(np.uint8), rng.integers(0, 8, k).astype(np.int32)))
    return out


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2", help="comma-separated torch thread counts to run")
    ap.add_argument("--windows", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=15)
    ap.add_argument("--vocab-size", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    for threads in [int(t) for t in str(args.threads).split(",") if t.strip()]:
        bench(args, threads)


def bench(args, threads: int) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    config = T2TConfig.small(vocab_size=args.vocab_size)
    model = T2TForTrafficCaptioning(config).eval()
    fe = T2TFeatureExtractor(max_packets=config.max_packets, num_time_bins=config.num_time_bins,
                             max_flows=config.max_flows)
    windows = synthetic_windows(args.windows)
    n_params = sum(p.numel() for p in model.parameters())
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nt2t-small: {n_params / 1e6:.2f} M parameters (vocab {args.vocab_size}), {threads} torch thread(s) on "
          f"{os.cpu_count()} CPUs (load average {load:.1f}), {args.windows} windows, batch {args.batch_size}, "
          f"{args.tokens} tokens per caption")

    batches = [fe(windows[i: i + args.batch_size], return_tensors="pt")
               for i in range(0, len(windows), args.batch_size)]

    def run(num_beams: int, use_cache: bool, with_features: bool = False):
        def go():
            with torch.inference_mode():
                for i, b in enumerate(batches):
                    if with_features:
                        b = fe(windows[i * args.batch_size: (i + 1) * args.batch_size], return_tensors="pt")
                    model.generate(**b, num_beams=num_beams, do_sample=False, use_cache=use_cache,
                                   min_new_tokens=args.tokens, max_new_tokens=args.tokens)
        return go

    results = {}
    results["features only"] = args.windows / timed(lambda: fe(windows, return_tensors="pt"), args.repeats)
    for name, beams, cache in (("greedy, cache", 1, True), ("greedy, no cache", 1, False),
                               ("beam 3, cache", 3, True), ("beam 3, no cache", 3, False)):
        results[name] = args.windows / timed(run(beams, cache), args.repeats)
    results["greedy, cache, with features"] = args.windows / timed(run(1, True, True), args.repeats)

    print(f"{'setting':32s} {'windows/s':>10s}")
    for name, rate in results.items():
        print(f"{name:32s} {rate:10.1f}")
    g, gn, b, bn = (results[k] for k in ("greedy, cache", "greedy, no cache", "beam 3, cache", "beam 3, no cache"))
    print("ratios:")
    print(f"  greedy: cache / no cache       = {g / gn:.2f}x")
    print(f"  beam 3: cache / no cache       = {b / bn:.2f}x")
    print(f"  cache:  greedy / beam 3        = {g / b:.2f}x")
    print(f"  greedy end to end / model only = {results['greedy, cache, with features'] / g:.2f}x")
    goal = 200.0
    print(f"goal >= {goal:.0f} windows/s greedy (cache, model only): {'met' if g >= goal else 'NOT met'} ({g:.1f}); "
          f"load average now {os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan'):.1f}")


if __name__ == "__main__":
    main()
