"""Regenerate the bundled sample capture: 60 s of simulated YouTube use (T2T-Sim, seed 7, user07 on Wi-Fi).

    python examples/make_sample.py

Writes examples/sample.pcap.gz (gzip-compressed classic pcap; `t2t` and tshark read it as is) and
examples/sample.jsonl (the simulator's time-stamped caption track, the ground truth of the sample).
Every payload byte in it is simulated framing or zero filler: no real traffic.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path

from t2t_hf.data.sim import generate_session

HERE = Path(__file__).resolve().parent


def main() -> None:
    session = generate_session(seed=7, user="user07", environment="wifi", app="YouTube", duration=60.0)
    with tempfile.TemporaryDirectory() as tmp:
        raw = session.write_pcap(Path(tmp) / "sample.pcap")
        out = HERE / "sample.pcap.gz"
        part = out.with_suffix(".gz.part")
        with open(raw, "rb") as src, gzip.GzipFile(part, "wb", compresslevel=9, mtime=0) as dst:
            dst.write(src.read())
        os.chmod(part, 0o644)
        os.replace(part, out)
    session.write_captions_jsonl(HERE / "sample.jsonl")
    os.chmod(HERE / "sample.jsonl", 0o644)
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(session.packets)} packets, device {session.device})")


if __name__ == "__main__":
    main()
