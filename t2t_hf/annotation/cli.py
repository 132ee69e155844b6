"""Command line: ``t2t annotate`` (wired into the main CLI) and ``python -m t2t_hf.annotation``."""

from __future__ import annotations

import argparse
import logging
import sys

from ..errors import T2TInputError


def _pair(text: str) -> tuple[float, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError("expected VIDEO_SECONDS=TIME, e.g. 12.5=2026-12-03T16:00:05.2Z")
    a, b = text.split("=", 1)
    try:
        return float(a), b
    except ValueError:
        raise argparse.ArgumentTypeError(f"video seconds must be a number, got {a!r}") from None


def add_annotate_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``annotate`` options to ``parser`` (a subcommand parser of the main CLI or a fresh one)."""
    io = parser.add_argument_group("inputs and output")
    io.add_argument("--video", required=True, help="the screen recording (mp4, mkv, webm, mov)")
    io.add_argument("--pcap", required=True, help="the capture made at the same time (pcap or pcapng)")
    io.add_argument("--out", default=None,
                    help="JSONL output; resumed if it exists (default: the capture's path with .jsonl, where the "
                         "corpus pcap config finds it)")
    io.add_argument("--window", type=float, default=10.0, help="window length in seconds (default 10)")
    io.add_argument("--frames", type=int, default=3, help="frames per window sent to the model (default 3)")
    io.add_argument("--min-coverage", type=float, default=0.5,
                    help="skip windows the recording covers for less than this fraction (default 0.5)")
    io.add_argument("--max-side", type=int, default=768, help="downscale frames to this many pixels (default 768)")
    io.add_argument("--app", default=None, help="the app in use (a hint for the model, copied into records)")
    io.add_argument("--app-type", default=None,
                    choices=["video", "social", "messaging", "browsing", "music_games", "unknown"],
                    help="an app type copied into every record (the corpus's five types, or unknown)")
    io.add_argument("--activity", default=None, help="an activity label copied into every record")
    io.add_argument("--limit", type=int, default=None, help="caption at most N new windows, then stop")

    al = parser.add_argument_group("clock alignment (capture time = video time + offset)")
    al.add_argument("--align", choices=["metadata", "auto", "marker"], default="metadata",
                    help="metadata: the file's creation_time (+ --offset); auto: correlate screen changes with "
                         "traffic bursts; marker: the timecode page recorded on screen (python -m "
                         "t2t_hf.annotation.marker page.html), a recorded white flash (--marker-time) or clock "
                         "readings (--clock-pair). Default metadata")
    al.add_argument("--offset", type=float, default=None,
                    help="manual correction in seconds added to the metadata time (e.g. 2.5 if the phone clock "
                         "is 2.5 s behind the capture clock)")
    al.add_argument("--video-start", default=None,
                    help="capture-clock time of the first frame (epoch seconds or ISO 8601), instead of the tag")
    al.add_argument("--metadata-anchor", choices=["start", "end"], default="start",
                    help="whether the file's creation_time marks the start or the end of the recording")
    al.add_argument("--search", type=float, default=300.0,
                    help="auto: search +- this many seconds around the metadata time when there is one "
                         "(default 300; 0 = the whole capture)")
    al.add_argument("--device", default=None, help="the phone's IP address (auto; default: most active device)")
    al.add_argument("--marker-time", default=None,
                    help="marker: capture-clock time (epoch or ISO 8601) at which the recorded white flash showed")
    al.add_argument("--marker-scan", type=float, default=None, metavar="SECONDS",
                    help="marker: look for the timecode page only in the first SECONDS of the recording")
    al.add_argument("--clock-pair", type=_pair, action="append", default=None, metavar="VIDEO_S=TIME",
                    help="marker: a clock reading visible in the recording at VIDEO_S seconds (repeatable)")

    be = parser.add_argument_group("vision-language backend")
    be.add_argument("--backend", choices=["openai", "local"], default="openai",
                    help="openai: any OpenAI-compatible chat-completions endpoint (default); local: a "
                         "transformers image-text-to-text model folder (--model-dir)")
    be.add_argument("--base-url", default=None, help="openai: endpoint base URL (env T2T_VLM_BASE_URL; default "
                                                    "DashScope compatible mode)")
    be.add_argument("--model", default=None, help="openai: model id (env T2T_VLM_MODEL; default qwen-vl-max)")
    be.add_argument("--api-key", default=None,
                    help="openai: API key (prefer env T2T_VLM_API_KEY / DASHSCOPE_API_KEY / OPENAI_API_KEY; "
                         "'none' for servers without keys)")
    be.add_argument("--concurrency", type=int, default=4, help="openai: requests in flight (default 4)")
    be.add_argument("--rate-limit", type=float, default=None, help="openai: requests per second (default none)")
    be.add_argument("--max-retries", type=int, default=6, help="openai: retries on 429/5xx (default 6)")
    be.add_argument("--timeout", type=float, default=120.0, help="openai: seconds per request (default 120)")
    be.add_argument("--model-dir", default=None, help="local: a transformers image-text-to-text model folder")
    be.add_argument("--torch-device", default=None, help="local: cuda / cpu (default cuda when available)")
    be.add_argument("--dtype", default=None, help="local: bfloat16 / float16 / float32")
    be.add_argument("--max-new-tokens", type=int, default=60, help="local: caption length cap in tokens")
    be.add_argument("--cache-dir", default=None, help="caption cache (default ~/.cache/t2t_hf/annotation)")
    be.add_argument("--no-cache", action="store_true", help="do not read or write the caption cache")
    be.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("-v", "--verbose", action="store_true", help="log alignment and retries")
    return parser


def backend_options_from_args(args) -> dict:
    if args.backend == "openai":
        return {"base_url": args.base_url, "model": args.model, "api_key": args.api_key,
                "concurrency": args.concurrency, "rate_limit": args.rate_limit, "max_retries": args.max_retries,
                "timeout": args.timeout}
    return {"model_dir": args.model_dir, "device": args.torch_device, "dtype": args.dtype,
            "max_new_tokens": args.max_new_tokens}


def run_annotate(args) -> int:
    """Run ``annotate`` from parsed arguments. Returns the exit status (0 ok, 2 bad input, 1 backend failure)."""
    from .backends import BackendError
    from .pipeline import annotate

    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        res = annotate(args.video, args.pcap, args.out, window=args.window, backend=args.backend,
                       backend_options=backend_options_from_args(args), offset=args.offset, align=args.align,
                       video_start=args.video_start, metadata_anchor=args.metadata_anchor,
                       marker_time=args.marker_time, clock_pairs=args.clock_pair, marker_scan=args.marker_scan,
                       search=args.search,
                       device=args.device, frames_per_window=args.frames, min_coverage=args.min_coverage,
                       max_side=args.max_side, app=args.app, app_type=args.app_type, activity=args.activity,
                       cache_dir=False if args.no_cache else args.cache_dir, progress=not args.no_progress,
                       limit=args.limit)
    except T2TInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BackendError as exc:
        print(f"error: {exc}\nThe records written so far are kept; run the same command again to resume.",
              file=sys.stderr)
        return 1
    a = res.alignment
    conf = "n/a" if a.confidence is None else f"{a.confidence:.2f}"
    print(f"{res.out}: {res.written} new, {res.already_done} already done, {res.failed} failed, of {res.windows} "
          f"windows; {res.cached} from cache, {res.tokens} tokens, {res.elapsed_s:.1f} s; alignment {a.method} "
          f"offset {a.offset:.3f} s (confidence {conf})")
    return 0 if res.failed == 0 else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m t2t_hf.annotation",
        description="Caption a screen recording window by window with a vision-language model, aligned to the "
                    "traffic capture made at the same time; writes JSONL for the corpus pcap config.")
    add_annotate_arguments(parser)
    return run_annotate(parser.parse_args(argv))


__all__ = ["add_annotate_arguments", "run_annotate", "main"]
