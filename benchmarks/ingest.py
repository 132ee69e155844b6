"""Ingest benchmark: captures -> packet table, our reader against dpkt, scapy, tshark and pyshark.

One run, the same files for every reader:

* a generated capture of ``--packets`` (default 1,000,000) Ethernet/IPv4 TCP+UDP packets
  written with numpy into a temporary folder (snap length 96 bytes, like ``tcpdump -s 96``);
* the real captures of ``../shared/data/pcaps`` when present (``T2T_SHARED_DATA`` overrides).

Every reader produces the same fields (timestamp, captured and wire length, IP version, source
and destination address, protocol, ports, TCP flags, IP length) into numpy arrays. Our reader
runs on one core (numba kernels + numpy, no threads). dpkt decodes Ethernet/IP/TCP/UDP
in Python; scapy's RawPcapReader only splits records (no decoding) and its PcapReader
(full dissection) runs on a subset; ``tshark -T fields`` is parsed into arrays; pyshark
(JSON mode) runs on a small subset because it manages ~8,000 packets/s.

Usage:  python benchmarks/ingest.py [--packets 1000000] [--no-tshark] [--no-pyshark]
The last line printed is ``ratio_vs_dpkt=<our packets/s divided by dpkt's>`` on the generated capture.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from t2t_hf.errors import T2TInputError  # noqa: E402
from t2t_hf.traffic import read_capture  # noqa: E402

sys.path.insert(0, str(REPO / "tests" / "traffic"))
from captures import synthetic_pcap  # noqa: E402  (the test suite's capture writers)


# --------------------------------------------------------------------------------------------- data
def generate(path: Path, n: int, seed: int = 0, snap: int = 96) -> None:
    """Write a classic pcap of ``n`` Ethernet/IPv4 packets (70% TCP, 30% UDP, payload 0..1399 bytes,
    a few thousand hosts as in real traffic), with the test suite's generator."""
    path.write_bytes(synthetic_pcap(n, seed, snap=snap, hosts=5000))


def real_files() -> list[Path]:
    root = Path(os.environ.get("T2T_SHARED_DATA", REPO.parent / "shared" / "data")) / "pcaps"
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.iterdir()):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                read_capture(p)
            out.append(p)
        except T2TInputError:
            pass
    return out


# --------------------------------------------------------------------------------------------- readers
def ours(path: Path) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = read_capture(path)
    return t.stats["records"]


def _dpkt_decoder(linktype: int):
    import dpkt

    if linktype == 1:
        return lambda b: dpkt.ethernet.Ethernet(b).data
    if linktype == 113:
        return lambda b: dpkt.sll.SLL(b).data
    if linktype in (101, 12, 14, 228, 229):
        return lambda b: dpkt.ip.IP(b) if b and b[0] >> 4 == 4 else dpkt.ip6.IP6(b)
    if linktype in (0, 108):
        return lambda b: dpkt.loopback.Loopback(b).data
    return None


