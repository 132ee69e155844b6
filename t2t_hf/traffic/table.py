"""The columnar packet table: one row per IP frame, one numpy array per column.

Addresses are stored as 16-byte values (numpy ``S16``): IPv6 addresses as they
are, IPv4 addresses IPv4-mapped (``::ffff:a.b.c.d``), so one column holds both
families. :func:`format_addresses` turns them into strings.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

#: column name -> (numpy dtype, unit / meaning)
COLUMNS: dict[str, tuple[str, str]] = {
    "timestamp": ("float64", "seconds since the Unix epoch (capture clock); NaN when the record has none"),
    "caplen": ("uint32", "bytes of the frame stored in the file"),
    "origlen": ("uint32", "bytes of the frame on the wire"),
    "ip_version": ("uint8", "4 or 6"),
    "src_addr": ("S16", "source IP, 16 bytes, IPv4 mapped as ::ffff:a.b.c.d"),
    "dst_addr": ("S16", "destination IP, 16 bytes, IPv4 mapped as ::ffff:a.b.c.d"),
    "protocol": ("uint8", "IP protocol number of the transport (6 TCP, 17 UDP, 58 ICMPv6, ...), after IPv6 extension headers"),
    "src_port": ("uint16", "TCP/UDP/SCTP source port; 0 when there is none (other protocols, non-first fragments, truncated)"),
    "dst_port": ("uint16", "TCP/UDP/SCTP destination port; 0 when there is none"),
    "tcp_flags": ("uint16", "TCP flags (FIN=1 SYN=2 RST=4 PSH=8 ACK=16 URG=32 ECE=64 CWR=128 NS=256); 0 for non-TCP"),
    "ip_len": ("uint32", "IP packet length in bytes from the IP header (IPv4 total length; IPv6 40 + payload length)"),
    "ip_payload_len": ("uint32", "bytes after the IP header and IPv6 extension headers, from the header fields"),
    "interface_id": ("uint16", "pcapng interface id (0 for classic pcap)"),
    "record_index": ("uint64", "0-based index of the record in the file (frame number - 1)"),
}

_V4_PREFIX = b"\x00" * 10 + b"\xff\xff"


@dataclass
class PacketTable:
    """Columnar packets. Every column is a 1-D numpy array of the same length N.

    Rows describe the *outermost* IP header of each frame unless the table was
    read with ``decapsulate=True``, in which case they describe the innermost
    IP header found (IP-in-IP, 6in4, GRE, VXLAN, GTP-U, Teredo).

    ``stats`` holds what the reader counted: ``records`` (all records read),
    ``ip`` (rows), ``non_ip`` (records with no IP, by reason), ``truncated``.
    """

    timestamp: np.ndarray
    caplen: np.ndarray
    origlen: np.ndarray
    ip_version: np.ndarray
    src_addr: np.ndarray
    dst_addr: np.ndarray
    protocol: np.ndarray
    src_port: np.ndarray
    dst_port: np.ndarray
    tcp_flags: np.ndarray
    ip_len: np.ndarray
    ip_payload_len: np.ndarray
    interface_id: np.ndarray
    record_index: np.ndarray
    stats: dict = field(default_factory=dict)

    # -- construction -------------------------------------------------------
    @classmethod
    def empty(cls) -> "PacketTable":
        """A table with zero rows and the right dtypes."""
        return cls(**{name: np.zeros(0, dtype=dt) for name, (dt, _) in COLUMNS.items()})

    @classmethod
    def from_columns(cls, columns: dict, stats: dict | None = None) -> "PacketTable":
        """Build from a mapping of column name -> array-like (cast to the column dtypes).

        Addresses may be given as 16-byte values or as strings ("10.0.0.1", "2001:db8::1").
        Missing columns are filled with zeros (``timestamp`` with NaN, ``record_index`` with 0..N-1).
        """
        n = None
        for v in columns.values():
            n = len(v)
            break
        if n is None:
            return cls.empty()
        out = {}
        for name, (dt, _) in COLUMNS.items():
            if name in columns:
                v = columns[name]
                if name in ("src_addr", "dst_addr"):
                    v = encode_addresses(v)
                out[name] = np.asarray(v).astype(dt, copy=False)
            elif name == "timestamp":
                out[name] = np.full(n, np.nan)
            elif name == "record_index":
                out[name] = np.arange(n, dtype=np.uint64)
            else:
                out[name] = np.zeros(n, dtype=dt)
            if len(out[name]) != n:
                from ..errors import T2TInputError
                raise T2TInputError(f"column {name!r} has {len(out[name])} rows, expected {n}")
        return cls(**out, stats=dict(stats or {}))

    @classmethod
    def concat(cls, tables: Iterable["PacketTable"]) -> "PacketTable":
        """Concatenate tables row-wise; stats counters are summed."""
        tables = list(tables)
        if not tables:
            return cls.empty()
        cols = {name: np.concatenate([getattr(t, name) for t in tables]) for name in COLUMNS}
        return cls(**cols, stats=merge_stats([t.stats for t in tables]))

    # -- access ---------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.timestamp.shape[0])

    def __getitem__(self, index) -> "PacketTable":
        """Row selection with a slice, an integer array or a boolean mask."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1 if int(index) != -1 else None)
        return PacketTable(**{name: getattr(self, name)[index] for name in COLUMNS}, stats=dict(self.stats))

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """Column name -> array (no copies)."""
        return {name: getattr(self, name) for name in COLUMNS}

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.columns.values())

    def src_ip(self) -> list[str]:
        """Source addresses as strings ("192.0.2.1", "2001:db8::1")."""
        return format_addresses(self.src_addr)

    def dst_ip(self) -> list[str]:
        """Destination addresses as strings."""
        return format_addresses(self.dst_addr)

    def sort_by_time(self) -> "PacketTable":
        """A copy ordered by timestamp (stable, so equal times keep file order)."""
        order = np.argsort(self.timestamp, kind="stable")
        return self[order]

    def to_arrow(self):
        """A ``pyarrow.Table`` (addresses as 16-byte fixed-size binary)."""
        import pyarrow as pa

        arrays = {}
        for name in COLUMNS:
            a = getattr(self, name)
            if name in ("src_addr", "dst_addr"):
                arrays[name] = pa.array(list(a), type=pa.binary(16)) if len(a) else pa.array([], type=pa.binary(16))
            else:
                arrays[name] = pa.array(a)
        return pa.table(arrays)

    def to_pandas(self):
        """A pandas DataFrame with addresses formatted as strings."""
        import pandas as pd

        d = {name: getattr(self, name) for name in COLUMNS}
        d["src_addr"] = self.src_ip()
        d["dst_addr"] = self.dst_ip()
        return pd.DataFrame(d)

    def __repr__(self) -> str:
        return f"PacketTable(rows={len(self)}, stats={self.stats})"


