"""The ``t2t`` command line.

    t2t caption FILE [--device IP] [--window SECONDS] [--format text|json|srt|csv] [--output FILE]
    t2t info FILE
    t2t live --interface IFACE [--bpf FILTER] [--window SECONDS] [--duration SECONDS] [--format text|json|csv]
    t2t dataset generate --windows N --seed S --out DIR      (the T2T-Sim corpus folder: parquet + card)
    t2t dataset simulate --sessions N --duration S --out DIR (T2T-Sim captures: pcap + caption JSONL)
    t2t dataset from-captures CAPTURE... --out FILE          (your captures + caption files -> parquet/JSONL)
    t2t annotate --video REC.mp4 --pcap CAP.pcap ...         (captions from a screen recording, for the corpus)

Exit codes: 0 success, 1 bad input (a clear one-line message on stderr), 2 usage error, 130 interrupted (Ctrl-C),
143 terminated (SIGTERM: ``t2t live`` stops cleanly, its capture program with it).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import signal
import sys
import threading
from pathlib import Path

from .errors import T2TInputError
from .fileio import atomic_path, atomic_write

REPO_ROOT = Path(__file__).resolve().parents[1]
FORMATS = ("text", "json", "srt", "csv")
CSV_COLUMNS = ["start", "end", "device", "app_type", "score", "caption"]


# -- argument types (a bad value is a usage error: exit 2) ------------------------------------------------------
def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return v


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return v


def _nonneg_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return v


def _default_model_help() -> str:
    return "model folder or Hub id (default: $T2T_MODEL, else hub/models/t2t-small)"


# -- output formats ----------------------------------------------------------------------------------------------
def _fmt_srt_time(sec: float) -> str:
    ms = max(0, int(round(sec * 1000)))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def _jsonable(seg: dict) -> dict:
    return {k: (float(v) if isinstance(v, float) else v) for k, v in seg.items()}


def format_segments(segments: list[dict], fmt: str) -> str:
    """Render captions (the pipeline's dicts) as text, json (a list), srt (times since the first window) or csv
    (columns start, end, device, app_type, score, caption; times in capture-clock seconds)."""
    if fmt == "json":
        return json.dumps([_jsonable(s) for s in segments], indent=2) + "\n"
    buf = io.StringIO()
    if fmt == "csv":
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        for s in segments:
            w.writerow(_csv_row(s))
    elif fmt == "srt":  # cues in time order (several devices interleave), times since the first window
        t0 = min((s["start"] for s in segments if s.get("start") is not None), default=0.0)
        ordered = sorted(segments, key=lambda s: (s.get("start") or t0, s.get("device") or ""))
        for i, s in enumerate(ordered, 1):
            a = (s.get("start") or t0) - t0
            b = (s.get("end") or (s.get("start") or t0)) - t0
            buf.write(f"{i}\n{_fmt_srt_time(a)} --> {_fmt_srt_time(b)}\n")
            tag = " ".join(x for x in (s.get("device") or "", f"({s['app_type']})" if s.get("app_type") else "") if x)
            buf.write(f"{'[' + tag + '] ' if tag else ''}{s['caption']}\n\n")
    elif fmt == "text":
        for s in segments:
            buf.write(_text_line(s) + "\n")
    else:
        raise T2TInputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return buf.getvalue()


def _csv_row(s: dict) -> list:
    return [f"{s['start']:.3f}" if s.get("start") is not None else "",
            f"{s['end']:.3f}" if s.get("end") is not None else "", s.get("device") or "", s.get("app_type") or "",
            f"{s.get('score', 0.0):.4f}", s["caption"]]


def _text_line(s: dict) -> str:
    import time as _time

    when = (_time.strftime("%Y-%m-%d %H:%M:%S", _time.gmtime(s["start"])) + f"+{s['end'] - s['start']:g}s"
            if s.get("start") is not None and s.get("end") is not None else "-")
    app = f" [{s['app_type']} {s.get('score', 0.0):.2f}]" if s.get("app_type") else f" [{s.get('score', 0.0):.2f}]"
    return f"{when} {s.get('device') or '-'}{app} {s['caption']}"


def _write_output(text: str, output: str | None) -> None:
    """Print ``text``, or write it to ``output`` atomically (temp file + os.replace)."""
    if not output or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    out = Path(output)
    if out.is_dir():
        raise T2TInputError(f"--output {output} is a folder; give a file name")
    if not out.parent.exists():
        raise T2TInputError(f"--output folder {out.parent} does not exist")
    atomic_write(out, text)


# -- commands ----------------------------------------------------------------------------------------------------
def _cmd_info(args: argparse.Namespace) -> int:
    """Summarise a capture: records, IP rows, non-IP reasons, devices, windows."""
    import numpy as np

    from .traffic import detect_devices, make_windows, read_capture

    table = read_capture(args.file, decapsulate=args.decapsulate, on_error="warn")
    devices = detect_devices(table) if len(table) else []
    wins = make_windows(table, window=args.window, device=args.device) if len(table) else []
    t = table.timestamp[~np.isnan(table.timestamp)]
    info = {
        "file": str(args.file), "records": table.stats.get("records", 0), "ip_packets": len(table),
        "non_ip": table.stats.get("non_ip", {}), "truncated": table.stats.get("truncated", False),
        "duration_s": float(t.max() - t.min()) if t.size else 0.0, "devices": devices,
        "windows": len(wins), "idle_windows": sum(w.is_idle for w in wins),
    }
    print(json.dumps(info, indent=2, default=str))
    return 0


def _generate_kwargs(args) -> dict:
    kw = {"batch_size": args.batch_size}
    if args.num_beams and args.num_beams > 1:
        kw["num_beams"] = args.num_beams
    return kw


def _cmd_caption(args: argparse.Namespace) -> int:
    from .report import resolve_model
    from .traffic import read_capture

    resolve_model(args.model)  # a missing model fails before the capture is read

    if not Path(args.file).exists():
        raise T2TInputError(f"no such capture file: {args.file}")
    if Path(args.file).is_dir():
        raise T2TInputError(f"{args.file} is a folder; give a .pcap or .pcapng file")
    table = read_capture(args.file, decapsulate=args.decapsulate)  # bad input fails before the model loads
    if len(table) == 0:
        raise T2TInputError(f"{args.file} holds no IP packet, so there is nothing to caption")
    captioner = _load(args.model)
    devices = None if args.device in (None, "all") else args.device
    segments = captioner(table, window_length=args.window, stride=args.stride, devices=devices,
                         **_generate_kwargs(args))
    _write_output(format_segments(segments, args.format), args.output)
    return 0


def _load(model):
    """The captioning pipeline, without transformers' progress bars (stderr carries only our messages)."""
    from transformers.utils import logging as hf_logging

    from .report import load_captioner

    hf_logging.disable_progress_bar()
    return load_captioner(model)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that the capture program is stopped on the way out."""

    exit_code = 143


def _raise_terminated(signum, frame):
    raise _Terminated()


def _cmd_live(args: argparse.Namespace) -> int:
    if threading.current_thread() is threading.main_thread():  # `kill`, systemd, `timeout`: stop as Ctrl-C does
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
        try:
            return _live(args)
        finally:
            signal.signal(signal.SIGTERM, previous)
    return _live(args)


def _live(args: argparse.Namespace) -> int:
    from .live_captioning import live_captions

    captioner = _load(args.model)
    fmt = args.format
    n = 0
    if fmt == "csv":
        csv.writer(sys.stdout, lineterminator="\n").writerow(CSV_COLUMNS)
        sys.stdout.flush()
    print(f"t2t live: capturing on {args.interface}"
          f"{' (' + args.bpf + ')' if args.bpf else ''}, {args.window:g} s windows; Ctrl-C stops", file=sys.stderr)
    segments = live_captions(captioner, args.interface, args.bpf, window=args.window, device=args.device,
                             duration=args.duration, poll=args.poll, skip_idle=args.skip_idle,
                             **_generate_kwargs(args))
    with contextlib.closing(segments):  # on Ctrl-C/SIGTERM the capture program is stopped here, not at exit
        for seg in segments:
            if fmt == "json":
                line = json.dumps(_jsonable(seg))
            elif fmt == "csv":
                b = io.StringIO()
                csv.writer(b, lineterminator="").writerow(_csv_row(seg))
                line = b.getvalue()
            else:
                line = _text_line(seg)
            print(line, flush=True)
            n += 1
    print(f"t2t live: {n} windows captioned", file=sys.stderr)
    return 0


def _cmd_dataset_generate(args: argparse.Namespace) -> int:
    from .data.export import export_dataset

    summary = export_dataset(args.out, sim_windows=args.windows, seed=args.seed, window=args.window,
                             num_proc=args.num_proc, calibration=args.calibration,
                             calibrate_pcaps=args.calibrate_pcaps)
    print(f"wrote {args.out}: {summary['examples']:,} windows, {summary['bytes'] / 1e6:.1f} MB")
    for cfg, parts in summary["configs"].items():
        print(f"  {cfg}: " + ", ".join(f"{s} {n:,}" for s, n in parts.items()))
    return 0


def _cmd_dataset_simulate(args: argparse.Namespace) -> int:
    from .data import sim

    plan = sim.session_plan(args.sessions, seed=args.seed, users=args.user or None,
                            environments=args.environment or None)
    if args.app and args.app not in sim.APPS_BY_NAME:
        raise T2TInputError(f"unknown app {args.app!r}; choose from {', '.join(sorted(sim.APPS_BY_NAME))}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for i, seed, user, env, app in plan:
        s = sim.generate_session(seed, user, env, app=args.app or app, duration=args.duration)
        stem = out / f"sim-{i:04d}-{user}-{env}-{s.spells[0].app}"
        s.write_pcap(stem.with_suffix(".pcap"))
        s.write_captions_jsonl(stem.with_suffix(".jsonl"))
        print(f"{stem.with_suffix('.pcap')}: {len(s.raw):,} packets, {s.duration:g} s, device {s.device}")
    return 0


def _cmd_dataset_from_captures(args: argparse.Namespace) -> int:
    from .data.builders import capture_examples

    files: list[Path] = []
    for c in args.captures:
        p = Path(c)
        if p.is_dir():
            files += sorted(q for q in p.iterdir() if q.suffix in (".pcap", ".pcapng") and q.is_file())
        elif p.exists():
            files.append(p)
        else:
            raise T2TInputError(f"no such capture or folder: {c}")
    if not files:
        raise T2TInputError("no .pcap/.pcapng capture found in the arguments")
    examples = []
    for f in files:
        examples += list(capture_examples(f, window=args.window, device=args.device, user=args.user,
                                          environment=args.environment))
    if not examples:
        raise T2TInputError("no window overlaps a caption record: check the caption files' times (--help)")
    out = Path(args.out)
    if not out.parent.exists():
        raise T2TInputError(f"--out folder {out.parent} does not exist")
    if out.suffix == ".jsonl":
        _write_output("".join(json.dumps(ex, ensure_ascii=False) + "\n" for ex in examples), str(out))
    elif out.suffix == ".parquet":
        import datasets

        from .data import schema

        ds = datasets.Dataset.from_list(examples, features=schema.features())
        with atomic_path(out) as tmp:
            ds.to_parquet(tmp)
    else:
        raise T2TInputError(f"--out must end in .parquet or .jsonl, not {out.name!r}")
    print(f"wrote {out}: {len(examples):,} windows from {len(files)} capture(s)")
    return 0


def _cmd_annotate(args: argparse.Namespace) -> int:
    from .annotation.cli import run_annotate

    rc = run_annotate(args)
    return 1 if rc == 2 else rc  # the annotation tool uses 2 for bad input; t2t keeps 2 for usage errors


# -- parser --------------------------------------------------------------------------------------------------------
def _add_generation_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help=_default_model_help())
    p.add_argument("--num-beams", type=_positive_int, default=1, help="beam search width (default 1: greedy)")
    p.add_argument("--batch-size", type=_positive_int, default=32, help="windows per forward pass (default 32)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="t2t", description="T2T (Traffic-to-Text): plain-English captions of smartphone activity from "
        "encrypted traffic (packet sizes, directions and timing; never payload).",
        epilog="Exit codes: 0 success, 1 bad input, 2 usage error. `t2t COMMAND --help` describes each command.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("caption", help="caption a pcap/pcapng capture, one caption per device and window",
                       description="Caption every window of every client device in a capture (or of --device).")
    c.add_argument("file", type=Path, help="capture file (.pcap, .pcapng, optionally gzip-compressed)")
    c.add_argument("--device", help="caption only this device IP; 'all' or absent: every detected client device")
    c.add_argument("--window", type=_positive_float, default=10.0, help="window length in seconds (default 10)")
    c.add_argument("--stride", type=_positive_float, default=None,
                   help="seconds between window starts (default: the window length, no overlap)")
    c.add_argument("--format", choices=FORMATS, default="text",
                   help="text (one line per window), json (a list of objects), srt (subtitles, times since the "
                        "first window) or csv (start,end,device,app_type,score,caption); default text")
    c.add_argument("-o", "--output", default=None, help="write to this file (atomically) instead of stdout")
    c.add_argument("--decapsulate", action="store_true", help="read the innermost IP header of tunnels")
    _add_generation_options(c)
    c.set_defaults(func=_cmd_caption)

    i = sub.add_parser("info", help="summarise a capture: packets, non-IP frames, devices, windows",
                       description="Print a JSON summary of a capture (no model needed).")
    i.add_argument("file", type=Path, help="capture file (.pcap, .pcapng, optionally gzip-compressed)")
    i.add_argument("--device", help="count the windows of this device IP only (default: every detected device)")
    i.add_argument("--window", type=_positive_float, default=10.0, help="window length in seconds (default 10)")
    i.add_argument("--decapsulate", action="store_true", help="describe the innermost IP header of tunnels")
    i.set_defaults(func=_cmd_info)

    lv = sub.add_parser("live", help="caption the live traffic of a network interface as each window closes",
                        description="Capture headers on an interface (tcpdump -U -w - piped into the same reader "
                        "as files; needs root or CAP_NET_RAW) and print one caption per device as each window "
                        "closes. Ctrl-C stops.")
    lv.add_argument("--interface", "-i", required=True, help="interface to listen on, e.g. eth0 or wlan0 (`ip link`)")
    lv.add_argument("--bpf", default=None, help="capture filter in tcpdump syntax, e.g. 'host 192.168.1.20'")
    lv.add_argument("--device", default=None, help="caption only this device IP (default: detect client devices)")
    lv.add_argument("--window", type=_positive_float, default=10.0, help="window length in seconds (default 10)")
    lv.add_argument("--duration", type=_positive_float, default=None,
                    help="stop after this many seconds (default: run until Ctrl-C)")
    lv.add_argument("--poll", type=_positive_float, default=1.0,
                    help="seconds between idle checks that close quiet windows (default 1)")
    lv.add_argument("--skip-idle", action="store_true", help="print nothing for windows without packets")
    lv.add_argument("--format", choices=("text", "json", "csv"), default="text",
                    help="text, json (one JSON object per line) or csv; default text")
    _add_generation_options(lv)
    lv.set_defaults(func=_cmd_live)

    d = sub.add_parser("dataset", help="make corpora: the T2T-Sim folder, simulated captures, your own captures",
                       description="Corpus tools (t2t_hf.data).")
    dsub = d.add_subparsers(dest="dataset_command", metavar="ACTION")
    g = dsub.add_parser("generate", aliases=["export"],
                        help="write the T2T-Sim corpus folder (parquet shards + dataset card), atomically",
                        description="Generate T2T-Sim windows and write the dataset folder that load_dataset(DIR, "
                        "'sim') reads (configs sim and sim_cross_env). The same seed gives the same files.")
    g.add_argument("--windows", type=_positive_int, required=True, help="windows in the whole folder, all splits")
    g.add_argument("--seed", type=_nonneg_int, default=0, help="generator seed (default 0)")
    g.add_argument("--out", required=True, help="dataset folder to (re)write")
    g.add_argument("--window", type=_positive_float, default=10.0, help="window length in seconds (default 10)")
    g.add_argument("--num-proc", type=_positive_int, default=1, help="generator processes; the result is the same")
    g.add_argument("--calibration", default=None, help="a calibration report (.md/.json) to put into the card")
    g.add_argument("--calibrate-pcaps", default=None, metavar="DIR",
                   help="run the simulator calibration against the real captures in DIR and put it into the card")
    g.set_defaults(func=_cmd_dataset_generate)

    s = dsub.add_parser("simulate", help="write T2T-Sim sessions as pcap captures with caption JSONL files",
                        description="Write simulated phone captures (Ethernet pcap) and their caption tracks "
                        "(JSONL beside each pcap, the format `from-captures` and the corpus pcap config read).")
    s.add_argument("--out", required=True, help="folder for the .pcap and .jsonl files (created)")
    s.add_argument("--sessions", type=_positive_int, default=1, help="number of sessions (default 1)")
    s.add_argument("--duration", type=_positive_float, default=60.0, help="seconds per session (default 60)")
    s.add_argument("--seed", type=_nonneg_int, default=0, help="generator seed (default 0)")
    s.add_argument("--user", action="append", default=None, help="simulated user (user01..user08); repeatable")
    s.add_argument("--environment", action="append", default=None, choices=["wifi", "cellular"],
                   help="network environment; repeatable (default both)")
    s.add_argument("--app", default=None, help="start every session in this app (default: the plan's apps)")
    s.set_defaults(func=_cmd_dataset_simulate)

    fc = dsub.add_parser("from-captures", help="turn captures + caption files into corpus windows (parquet/JSONL)",
                         description="Cut captures into windows and label each with the caption record that "
                         "overlaps it (CAPTURE.jsonl or CAPTURE.srt beside each capture, e.g. from `t2t annotate`).")
    fc.add_argument("captures", nargs="+", help="capture files or folders of them")
    fc.add_argument("--out", required=True, help="output file: .parquet (corpus schema) or .jsonl")
    fc.add_argument("--window", type=_positive_float, default=10.0, help="window length in seconds (default 10)")
    fc.add_argument("--device", default=None, help="the phone's IP (default: the most active client device)")
    fc.add_argument("--user", default="unknown", help="user label for records that name none (default unknown)")
    fc.add_argument("--environment", default="unknown", choices=["wifi", "cellular", "unknown"],
                    help="environment for records that name none (default unknown)")
    fc.set_defaults(func=_cmd_dataset_from_captures)
    d.set_defaults(func=None, _parser=d)

    a = sub.add_parser("annotate", help="caption a screen recording window by window with a vision-language model",
                       description="Caption a screen recording window by window with a vision-language model, "
                       "aligned to the traffic capture made at the same time; writes JSONL for the corpus.")
    from .annotation.cli import add_annotate_arguments

    add_annotate_arguments(a)
    a.set_defaults(func=_cmd_annotate)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the ``t2t`` command; returns the exit status (0 ok, 1 bad input, 2 usage error, 130 interrupted,
    143 terminated)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return int(e.code or 0)
    if not getattr(args, "func", None):
        (getattr(args, "_parser", None) or parser).print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except T2TInputError as e:
        print(f"t2t: error: {str(e).splitlines()[0] if str(e) else e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `t2t caption x | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except KeyboardInterrupt as e:
        print("t2t: terminated" if isinstance(e, _Terminated) else "t2t: interrupted", file=sys.stderr)
        return getattr(e, "exit_code", 130)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