def dpkt_reader(path: Path) -> int:
    """dpkt: records + Ethernet/IP/TCP/UDP decoding into the same columns."""
    import dpkt

    ts, caplen, origlen, ver, src, dst, proto, sport, dport, flags, iplen = ([] for _ in range(11))
    n = 0
    with open(path, "rb") as f:
        try:
            rdr = dpkt.pcap.Reader(f)
        except ValueError:
            f.seek(0)
            rdr = dpkt.pcapng.Reader(f)
        decode = _dpkt_decoder(rdr.datalink())
        if decode is None:
            return 0
        for t, buf in rdr:
            n += 1
            try:
                ip = decode(buf)
            except (dpkt.UnpackError, IndexError, struct.error, ValueError):
                continue
            if isinstance(ip, dpkt.ip.IP):
                ver.append(4)
                src.append(b"\x00" * 10 + b"\xff\xff" + ip.src)
                dst.append(b"\x00" * 10 + b"\xff\xff" + ip.dst)
                iplen.append(ip.len)
            elif isinstance(ip, dpkt.ip6.IP6):
                ver.append(6)
                src.append(ip.src)
                dst.append(ip.dst)
                iplen.append(40 + ip.plen)
            else:
                continue
            ts.append(t)
            caplen.append(len(buf))
            origlen.append(len(buf))
            proto.append(ip.p)
            l4 = ip.data
            if isinstance(l4, dpkt.tcp.TCP):
                sport.append(l4.sport)
                dport.append(l4.dport)
                flags.append(l4.flags)
            elif isinstance(l4, dpkt.udp.UDP):
                sport.append(l4.sport)
                dport.append(l4.dport)
                flags.append(0)
            else:
                sport.append(0)
                dport.append(0)
                flags.append(0)
    cols = [np.array(ts, np.float64), np.array(caplen, np.uint32), np.array(origlen, np.uint32),
            np.array(ver, np.uint8), np.array(src, "S16"), np.array(dst, "S16"), np.array(proto, np.uint8),
            np.array(sport, np.uint16), np.array(dport, np.uint16), np.array(flags, np.uint16),
            np.array(iplen, np.uint32)]
    assert all(len(c) == len(cols[0]) for c in cols)
    return n


def scapy_raw(path: Path) -> int:
    """scapy RawPcapReader: record bytes and metadata only, no decoding."""
    from scapy.utils import RawPcapReader

    n = 0
    for _data, _meta in RawPcapReader(str(path)):
        n += 1
    return n


