"""A pyshark backend: the same :class:`PacketTable` as :func:`read_capture`, built with ``pyshark``.

Many users already read captures with pyshark (Wireshark's dissectors through ``tshark``),
so this backend gives them the packet table without learning another reader, and it is
a second, independent opinion for the tests. It is about 100x slower than
:func:`t2t_hf.traffic.read_capture` (pyshark decodes every packet into Python objects:
about 8,000 packets/s with JSON output, measured by ``benchmarks/ingest.py``).

Threads and event loops: pyshark drives ``tshark`` through asyncio and works only in the
main thread of a process that has no running event loop (Gradio handlers, web servers
and notebooks with a running loop break it). :func:`read_capture_pyshark` detects this
and, by default, runs pyshark in a freshly spawned process instead; pass
``subprocess=False`` to get a clear ``T2TInputError`` there instead.

Rows describe the outermost IP header of each frame, as in ``read_capture``. IP
reassembly is switched off so every fragment keeps its own header.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from typing import Any

import numpy as np

from ..errors import T2TInputError
from .table import PacketTable

#: Wireshark layer name -> IP protocol number, for the transport layer after the outermost IP header.
_PROTO_BY_LAYER = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "sctp": 132, "gre": 47, "esp": 50, "ah": 51,
                   "igmp": 2, "udplite": 136, "dccp": 33, "ospf": 89, "pim": 103, "vrrp": 112}
_V6_EXT_KEYS = ("ipv6.hopopts", "ipv6.dstopts", "ipv6.routing", "ipv6.fraghdr")
_PREFS = {"ip.defragment": "FALSE", "ipv6.defragment": "FALSE", "tcp.desegment_tcp_streams": "FALSE"}


def read_capture_pyshark(source, *, subprocess: bool | None = None, tshark_path: str | None = None,
                         display_filter: str | None = None) -> PacketTable:
    """Read a capture with pyshark into a :class:`PacketTable` (same columns as ``read_capture``).

    Args:
        source: path of a pcap/pcapng file (``bytes`` are written to a temporary file first).
        subprocess: ``None`` (default) runs pyshark in a spawned process only when this is not
            the main thread or an event loop is running; ``True`` always does; ``False`` raises
            ``T2TInputError`` in those situations instead.
        tshark_path: the tshark binary (default: found on PATH by pyshark).
        display_filter: an optional Wireshark display filter (e.g. ``"tcp"``).

    Returns:
        PacketTable with N rows (frames whose outermost header is IPv4/IPv6) and ``stats``:
        ``records`` (all frames), ``ip`` (N), ``non_ip`` ({highest Wireshark protocol: count}),
        ``backend`` ("pyshark"). Timestamps are float64 seconds; lengths in bytes; addresses
        16-byte IPv4-mapped.

    Raises:
        T2TInputError: missing file, tshark cannot read it or finds no packets, pyshark missing,
            or pyshark asked to run in a thread / event loop with ``subprocess=False``. (A file
            that tshark reads only partly gives the packets before the damage: pyshark does not
            report tshark's error.)
    """
    if subprocess not in (None, True, False):
        raise T2TInputError(f"subprocess must be None, True or False, not {subprocess!r}")
    tmp = None
    if isinstance(source, (bytes, bytearray, memoryview)):
        fd, tmp = tempfile.mkstemp(suffix=".pcapng")
        with os.fdopen(fd, "wb") as f:
            f.write(bytes(source))
        path = tmp
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise T2TInputError("file not found; check the path", path=path)
    else:
        raise T2TInputError(f"the pyshark backend reads a path or bytes, not {type(source).__name__}")
    try:
        unsafe = _unsafe_context()
        if subprocess is False and unsafe:
            raise T2TInputError(
                f"pyshark works only in the main thread of a process without a running event loop ({unsafe}); "
                "use t2t_hf.traffic.read_capture (thread-safe and faster), or call read_capture_pyshark with "
                "subprocess=None/True to run pyshark in a separate process", path=path)
        if subprocess or (subprocess is None and unsafe):
            cols, stats = _in_spawned_process(path, tshark_path, display_filter)
        else:
            cols, stats = _read_columns(path, tshark_path, display_filter)
    finally:
        if tmp is not None:
            os.unlink(tmp)
    table = PacketTable.from_columns(cols, stats=stats) if stats["ip"] else PacketTable.empty()
    table.stats = stats
    return table


def _unsafe_context() -> str | None:
    """Why pyshark cannot run here (None when it can)."""
    if threading.current_thread() is not threading.main_thread():
        return f"this is thread {threading.current_thread().name!r}, not the main thread"
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return None
    return "an asyncio event loop is running in this thread"


def _in_spawned_process(path: str, tshark_path, display_filter):
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        res = pool.apply(_read_columns_safe, (path, tshark_path, display_filter))
    if isinstance(res, str):
        raise T2TInputError(res, path=path)
    return res


def _read_columns_safe(path, tshark_path, display_filter):
    try:
        return _read_columns(path, tshark_path, display_filter)
    except T2TInputError as e:
        return str(e)


def _first(v: Any) -> Any:
    """pyshark's JSON merges repeated fields/layers into lists; the first is the outermost."""
    while isinstance(v, list):
        v = v[0] if v else None
    return v


def _v6_ext(fields: dict) -> tuple[int | None, int, bool]:
    """(protocol after the extension headers, their total bytes, non-first fragment) of an ipv6 layer."""
    nxt = int(_first(fields.get("ipv6.nxt")) or 0)
    total = 0
    nonfirst = False
    for key in _V6_EXT_KEYS:
        ext = _first(fields.get(key))
        if not isinstance(ext, dict):
            continue
        if key == "ipv6.fraghdr":
            total += 8
            nonfirst = int(_first(ext.get("ipv6.fraghdr.offset")) or 0) != 0
        else:
            total += int(_first(ext.get(f"{key}.len_oct")) or 0)
        n = _first(ext.get(f"{key}.nxt"))
        if n is not None:
            nxt = int(n)
    return nxt, total, nonfirst


def _read_columns(path: str, tshark_path, display_filter):
    try:
        import pyshark
    except ImportError:  # pragma: no cover - a core dependency
        raise T2TInputError("pyshark is not installed; pip install pyshark (and install tshark)") from None
    cols: dict[str, list] = {k: [] for k in ("timestamp", "caplen", "origlen", "ip_version", "src_addr", "dst_addr",
                                            "protocol", "src_port", "dst_port", "tcp_flags", "ip_len",
                                            "ip_payload_len", "interface_id", "record_index")}
    non_ip: dict[str, int] = {}
    records = 0
    try:
        cap = pyshark.FileCapture(path, use_json=True, keep_packets=False, override_prefs=_PREFS,
                                  tshark_path=tshark_path, display_filter=display_filter)
    except Exception as e:  # pyshark raises its own types for a missing tshark
        raise T2TInputError(f"pyshark could not start tshark ({e})", path=path) from None
    try:
        for pkt in cap:
            records += 1
            row = packet_row(pkt)
            if isinstance(row, str):
                non_ip[row] = non_ip.get(row, 0) + 1
                continue
            for k, v in row.items():
                cols[k].append(v)
    except T2TInputError:
        raise
    except Exception as e:  # TSharkCrashException and friends: tshark could not read the file
        raise T2TInputError(f"tshark (through pyshark) could not read the capture: {e}", path=path) from None
    finally:
        try:
            cap.close()
        except Exception:
            pass
    if records == 0:
        # pyshark reports tshark's failure only through an unraisable warning at close: an empty
        # result means tshark could not read the file (not a capture) or it holds no packets
        raise T2TInputError("tshark (through pyshark) read no packets: the file is not a capture tshark "
                            "understands, or it is empty", path=path)
    stats = {"records": records, "ip": len(cols["timestamp"]), "non_ip": non_ip, "decapsulated": 0,
             "backend": "pyshark"}
    if not cols["timestamp"]:
        return {k: [] for k in cols}, stats
    out = {k: np.asarray(v) for k, v in cols.items() if k not in ("src_addr", "dst_addr")}
    out["src_addr"] = cols["src_addr"]
    out["dst_addr"] = cols["dst_addr"]
    return out, stats


def packet_row(pkt) -> dict | str:
    """One pyshark packet (JSON mode) -> a packet-table row dict, or the top layer's name when the
    frame carries no IP (counted by that name in ``stats["non_ip"]``)."""
    idx = int(pkt.number) - 1
    names = [layer.layer_name for layer in pkt.layers]
    k = next((i for i, n in enumerate(names) if n in ("ip", "ipv6")), None)
    if k is None:
        return names[-1] if names else "unknown"
    f = pkt.layers[k]._all_fields
    nxt_layer = names[k + 1] if k + 1 < len(names) else None
    if names[k] == "ip":
        v = 4
        src, dst = _first(f.get("ip.src")), _first(f.get("ip.dst"))
        proto = int(_first(f.get("ip.proto")) or 0)
        ip_len = int(_first(f.get("ip.len")) or 0)
        hdr = int(_first(f.get("ip.hdr_len")) or 20)
        payload = max(ip_len - hdr, 0)
        l4_ok = int(_first(f.get("ip.frag_offset")) or 0) == 0
    else:
        v = 6
        src, dst = _first(f.get("ipv6.src")), _first(f.get("ipv6.dst"))
        proto, ext, nonfirst = _v6_ext(f)
        plen = int(_first(f.get("ipv6.plen")) or 0)
        ip_len = 40 + plen
        payload = max(plen - ext, 0)
        l4_ok = not nonfirst
    sport = dport = flags = 0
    if l4_ok and nxt_layer in ("tcp", "udp") and _PROTO_BY_LAYER[nxt_layer] == proto:
        lf = pkt.layers[k + 1]._all_fields
        sport = int(_first(lf.get(f"{nxt_layer}.srcport")) or 0)
        dport = int(_first(lf.get(f"{nxt_layer}.dstport")) or 0)
        if nxt_layer == "tcp":
            flags = int(str(_first(lf.get("tcp.flags")) or "0"), 16) & 0x1FF
    fi = pkt.frame_info
    return {"timestamp": float(pkt.sniff_timestamp), "caplen": int(fi.cap_len), "origlen": int(fi.len),
            "ip_version": v, "src_addr": src, "dst_addr": dst, "protocol": proto, "src_port": sport,
            "dst_port": dport, "tcp_flags": flags, "ip_len": ip_len, "ip_payload_len": payload,
            "interface_id": int(_first(getattr(fi, "interface_id", 0)) or 0), "record_index": idx}


def live_capture_tables(interface: str, bpf: str | None = None, batch: int = 64, duration: float | None = None,
                        tshark_path: str | None = None):
    """Packet tables of live traffic through ``pyshark.LiveCapture``, ``batch`` packets each
    (fewer at the end). Main thread only, like all of pyshark.

    Raises:
        T2TInputError: called off the main thread or under a running event loop, or tshark fails.
    """
    import time

    why = _unsafe_context()
    if why:
        raise T2TInputError(f"pyshark live capture cannot run here ({why}); use the default tcpdump backend")
    import pyshark

    cap = pyshark.LiveCapture(interface=interface, bpf_filter=bpf, use_json=True, override_prefs=_PREFS,
                              tshark_path=tshark_path)
    rows: list[dict] = []
    t0 = time.monotonic()
    try:
        for pkt in cap.sniff_continuously():
            row = packet_row(pkt)
            if not isinstance(row, str):
                rows.append(row)
            if len(rows) >= batch:
                yield PacketTable.from_columns({k: [r[k] for r in rows] for k in rows[0]})
                rows = []
            if duration is not None and time.monotonic() - t0 > duration:
                break
    except T2TInputError:
        raise
    except Exception as e:
        raise T2TInputError(f"pyshark live capture on {interface!r} failed: {e}") from None
    finally:
        try:
            cap.close()
        except Exception:
            pass
    if rows:
        yield PacketTable.from_columns({k: [r[k] for r in rows] for k in rows[0]})


__all__ = ["read_capture_pyshark", "live_capture_tables", "packet_row"]
