"""Regenerate the Space's example captures (space/examples/*.pcap) with the T2T-Sim simulator.

Each example is one simulated phone session written as an Ethernet pcap and cut to the first ``--snaplen``
bytes of every frame (Ethernet + IP + TCP/UDP headers: all T2T reads; the original lengths stay in the record
headers), which keeps the folder at a few hundred KB. Deterministic: the same arguments give the same bytes.

    python space/make_examples.py             # writes space/examples/
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

#: (file stem, seed, user, environment, app, seconds)
EXAMPLES = [
    ("netflix_wifi", 11, "user01", "wifi", "Netflix", 30.0),
    ("whatsapp_cellular", 12, "user03", "cellular", "WhatsApp", 60.0),
    ("spotify_wifi", 13, "user05", "wifi", "Spotify", 30.0),
    ("reddit_wifi", 11, "user01", "wifi", "Reddit", 30.0),
]


def truncate_pcap(data: bytes, snaplen: int) -> bytes:
    """A classic pcap with every record cut to ``snaplen`` captured bytes (header snaplen updated)."""
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        e = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        e = ">"
    else:
        raise ValueError("not a classic pcap")
    out = bytearray(data[:24])
    struct.pack_into(e + "I", out, 16, snaplen)
    off = 24
    while off + 16 <= len(data):
        ts_s, ts_us, incl, orig = struct.unpack_from(e + "IIII", data, off)
        keep = min(incl, snaplen)
        out += struct.pack(e + "IIII", ts_s, ts_us, keep, orig)
        out += data[off + 16: off + 16 + keep]
        off += 16 + incl
    return bytes(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(HERE / "examples"), help="folder (default: space/examples)")
    ap.add_argument("--snaplen", type=int, default=78, help="bytes kept per frame (default 78: Ethernet, IPv4 and TCP headers with options)")
    args = ap.parse_args(argv)
    from t2t_hf.data.sim import generate_session

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for stem, seed, user, env, app, dur in EXAMPLES:
        s = generate_session(seed, user, env, app=app, duration=dur)
        with tempfile.TemporaryDirectory() as tmp:
            full = s.write_pcap(Path(tmp) / "full.pcap").read_bytes()
        data = truncate_pcap(full, args.snaplen)
        fd, tmp_name = tempfile.mkstemp(dir=out, prefix=f".{stem}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, out / f"{stem}.pcap")
        total += len(data)
        print(f"{out / (stem + '.pcap')}: {len(s.raw):,} packets, {dur:g} s, {app} on {env}, "
              f"phone {s.device}, {len(data) / 1024:.0f} KiB")
    print(f"total {total / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