def merge_stats(stats_list: Iterable[dict]) -> dict:
    """Sum numeric counters (and nested per-reason dicts) of several stats dicts."""
    out: dict = {}
    for st in stats_list:
        for k, v in st.items():
            if isinstance(v, dict):
                d = out.setdefault(k, {})
                for kk, vv in v.items():
                    d[kk] = d.get(kk, 0) + vv
            elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
                out[k] = out.get(k, 0) + int(v)
            else:
                out.setdefault(k, v)
    return out


def encode_addresses(values) -> np.ndarray:
    """Strings or ``ipaddress`` objects or 16-byte values -> ``S16`` array (IPv4 mapped)."""
    arr = np.asarray(values)
    if arr.dtype == np.dtype("S16"):
        return arr
    out = np.empty(len(arr), dtype="S16")
    cache: dict = {}
    for i, v in enumerate(values):
        b = cache.get(v)
        if b is None:
            if isinstance(v, (bytes, np.bytes_)):
                b = bytes(v).ljust(16, b"\x00") if len(v) == 16 else _pack(ipaddress.ip_address(bytes(v)))
            else:
                b = _pack(ipaddress.ip_address(str(v)))
            cache[v] = b
        out[i] = b
    return out


def _pack(ip) -> bytes:
    return _V4_PREFIX + ip.packed if ip.version == 4 else ip.packed


def format_address(value: bytes) -> str:
    """One 16-byte address -> "a.b.c.d" for IPv4-mapped, else compressed IPv6."""
    value = bytes(value).ljust(16, b"\x00")
    if value[:12] == _V4_PREFIX:
        return ".".join(str(x) for x in value[12:16])
    return str(ipaddress.IPv6Address(value))


def format_addresses(values: np.ndarray) -> list[str]:
    """``S16`` array -> list of strings (cached per distinct address)."""
    uniq, inv = np.unique(values, return_inverse=True)
    names = [format_address(u) for u in uniq]
    return [names[i] for i in inv.ravel()]


def columns_doc() -> str:
    """A Markdown table of the columns, their dtypes and units (used in the README)."""
    lines = ["| column | dtype | meaning |", "|---|---|---|"]
    for name, (dt, doc) in COLUMNS.items():
        lines.append(f"| `{name}` | {dt} | {doc} |")
    return "\n".join(lines)


__all__ = ["PacketTable", "COLUMNS", "encode_addresses", "format_address", "format_addresses", "merge_stats",
           "columns_doc"]

_ = dataclasses  # keep import for type tools
