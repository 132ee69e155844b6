"""The ``t2t`` command line.

Exit codes: 0 success, 1 bad input (a clear one-line message on stderr), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .errors import T2TInputError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = os.environ.get("T2T_MODEL", str(REPO_ROOT / "hub" / "models" / "t2t-small"))


def _cmd_info(args: argparse.Namespace) -> int:
    """Summarise a capture: records, IP rows, non-IP reasons, devices, windows."""
    from .traffic import detect_devices, make_windows, read_capture

    table = read_capture(args.file, decapsulate=args.decapsulate, on_error="warn")
    devices = detect_devices(table)
    wins = make_windows(table, window=args.window, device=args.device) if len(table) else []
    import numpy as np

    t = table.timestamp[~np.isnan(table.timestamp)]
    info = {
        "file": str(args.file), "records": table.stats.get("records", 0), "ip_packets": len(table),
        "non_ip": table.stats.get("non_ip", {}), "truncated": table.stats.get("truncated", False),
        "duration_s": float(t.max() - t.min()) if t.size else 0.0, "devices": devices,
        "windows": len(wins), "idle_windows": sum(w.is_idle for w in wins),
    }
    print(json.dumps(info, indent=2))
    return 0


def _cmd_caption(args: argparse.Namespace) -> int:
    model_dir = Path(args.model)
    if model_dir.exists() and not (model_dir / "config.json").exists():
        print(f"t2t: no trained model at {model_dir} yet (config.json missing). Train one with "
              "`accelerate launch training/train.py --config training/configs/t2t-small.yaml`, or pass --model. "
              "Capture summary instead:", file=sys.stderr)
        args.decapsulate = False
        return _cmd_info(args)
    if not model_dir.exists() and not args.model.count("/") == 1:
        raise T2TInputError(f"model {args.model!r} not found; pass --model with a model folder or Hub id")
    from . import models_registry

    models_registry.register()
    from transformers import pipeline

    captioner = pipeline("traffic-captioning", model=args.model)
    kwargs = {"window": args.window}
    if args.device:
        kwargs["device_filter"] = args.device
    segments = captioner(str(args.file), **kwargs)
    _print_segments(segments, args.format)
    return 0


def _fmt_srt_time(sec: float) -> str:
    ms = int(round(sec * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def _print_segments(segments: list[dict], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(segments, indent=2, default=float))
    elif fmt == "csv":
        import csv

        w = csv.writer(sys.stdout)
        w.writerow(["start", "end", "device", "app_type", "score", "caption"])
        for s in segments:
            w.writerow([f"{s['start']:.3f}", f"{s['end']:.3f}", s.get("device", ""), s.get("app_type", ""),
                        f"{s.get('score', 0.0):.4f}", s["caption"]])
    elif fmt == "srt":
        t0 = min((s["start"] for s in segments), default=0.0)
        for i, s in enumerate(segments, 1):
            print(i)
            print(f"{_fmt_srt_time(s['start'] - t0)} --> {_fmt_srt_time(s['end'] - t0)}")
            print(f"[{s.get('device', '')}] {s['caption']}")
            print()
    else:
        for s in segments:
            print(f"{s['start']:.1f}-{s['end']:.1f}s {s.get('device', '')} [{s.get('app_type', '')} "
                  f"{s.get('score', 0.0):.2f}] {s['caption']}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="t2t", description="Captions of smartphone activity from encrypted traffic.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("caption", help="caption a pcap/pcapng capture, one caption per device and window")
    c.add_argument("file", type=Path, help="capture file (.pcap, .pcapng, optionally gzip-compressed)")
    c.add_argument("--device", help="caption only this device IP (default: detect client devices)")
    c.add_argument("--window", type=float, default=10.0, help="window length in seconds (default 10)")
    c.add_argument("--format", choices=["text", "json", "srt", "csv"], default="text", help="output format")
    c.add_argument("--model", default=DEFAULT_MODEL, help="model folder or Hub id (default: hub/models/t2t-small "
                   "or $T2T_MODEL)")
    c.set_defaults(func=_cmd_caption)

    i = sub.add_parser("info", help="summarise a capture: packets, non-IP frames, devices, windows")
    i.add_argument("file", type=Path, help="capture file")
    i.add_argument("--device", help="device IP (default: detect)")
    i.add_argument("--window", type=float, default=10.0, help="window length in seconds (default 10)")
    i.add_argument("--decapsulate", action="store_true", help="describe the innermost IP header of tunnels")
    i.set_defaults(func=_cmd_info)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except T2TInputError as e:
        print(f"t2t: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
