"""``read_capture`` and ``iter_capture``: capture files and streams to packet tables."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from ..errors import T2TInputError
from .formats import CHUNK_BYTES, RecordBatch, open_reader
from .ip import decode_ip, inner_headers
from .linklayer import IP, NON_IP_REASONS, to_network_layer
from .table import PacketTable


def decode_records(batch: RecordBatch, decapsulate: bool = False) -> PacketTable:
    """Decode the frames of one record batch into a packet table (one row per IP frame).

    Args:
        batch: records and their bytes (see ``formats.RecordBatch``).
        decapsulate: describe the innermost IP header of tunnelled packets instead of the outermost.

    Returns:
        PacketTable with ``stats``: records, ip, non_ip {reason: count}, decapsulated.
    """
    buf = batch.buf
    end = batch.data_off + batch.caplen
    # never trust a record to stay inside the chunk
    end = np.minimum(end, buf.shape[0])
    wire_end = batch.data_off + np.maximum(batch.origlen, batch.caplen)
    et, l3, reason = to_network_layer(buf, batch.data_off, end, batch.linktype)
    cols = decode_ip(buf, et, l3, end, wire_end, reason)
    decap = 0
    if decapsulate:
        for _ in range(4):
            mask, iet, il3 = inner_headers(buf, cols, end)
            if not mask.any():
                break
            idx = np.flatnonzero(mask)
            inner = decode_ip(buf, iet[idx], il3[idx], end[idx], wire_end[idx], np.zeros(idx.size, np.int64))
            good = inner["reason"] == IP
            idx = idx[good]
            decap += int(idx.size)
            if not idx.size:
                break
            for k, v in inner.items():
                cols[k][idx] = v[good]
    keep = cols["reason"] == IP
    rows = np.flatnonzero(keep)
    non_ip: dict[str, int] = {}
    if rows.size != keep.size:
        codes, counts = np.unique(cols["reason"][~keep], return_counts=True)
        lt = batch.linktype[~keep]
        for c, k in zip(codes.tolist(), counts.tolist()):
            name = NON_IP_REASONS.get(c, "other")
            if c == 4:
                for t in np.unique(lt[cols["reason"][~keep] == 4]).tolist():
                    non_ip[f"unsupported_link_type_{t}"] = int(((lt == t) & (cols["reason"][~keep] == 4)).sum())
            else:
                non_ip[name] = non_ip.get(name, 0) + k
    table = PacketTable(
        timestamp=batch.timestamp[rows].astype(np.float64),
        caplen=batch.caplen[rows].astype(np.uint32),
        origlen=batch.origlen[rows].astype(np.uint32),
        ip_version=cols["ip_version"][rows].astype(np.uint8),
        src_addr=np.ascontiguousarray(cols["src"][rows]).view("S16").ravel(),
        dst_addr=np.ascontiguousarray(cols["dst"][rows]).view("S16").ravel(),
        protocol=cols["protocol"][rows].astype(np.uint8),
        src_port=cols["src_port"][rows].astype(np.uint16),
        dst_port=cols["dst_port"][rows].astype(np.uint16),
        tcp_flags=cols["tcp_flags"][rows].astype(np.uint16),
        ip_len=np.clip(cols["ip_len"][rows], 0, 2**32 - 1).astype(np.uint32),
        ip_payload_len=np.clip(cols["ip_payload_len"][rows], 0, 2**32 - 1).astype(np.uint32),
        interface_id=batch.interface_id[rows].astype(np.uint16),
        record_index=batch.record_index[rows].astype(np.uint64),
        stats={"records": len(batch), "ip": int(rows.size), "non_ip": non_ip, "decapsulated": decap},
    )
    return table


def iter_capture(source, *, decapsulate: bool = False, on_error: str = "raise", chunk_bytes: int = CHUNK_BYTES,
                 live: bool = False) -> Iterator[PacketTable]:
    """Stream a capture as packet tables of bounded size, one per chunk of about ``chunk_bytes``.

    Memory stays bounded by the chunk size, so captures larger than RAM can be
    processed. Each yielded table has its own ``stats``; ``merge_stats`` sums them.

    Args:
        source: a path, ``bytes``, or a binary file object (pipes work: ``tcpdump -w -``).
            gzip-compressed captures are decompressed on the fly.
        decapsulate: rows describe the innermost IP header of tunnelled packets
            (IP-in-IP, 6in4, GRE, VXLAN, GTP-U, Teredo) instead of the outermost.
        on_error: "raise" (default) raises ``T2TInputError`` at a corrupt record;
            "warn" warns and stops there, keeping what came before.
        chunk_bytes: bytes read per chunk (default 8 MiB).
        live: return data as it arrives (for pipes) instead of waiting for full chunks.

    Raises:
        T2TInputError: not a capture, empty file, corrupt record (with ``on_error="raise"``).

    Warns:
        T2TInputWarning: a capture cut short in its last record (the rest is returned).
    """
    _check_options(decapsulate=decapsulate, on_error=on_error, chunk_bytes=chunk_bytes, live=live)
    return _iter_tables(source, decapsulate, on_error, chunk_bytes, live)


def _iter_tables(source, decapsulate, on_error, chunk_bytes, live) -> Iterator[PacketTable]:
    reader, pending = open_reader(source, chunk_bytes=chunk_bytes, on_error=on_error, live=live)
    try:
        for batch in reader.batches(pending):
            yield decode_records(batch, decapsulate=decapsulate)
    finally:
        reader.source.close()


def _check_options(**opts) -> None:
    """Bad options raise ``T2TInputError`` before any reading starts."""
    for name in ("decapsulate", "live", "allow_empty"):
        if name in opts and not isinstance(opts[name], bool):
            raise T2TInputError(f"{name} must be True or False, not {opts[name]!r}")
    cb = opts.get("chunk_bytes")
    if isinstance(cb, bool) or not isinstance(cb, (int, np.integer)) or cb <= 0:
        raise T2TInputError(f"chunk_bytes must be a positive integer number of bytes, not {cb!r}")
    if opts.get("on_error") not in ("raise", "warn"):
        raise T2TInputError(f"on_error must be 'raise' or 'warn', not {opts.get('on_error')!r}")


def read_capture(source, *, decapsulate: bool = False, on_error: str = "raise", chunk_bytes: int = CHUNK_BYTES,
                 allow_empty: bool = False) -> PacketTable:
    """Read a whole pcap/pcapng capture into one columnar :class:`PacketTable`.

    One row per frame that carries IP, describing its outermost IP header (or the
    innermost with ``decapsulate=True``). Frames without IP are counted in
    ``table.stats["non_ip"]`` by reason, never silently dropped.

    Args:
        source: a path, ``bytes`` or a binary file object; pcap (both byte orders,
            micro/nanosecond), pcapng, optionally gzip-compressed.
        decapsulate, on_error, chunk_bytes: as in :func:`iter_capture`.
        allow_empty: return an empty table for a capture with no packet records
            instead of raising.

    Returns:
        PacketTable (N rows; ``stats`` has records, ip, non_ip, decapsulated, truncated).

    Raises:
        T2TInputError: the file is not a capture, is empty, is corrupt, or an option is bad.
    """
    _check_options(decapsulate=decapsulate, on_error=on_error, chunk_bytes=chunk_bytes, allow_empty=allow_empty)
    reader, pending = open_reader(source, chunk_bytes=chunk_bytes, on_error=on_error)
    try:
        tables = [decode_records(b, decapsulate=decapsulate) for b in reader.batches(pending)]
    finally:
        reader.source.close()
    table = PacketTable.concat(tables)
    table.stats.setdefault("records", 0)
    table.stats.setdefault("ip", 0)
    table.stats.setdefault("non_ip", {})
    table.stats["truncated"] = bool(reader.truncated or reader.source.cut_short)
    if reader.error:
        table.stats["error"] = reader.error
    if table.stats["records"] == 0 and not allow_empty and not reader.error:
        raise T2TInputError("the capture holds no packets; capture some traffic first (or pass allow_empty=True)",
                            path=reader.source.name)
    return table
