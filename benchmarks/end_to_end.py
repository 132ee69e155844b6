"""End to end: `t2t caption` on a one-hour, ~1.1-million-packet phone capture, time per stage.

The capture is generated with T2T-Sim (one hour of a phone on Wi-Fi that starts in Netflix and moves between
apps as the simulated user does; seed fixed, 1,104,425 packets, full frames about 1.1 GB, written into a
temporary folder and deleted afterwards; ``--snaplen 96`` writes headers only, as `tcpdump -s 96` would). The
stages are the ones `t2t caption` runs:

    reading     read_capture(path)                      pcap bytes -> PacketTable
    windows     make_windows(table, window=10)          device detection, flows, per-device 10 s windows
    features    feature_extractor(windows)              windows -> input tensors
    generation  pipeline(features): encoder + greedy generate + caption scores + app-type head + decoding

then the whole command, ``t2t caption FILE --format json -o OUT`` in this process (imports already warm; the model
loads inside), and with ``--cold`` also as a fresh process (imports, model load, numba cache).

The model is hub/models/t2t-small when it has been trained (or ``--model``). Without one the benchmark builds an
UNTRAINED model of the t2t-small configuration (random weights: the speed is the same, the captions are not) and
forces every caption to exactly ``--tokens`` new tokens so the generation time does not depend on when a random
model stops. The goal is <= 20 s for the whole command on 2 cores.

Usage:
    python benchmarks/end_to_end.py                 # 2 threads
    python benchmarks/end_to_end.py --snaplen 96 --cold --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: the capture: (seed, user, environment, first app, seconds) -> 1,104,425 packets
CAPTURE = dict(seed=1, user="user01", environment="wifi", app="Netflix", duration=3600.0)


def make_capture(path: Path, snaplen: int) -> tuple[int, str, float]:
    """Write the one-hour T2T-Sim capture; returns (packets, phone address, seconds spent)."""
    from t2t_hf.data.sim import generate_session

    t0 = time.perf_counter()
    s = generate_session(**CAPTURE)
    if snaplen:
        from t2t_hf.data.sim.pcap_writer import build_pcap

        path.write_bytes(_truncate(build_pcap(s), snaplen))
    else:
        s.write_pcap(path)
    return len(s.raw), s.device, time.perf_counter() - t0


def _truncate(data: bytes, snaplen: int) -> bytes:
    """Cut every record of a little-endian classic pcap to ``snaplen`` captured bytes."""
    import struct

    out = bytearray(data[:24])
    struct.pack_into("<I", out, 16, snaplen)
    mv = memoryview(data)
    o, n = 24, len(data)
    while o + 16 <= n:
        ts, us, incl, orig = struct.unpack_from("<IIII", data, o)
        keep = min(incl, snaplen)
        out += struct.pack("<IIII", ts, us, keep, orig)
        out += mv[o + 16:o + 16 + keep]
        o += 16 + incl
    return bytes(out)


def untrained_small(folder: Path, tokens: int) -> dict:
    """An UNTRAINED t2t-small-sized model folder (random weights; for timing only) whose generation config forces
    every caption to ``tokens`` new tokens. Returns extra generate kwargs (none)."""
    import torch

    from t2t_hf.configuration_t2t import T2TConfig
    from t2t_hf.data.sim import generate_examples
    from t2t_hf.feature_extraction_t2t import T2TFeatureExtractor
    from t2t_hf.modeling_t2t import T2TForTrafficCaptioning
    from t2t_hf.processing_t2t import T2TProcessor
    from t2t_hf.tokenization_t2t import train_caption_tokenizer
    from t2t_hf.traffic.window import Window

    examples = list(generate_examples(num_windows=120, seed=0))
    tok = train_caption_tokenizer([e["caption"] for e in examples], vocab_size=2000)
    config = T2TConfig.small(vocab_size=len(tok))
    fe = T2TFeatureExtractor(max_packets=config.max_packets, num_time_bins=config.num_time_bins,
                             max_flows=config.max_flows)
    fe.fit([Window.from_dict(e) for e in examples])
    torch.manual_seed(0)
    model = T2TForTrafficCaptioning(config).eval()
    # every caption exactly `tokens` long, also inside `t2t caption` (which reads the generation config)
    model.generation_config.min_new_tokens = tokens
    model.generation_config.max_new_tokens = tokens
    model.save_pretrained(folder)
    T2TProcessor(fe, tok).save_pretrained(folder)
    return {}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2, help="torch/numba threads (default 2)")
    ap.add_argument("--model", default=None, help="model folder (default: hub/models/t2t-small if trained)")
    ap.add_argument("--snaplen", type=int, default=0, help="bytes kept per frame (default 0: full frames)")
    ap.add_argument("--batch-size", type=int, default=64, help="windows per forward pass (default 64)")
    ap.add_argument("--tokens", type=int, default=15, help="forced caption length for an untrained model")
    ap.add_argument("--cold", action="store_true", help="also time `t2t caption` as a fresh process")
    ap.add_argument("--keep", default=None, help="keep the capture at this path instead of deleting it")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()

    from t2t_hf import cli
    from t2t_hf.report import DEFAULT_MODEL_DIR, load_captioner
    from t2t_hf.traffic import make_windows, read_capture

    tmp = Path(tempfile.mkdtemp(prefix="t2t-e2e-"))
    try:
        model = args.model or (str(DEFAULT_MODEL_DIR) if (DEFAULT_MODEL_DIR / "config.json").exists() else None)
        gen: dict = {}
        untrained = model is None
        if untrained:
            model = str(tmp / "untrained-small")
            gen = untrained_small(Path(model), args.tokens)
            print(f"model: UNTRAINED t2t-small configuration (random weights, {args.tokens} tokens forced per "
                  "caption) - no trained hub/models/t2t-small here")
        else:
            print(f"model: {model}")
        capture = tmp / "phone-1h.pcap"
        n, phone, t_gen = make_capture(capture, args.snaplen)
        size = capture.stat().st_size
        print(f"capture: {n:,} packets, {CAPTURE['duration']:.0f} s, phone {phone}, {size / 1e6:,.0f} MB "
              f"({'full frames' if not args.snaplen else f'snaplen {args.snaplen}'}), generated in {t_gen:.1f} s")
        print(f"threads: {args.threads}, batch size {args.batch_size}, CPUs {os.cpu_count()}, load average "
              f"{os.getloadavg()[0]:.1f} (other work on the machine slows every stage)")

        captioner = load_captioner(model, device="cpu" if not torch.cuda.is_available() else None)
        # warm-up on a small capture: numba kernels (cached on disk after the first run) and torch
        from t2t_hf.data.sim import generate_session

        warm = tmp / "warm.pcap"
        generate_session(0, "user01", "wifi", app="Chrome", duration=20.0).write_pcap(warm)
        captioner(str(warm), batch_size=args.batch_size, **gen)

        stages, cpu = {}, {}

        def timed(name, fn):
            w, c = time.perf_counter(), time.process_time()
            value = fn()
            stages[name], cpu[name] = time.perf_counter() - w, time.process_time() - c
            return value

        table = timed("reading", lambda: read_capture(capture))
        windows = timed("windows", lambda: make_windows(table, window=10.0))
        feats = timed("features", lambda: captioner.feature_extractor(windows, return_tensors="pt"))
        segs = timed("generation", lambda: captioner(feats, batch_size=args.batch_size, **gen))
        total, total_cpu = sum(stages.values()), sum(cpu.values())
        devices = sorted({w.device for w in windows})
        print(f"\n{len(table):,} IP packets -> {len(windows):,} windows of 10 s ({len(devices)} device(s)) -> "
              f"{len(segs):,} captions")
        print("wall: elapsed seconds; CPU: seconds of CPU this process used (all its threads). On a busy machine wall")
        print(f"time grows with the load while CPU time barely does: on {args.threads} idle cores a stage's wall time "
              f"lies between CPU / {args.threads} and CPU.")
        print(f"{'stage':<12}{'wall s':>8}{'CPU s':>8}{'share':>7}   rate (wall)")
        rates = {"reading": f"{len(table) / stages['reading'] / 1e6:.2f} M packets/s",
                 "windows": f"{len(table) / stages['windows'] / 1e6:.2f} M packets/s",
                 "features": f"{len(windows) / stages['features']:,.0f} windows/s",
                 "generation": f"{len(windows) / stages['generation']:,.0f} windows/s"}
        for k, v in stages.items():
            print(f"{k:<12}{v:>8.2f}{cpu[k]:>8.2f}{v / total:>7.0%}   {rates[k]}")
        print(f"{'sum':<12}{total:>8.2f}{total_cpu:>8.2f}")
        print(f"load average after the stages: {os.getloadavg()[0]:.1f}")

        out = tmp / "captions.json"
        argv = ["caption", str(capture), "--format", "json", "-o", str(out), "--model", model,
                "--batch-size", str(args.batch_size)]
        t, c = time.perf_counter(), time.process_time()
        rc = cli.main(argv)
        whole, whole_cpu = time.perf_counter() - t, time.process_time() - c
        assert rc == 0, rc
        n_out = len(json.loads(out.read_text()))
        print(f"\nt2t caption (this process, warm imports): {whole:.2f} s wall, {whole_cpu:.2f} s CPU for {n_out:,} "
              f"captions (goal <= 20 s wall on 2 idle cores: {'met' if whole <= 20 else 'NOT met'} here); "
              f"stage sum / command = {total / whole:.2f}")
        if args.cold:
            import subprocess

            t = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "t2t_hf.cli", *argv], capture_output=True, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
            cold = time.perf_counter() - t
            assert r.returncode == 0, r.stderr
            print(f"t2t caption (fresh process: imports + model load + run): {cold:.2f} s; "
                  f"cold / warm = {cold / whole:.2f}")
        if args.keep:
            shutil.copy(capture, args.keep)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