def scapy_full(path: Path) -> int:
    """scapy PcapReader with full dissection, extracting the same fields."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.utils import PcapReader

    rows = []
    n = 0
    for pkt in PcapReader(str(path)):
        n += 1
        if IP in pkt:
            ip = pkt[IP]
            l4 = ip.payload
            sp = getattr(l4, "sport", 0) if isinstance(l4, (TCP, UDP)) else 0
            dp = getattr(l4, "dport", 0) if isinstance(l4, (TCP, UDP)) else 0
            fl = int(l4.flags) if isinstance(l4, TCP) else 0
            rows.append((float(pkt.time), len(pkt), socket.inet_aton(ip.src), socket.inet_aton(ip.dst), ip.proto,
                         sp, dp, fl, ip.len))
    return n


def tshark_fields(path: Path) -> int:
    fields = ["frame.time_epoch", "frame.cap_len", "frame.len", "ip.version", "ip.src", "ip.dst", "ip.proto",
              "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "tcp.flags", "ip.len"]
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=f", "-E", "separator=\t"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, check=False).stdout.decode()
    lines = out.splitlines()
    cols = list(zip(*(ln.split("\t") for ln in lines))) if lines else []
    if cols:
        np.array(cols[0], np.float64)
        np.array([int(x or 0) for x in cols[1]], np.uint32)
        np.array([int(x or 0) for x in cols[7]], np.uint16)
    return len(lines)


def pyshark_reader(path: Path) -> int:
    from t2t_hf.traffic.pyshark_backend import read_capture_pyshark

    return read_capture_pyshark(path).stats["records"]


# --------------------------------------------------------------------------------------------- timing
def _cpu() -> float:
    """CPU seconds of this process and of its finished children (tshark, pyshark's tshark)."""
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ch.ru_utime + ch.ru_stime


def timed(fn, paths, repeat: int = 1) -> tuple[int, float, float]:
    """(packets, best wall seconds, best CPU seconds) over ``repeat`` runs."""
    best_wall = best_cpu = float("inf")
    n = 0
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), _cpu()
        n = sum(fn(p) for p in paths)
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, _cpu() - c0)
    return n, best_wall, best_cpu


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="best of N for our reader (warm)")
    ap.add_argument("--no-tshark", action="store_true")
    ap.add_argument("--no-pyshark", action="store_true")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        big = tmp / "generated.pcap"
        t0 = time.perf_counter()
        generate(big, args.packets)
        sub100k = tmp / "generated_100k.pcap"
        generate(sub100k, min(100_000, args.packets), seed=1)
        sub20k = tmp / "generated_20k.pcap"
        generate(sub20k, min(20_000, args.packets), seed=2)
        sub2k = tmp / "generated_2k.pcap"
        generate(sub2k, min(2_000, args.packets), seed=3)
        print(f"generated {args.packets:,} packets ({big.stat().st_size / 2**20:.0f} MiB) in "
              f"{time.perf_counter() - t0:.1f} s")
        ours(sub2k)  # load the compiled kernels once

        results: dict[str, tuple[str, int, float, float]] = {}

        def run(label, fn, paths, what, repeat=1):
            n, wall, cpu = timed(fn, paths, repeat)
            results[label] = (what, n, wall, cpu)
            print(f"{label:<28} {what:<28} {n:>10,} {wall:>8.2f} s {n / wall:>11,.0f}/s {cpu:>8.2f} s "
                  f"{n / cpu:>11,.0f}/s", flush=True)

        print(f"{'reader':<28} {'input':<28} {'packets':>10} {'wall':>10} {'pkt/s wall':>13} {'cpu':>10} "
              f"{'pkt/s cpu':>13}")
        run("t2t_hf read_capture", ours, [big], "generated", args.repeat)
        run("dpkt (Eth/IP/L4 decode)", dpkt_reader, [big], "generated")
        run("scapy RawPcapReader", scapy_raw, [big], "generated (no decoding)")
        run("t2t_hf read_capture/20k", ours, [sub20k], "generated 20k", args.repeat)
        run("scapy PcapReader", scapy_full, [sub20k], "generated 20k (dissection)")
        if not args.no_tshark and shutil.which("tshark"):
            run("t2t_hf read_capture/100k", ours, [sub100k], "generated 100k", args.repeat)
            run("tshark -T fields", tshark_fields, [sub100k], "generated 100k")
        if not args.no_pyshark and shutil.which("tshark"):
            run("t2t_hf read_capture/2k", ours, [sub2k], "generated 2k", args.repeat)
            run("pyshark (use_json)", pyshark_reader, [sub2k], "generated 2k")

        reals = real_files()
        if reals:
            label = f"{len(reals)} real files"
            run("t2t_hf read_capture/real", ours, reals, label, args.repeat)
            run("dpkt/real", dpkt_reader, reals, label)
            run("scapy RawPcapReader/real", scapy_raw, reals, label)
        else:
            print("(../shared/data/pcaps not found: real captures skipped)")

    def rate(k, which=3):
        _, n, wall, cpu = results[k]
        t = cpu if which == 3 else wall
        return n / t if t > 0 else float("nan")

    print()
    print(f"load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; ratios use CPU "
          "seconds (wall-clock ratios in brackets), which a busy machine distorts less")
    ours_rate = rate("t2t_hf read_capture")
    print(f"ours: {ours_rate:,.0f} pkt/s per CPU second ({rate('t2t_hf read_capture', 2):,.0f} pkt/s wall) "
          "into the full table on one core (goal >= 1,000,000)")
    for k in results:
        if not k.startswith("t2t_hf"):
            base = {"scapy PcapReader": "t2t_hf read_capture/20k", "tshark -T fields": "t2t_hf read_capture/100k",
                    "pyshark (use_json)": "t2t_hf read_capture/2k"}.get(k)
            if k.endswith("/real"):
                base = "t2t_hf read_capture/real"
            base = base or "t2t_hf read_capture"
            print(f"ours / {k:<26} = {rate(base) / rate(k):8.1f}x  [{rate(base, 2) / rate(k, 2):8.1f}x]"
                  f"   (on {results[k][0]})")
    print(f"ratio_vs_dpkt={ours_rate / rate('dpkt (Eth/IP/L4 decode)'):.1f}")


if __name__ == "__main__":
    main()
