"""Write simulated sessions as pcap + caption JSONL pairs.

    python -m t2t_hf.data.sim --out sessions/ --sessions 4 --seed 0 [--user user01] [--environment wifi]
                              [--app YouTube] [--activity watching_video] [--duration 120]

Each session becomes ``<out>/<session id>.pcap`` and ``<out>/<session id>.jsonl`` (the caption
track in the annotation pipeline's JSONL form), which the ``pcap`` dataset config reads as an
annotated recording. Without ``--user``/``--environment``/``--app`` the sessions cycle through
users and environments as the corpus plan does, and through the 20 apps one session at a time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...errors import T2TInputError
from .apps import APPS
from .corpus import session_plan
from .session import generate_session


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m t2t_hf.data.sim", description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output folder (created if missing)")
    ap.add_argument("--sessions", type=int, default=1, help="number of sessions (default 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--user", default=None)
    ap.add_argument("--environment", default=None, choices=["wifi", "cellular"])
    ap.add_argument("--app", default=None)
    ap.add_argument("--activity", default=None, help="the activity each session starts with (needs --app)")
    ap.add_argument("--duration", type=float, default=120.0, help="seconds per session (default 120)")
    args = ap.parse_args(argv)
    try:
        if args.sessions < 1:
            raise T2TInputError(f"--sessions must be >= 1, got {args.sessions}")
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        plan = session_plan(args.sessions, args.seed, [args.user] if args.user else None,
                            [args.environment] if args.environment else None)
        for i, sseed, user, env, _ in plan:
            app = args.app or APPS[i % len(APPS)].name  # a different app per session
            s = generate_session(sseed, user, env, app, duration=args.duration, activity=args.activity)
            s.write_pcap(out / f"{s.session_id}.pcap")
            s.write_captions_jsonl(out / f"{s.session_id}.jsonl")
            print(f"{out / s.session_id}.pcap: {len(s.raw)} packets, {len(s.captions)} captions, "
                  f"activities: {', '.join(dict.fromkeys(sp.activity for sp in s.spells))}")
    except T2TInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
