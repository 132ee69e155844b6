"""Capture containers: classic pcap and pcapng, read in bounded-memory chunks.

This module only finds records and their metadata (time, lengths, link type,
interface); it does not look inside frames (see ``linklayer`` and ``ip``).

Supported:
    * classic pcap, both byte orders, microsecond (a1b2c3d4) and nanosecond
      (a1b23c4d) timestamps, and the "modified" Kuznetsov format (a1b2cd34);
    * pcapng: section header (both byte orders, several sections), interface
      description (link type, snap length, ``if_tsresol``, ``if_tsoffset``),
      enhanced, simple and obsolete packet blocks; every other block is skipped;
    * gzip-compressed files of either kind (as tshark reads them).
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import T2TInputError, T2TInputWarning
from . import kernels

#: Largest captured length accepted in a classic pcap record (bytes), as Wireshark's
#: default for most link types.
MAX_CAPLEN = 262_144
#: Largest pcapng block accepted (bytes).
MAX_BLOCK = 16 * 1024 * 1024 + 4096
#: Default bytes read per chunk.
CHUNK_BYTES = 8 * 1024 * 1024

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": (False, 1e-6, 16), b"\xa1\xb2\xc3\xd4": (True, 1e-6, 16),
    b"\x4d\x3c\xb2\xa1": (False, 1e-9, 16), b"\xa1\xb2\x3c\x4d": (True, 1e-9, 16),
    b"\x34\xcd\xb2\xa1": (False, 1e-6, 24), b"\xa1\xb2\xcd\x34": (True, 1e-6, 24),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
GZIP_MAGIC = b"\x1f\x8b"

_KNOWN_NOT_CAPTURES = {
    b"PK\x03\x04": "a ZIP archive", b"%PDF": "a PDF document", b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image", b"\x7fELF": "an ELF executable", b"BZh": "a bzip2 archive",
    b"\x28\xb5\x2f\xfd": "a zstd-compressed file (decompress it first)", b"\x04\x22\x4d\x18": "an LZ4 file (decompress it first)",
    b"\x00\x00\x00\x18ftyp": "an MP4 video", b"\x00\x00\x00\x20ftyp": "an MP4 video", b"\x1aE\xdf\xa3": "a Matroska/WebM video",
    b"snoop\x00": "a Solaris snoop capture (convert it with `editcap -F pcapng`)",
}


@dataclass
class RecordBatch:
    """Records of one chunk. ``buf`` holds the bytes; arrays have one entry per record.

    data_off (int64): offset of the frame's first byte in ``buf``.
    caplen / origlen (int64): captured / original frame length, bytes.
    timestamp (float64): seconds since the epoch, NaN when the record carries none.
    linktype (int64): LINKTYPE_* of the record's interface.
    interface_id (int64): pcapng interface id within its section (0 for pcap).
    record_index (int64): 0-based index of the record in the file.
    """

    buf: np.ndarray
    data_off: np.ndarray
    caplen: np.ndarray
    origlen: np.ndarray
    timestamp: np.ndarray
    linktype: np.ndarray
    interface_id: np.ndarray
    record_index: np.ndarray

    def __len__(self) -> int:
        return int(self.data_off.shape[0])


# --------------------------------------------------------------------------- sources
class ByteSource:
    """A readable byte stream over a path, bytes, or a binary file object.

    ``live=True`` returns whatever bytes are available (``read1``) instead of
    waiting for full chunks, for pipes such as ``tcpdump -w -``.
    """

    def __init__(self, src, live: bool = False):
        self._close = None
        self.live = live
        if isinstance(src, (bytes, bytearray, memoryview)):
            self.name = "<bytes>"
            f: BinaryIO = io.BytesIO(bytes(src))
        elif isinstance(src, (str, os.PathLike)):
            self.name = os.fspath(src)
            if os.path.isdir(self.name):
                raise T2TInputError("is a directory, not a capture file; pass a .pcap or .pcapng file", path=self.name)
            try:
                f = open(self.name, "rb")
            except FileNotFoundError:
                raise T2TInputError("file not found; check the path", path=self.name) from None
            except OSError as e:
                raise T2TInputError(f"cannot open file ({e.strerror})", path=self.name) from None
            self._close = f
        elif hasattr(src, "read"):
            self.name = str(getattr(src, "name", "<stream>"))
            f = src
        else:
            raise T2TInputError(
                f"cannot read a capture from {type(src).__name__}; pass a path, bytes or a binary file object")
        self._f = f
        self._pushback = b""
        self.gzip = False
        self._eof = False
        self.cut_short = False  # a gzip stream that ends before its end-of-stream marker
        head = self._raw_read(2)
        self.gzip = head == GZIP_MAGIC
        if self.gzip:
            self._f = gzip.GzipFile(fileobj=_Prefixed(head, f), mode="rb")
        else:
            self._pushback = head

    def _raw_read(self, n: int) -> bytes:
        if self._eof:
            return b""
        try:
            if self.gzip:
                return self._gzip_read(n)
            if self.live and hasattr(self._f, "read1"):
                out = self._f.read1(n)
            else:
                out = self._f.read(n)
        except (OSError, EOFError, zlib.error) as e:
            raise T2TInputError(f"read failed ({e}); the file is damaged or not a capture", path=self.name) from None
        if isinstance(out, bytes):
            return out
        if isinstance(out, (bytearray, memoryview)):
            return bytes(out)
        if out is None:  # a non-blocking stream with nothing to read yet
            return b""
        if isinstance(out, str):
            raise T2TInputError("the file object is open in text mode; open captures in binary mode ('rb')",
                                path=self.name)
        raise T2TInputError(f"the file object returned {type(out).__name__} instead of bytes; pass a binary file",
                            path=self.name)

    def _gzip_read(self, n: int) -> bytes:
        """Up to ``n`` decompressed bytes. A gzip file cut short gives what came before the cut
        (and sets ``cut_short``), as tshark does; corrupt compressed data is an input error."""
        parts = []
        got = 0
        while got < n:
            try:
                piece = self._f.read1(n - got)
            except EOFError:  # the compressed stream ends before its end marker: the file was cut
                self._eof = True
                self.cut_short = True
                warnings.warn(f"{self.name}: the gzip-compressed capture is cut short; reading the packets "
                              "before the cut", T2TInputWarning, stacklevel=6)
                break
            if not piece:
                break
            parts.append(piece)
            got += len(piece)
            if self.live:
                break
        return b"".join(parts)

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; b"" at end of stream."""
        if self._pushback:
            out, self._pushback = self._pushback, b""
            if len(out) < n:
                more = self._raw_read(n - len(out))
                if more:
                    out += more
            return out
        return self._raw_read(n)

    def read_exact(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or fewer only at end of stream."""
        out = b""
        while len(out) < n:
            more = self.read(n - len(out))
            if not more:
                break
            out += more
        return out

    def close(self) -> None:
        if self._close is not None:
            self._close.close()


class _Prefixed(io.RawIOBase):
    """A file object that first returns ``prefix`` and then reads from ``f``."""

    def __init__(self, prefix: bytes, f):
        self._prefix = prefix
        self._f = f

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._prefix:
            n = min(len(b), len(self._prefix))
            b[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._f.read(len(b))
        b[: len(data)] = data
        return len(data)


# --------------------------------------------------------------------------- helpers
_AR4 = np.arange(4, dtype=np.int64)
_AR16 = np.arange(16, dtype=np.int64)
_AR2 = np.arange(2, dtype=np.int64)


def _words(buf: np.ndarray, off: np.ndarray, width: int, big) -> np.ndarray:
    """Unsigned ``width``-byte integers at byte offsets ``off`` (int64), as int64.

    One gather of ``width`` bytes per offset, then a zero-copy view in the requested byte
    order; ``big`` is a bool or a bool array (per-offset byte order, for pcapng sections).
    Offsets are clipped into the buffer (callers only ask for bytes they have checked).
    """
    off = np.asarray(off, dtype=np.int64)
    raw = buf.take(off[:, None] + (_AR4 if width == 4 else _AR2), mode="clip")
    le = raw.view("<u4" if width == 4 else "<u2")[:, 0].astype(np.int64)
    if big is False:
        return le
    be = raw.view(">u4" if width == 4 else ">u2")[:, 0].astype(np.int64)
    if big is True:
        return be
    return np.where(big, be, le)


def _u32(buf: np.ndarray, off: np.ndarray, big) -> np.ndarray:
    """Unsigned 32-bit values at byte offsets ``off`` (int64); ``big`` is a bool or a bool array."""
    return _words(buf, off, 4, big)


def _u16(buf: np.ndarray, off: np.ndarray, big) -> np.ndarray:
    return _words(buf, off, 2, big)


def not_a_capture_message(head: bytes) -> str:
    """A helpful message for a file whose first bytes are not a capture magic."""
    if not head:
        return "the file is empty (0 bytes); it is not a capture"
    for magic, what in _KNOWN_NOT_CAPTURES.items():
        if head.startswith(magic) or head[4:].startswith(magic[4:]) and magic[4:] and head[:4] == magic[:4]:
            return f"this is {what}, not a pcap or pcapng capture"
    if head[:4] in (b"\x00\x00\x00\x18", b"\x00\x00\x00\x1c", b"\x00\x00\x00\x20") and head[4:8] == b"ftyp":
        return "this is an MP4/MOV video, not a pcap or pcapng capture"
    printable = sum(32 <= c < 127 or c in (9, 10, 13) for c in head[:64])
    if printable == len(head[:64]):
        return ("this is a text file, not a pcap or pcapng capture; save captures from tcpdump with -w, or "
                "from Wireshark as pcap/pcapng")
    return (f"not a pcap or pcapng capture (first bytes {head[:4].hex(' ')}); convert other formats with "
            "`editcap -F pcapng in out.pcapng`")


# --------------------------------------------------------------------------- readers
class _Walker:
    """Shared chunk loop: keep the unconsumed tail, grow reads for large records."""

    name: str

    def __init__(self, source: ByteSource, chunk_bytes: int, on_error: str):
        self.source = source
        self.chunk_bytes = max(int(chunk_bytes), 4096)
        self.on_error = on_error
        self.records = 0  # records emitted so far
        self.file_pos = 0  # file offset of the start of the pending tail
        self.truncated = False
        self.error: str | None = None

    def _fail(self, message: str, offset: int) -> None:
        if self.on_error == "raise":
            raise T2TInputError(message + "; pass on_error='warn' to keep the packets before this point",
                                path=self.source.name, offset=offset, record=self.records)
        warnings.warn(f"{self.source.name}: byte offset {offset}, record {self.records}: {message}; "
                      "stopped reading here and kept the packets before it", T2TInputWarning, stacklevel=4)
        self.error = message

    def batches(self, pending: bytes) -> Iterator[RecordBatch]:
        want = self.chunk_bytes
        eof = False
        while not eof:
            data = self.source.read(want)
            if not data:
                eof = True
            if data:
                pending = pending + data if pending else data
            if not pending:
                break
            buf = np.frombuffer(pending, dtype=np.uint8)
            batch, used, need, err = self.parse(buf)
            if batch is not None and len(batch):
                yield batch
            if err is not None:
                self._fail(err, self.file_pos + used)
                return
            self.file_pos += used
            pending = pending[used:]
            # a record larger than what we hold: read enough for it in one go
            want = max(self.chunk_bytes, need - len(pending)) if need > len(pending) else self.chunk_bytes
            if eof and pending:
                self.truncated = True
                warnings.warn(
                    f"{self.source.name}: the capture appears to have been cut short in the middle of a packet "
                    f"(record {self.records}, byte offset {self.file_pos}: {len(pending)} bytes of an incomplete "
                    "record); the packets before it were read", T2TInputWarning, stacklevel=4)

    def parse(self, buf: np.ndarray):  # pragma: no cover - abstract
        raise NotImplementedError


class PcapReader(_Walker):
    """Classic pcap (libpcap) files."""

    def __init__(self, source: ByteSource, header: bytes, chunk_bytes: int = CHUNK_BYTES, on_error: str = "raise"):
        super().__init__(source, chunk_bytes, on_error)
        self.big, self.resolution, self.hdr_len = PCAP_MAGICS[header[:4]]
        if len(header) < 24:
            raise T2TInputError(f"pcap file header is cut short ({len(header)} of 24 bytes)", path=source.name,
                                offset=len(header))
        e = ">" if self.big else "<"
        _, _, _, _, self.snaplen, network = struct.unpack(e + "HHiIII", header[4:24])
        self.linktype = network & 0x0FFFFFFF & 0xFFFF
        self.file_pos = 24

    def parse(self, buf: np.ndarray):
        end = buf.shape[0]
        out = np.empty(end // self.hdr_len + 1, dtype=np.int64)
        n, pos, status = kernels.walk_pcap(buf, 0, end, self.big, self.hdr_len, MAX_CAPLEN, out)
        err = None
        need = 0
        if status != kernels.OK:
            incl = int(_u32(buf, np.array([pos + 8]), self.big)[0])
            err = (f"record length {incl} bytes exceeds the maximum of {MAX_CAPLEN}; the file is corrupt "
                   "(or not a pcap file with this byte order)")
        elif pos + self.hdr_len <= end:
            need = self.hdr_len + int(_u32(buf, np.array([pos + 8]), self.big)[0])
        else:
            need = self.hdr_len
        off = out[:n]
        # one gather of the 16-byte record headers, viewed as four 32-bit words
        heads = sliding_window_view(buf, 16)[off] if n >= 512 else buf[off[:, None] + _AR16]
        words = heads.view(">u4" if self.big else "<u4")
        sec = words[:, 0].astype(np.int64)
        frac = words[:, 1].astype(np.int64)
        batch = RecordBatch(
            buf=buf, data_off=off + self.hdr_len, caplen=words[:, 2].astype(np.int64),
            origlen=words[:, 3].astype(np.int64), timestamp=sec + frac * self.resolution,
            linktype=np.full(n, self.linktype, np.int64), interface_id=np.zeros(n, np.int64),
            record_index=np.arange(self.records, self.records + n, dtype=np.int64))
        self.records += n
        return batch, pos, need, err


@dataclass
class _Interface:
    linktype: int
    snaplen: int
    units: int = 1_000_000  # timestamp units per second
    offset: int = 0  # if_tsoffset, seconds


class PcapngReader(_Walker):
    """pcapng files: sections, interfaces, enhanced/simple/obsolete packet blocks."""

    def __init__(self, source: ByteSource, chunk_bytes: int = CHUNK_BYTES, on_error: str = "raise"):
        super().__init__(source, chunk_bytes, on_error)
        self.big = False
        self.interfaces: list[_Interface] = []  # of the current section
        self.seen_shb = False

    def parse(self, buf: np.ndarray):
        end = buf.shape[0]
        cap = end // 12 + 1
        offs = np.empty(cap, np.int64)
        types = np.empty(cap, np.int64)
        bigs = np.empty(cap, np.bool_)
        n, pos, big, status = kernels.walk_pcapng(buf, 0, end, self.big, MAX_BLOCK, offs, types, bigs)
        offs, types, bigs = offs[:n], types[:n], bigs[:n]
        err = None
        need = 0
        if status == kernels.BAD_BOM:
            err = "section header block with an unknown byte-order magic; the file is corrupt"
        elif status == kernels.BAD_LENGTH:
            err = "block length is not a multiple of 4 or below 12 bytes; the file is corrupt"
        elif status == kernels.TOO_LARGE:
            err = f"block larger than {MAX_BLOCK} bytes; the file is corrupt"
        elif status == kernels.LENGTH_MISMATCH:
            err = "block's trailing length differs from its leading length; the file is corrupt"
        elif pos + 12 <= end:
            need = int(_u32(buf, np.array([pos + 4]), big if int(_u32(buf, np.array([pos]), big)[0]) != kernels.SHB
                            else self._bom_big(buf, pos))[0])
        else:
            need = 12

        is_pkt = (types == 6) | (types == 3) | (types == 2)
        ctrl = np.flatnonzero(~is_pkt)
        pkt = np.flatnonzero(is_pkt)
        # Walk control blocks in order; snapshot the interface table after each.
        snapshots: list[tuple[int, list[_Interface]]] = [(len(self.interfaces), self.interfaces)]
        stop_block = n
        ctrl_err = None
        for i in ctrl:
            t = int(types[i])
            if t == kernels.SHB:
                self.seen_shb = True
                self.big = bool(bigs[i])
                self.interfaces = []
            elif not self.seen_shb:
                ctrl_err = "first block is not a section header block"
            elif t == 1:
                iface = self._parse_idb(buf, int(offs[i]), bool(bigs[i]))
                if iface is None:
                    ctrl_err = "malformed interface description block (bad options or timestamp resolution)"
                else:
                    # a section's interface list only grows: snapshots share it and keep its length
                    self.interfaces.append(iface)
            if ctrl_err is not None:
                err = ctrl_err
                stop_block = int(i)
                break
            snapshots.append((len(self.interfaces), self.interfaces))
        if stop_block < n:
            pkt = pkt[pkt < stop_block]
            ctrl = ctrl[ctrl < stop_block]
            pos = int(offs[stop_block])
        elif err is None:
            self.big = big

        # Which snapshot applies to each packet block: number of control blocks before it.
        k = np.searchsorted(ctrl, pkt)
        m = pkt.size
        po = offs[pkt]
        pt = types[pkt]
        pb = bigs[pkt]
        blen = _u32(buf, po + 4, pb)
        is_spb = pt == 3
        is_opb = pt == 2
        if_id = np.where(is_opb, _u16(buf, po + 8, pb), _u32(buf, po + 8, pb))
        if_id = np.where(is_spb, 0, if_id)
        nif = np.array([s[0] for s in snapshots], np.int64)[k] if m else np.zeros(0, np.int64)
        bad_if = if_id >= nif
        if bad_if.any():
            j = int(np.argmax(bad_if))
            err = err or (f"packet block refers to interface {int(if_id[j])} but only {int(nif[j])} "
                          "interface(s) are described before it; the file is corrupt")
            keep = np.arange(m) < j
            pos = int(po[j]) if err else pos
            po, pt, pb, blen, is_spb, is_opb, if_id, k = (x[keep] for x in (po, pt, pb, blen, is_spb, is_opb, if_id, k))
            m = po.size
        # Interface properties per packet: each section's interfaces laid end to end in flat
        # arrays, so a packet's interface is (its section's base) + if_id, looked up in one go.
        if m:
            base_of: dict[int, int] = {}
            flat: list[_Interface] = []
            bases = np.empty(len(snapshots), np.int64)
            for j, (_, lst) in enumerate(snapshots):
                b = base_of.get(id(lst))
                if b is None:
                    b = base_of[id(lst)] = len(flat)
                    flat.extend(lst)
                bases[j] = b
            g = bases[k] + if_id
            linktype = np.array([x.linktype for x in flat], np.int64)[g]
            units = np.array([x.units for x in flat], np.int64)[g]
            tsoff = np.array([x.offset for x in flat], np.int64)[g]
            snap = np.array([x.snaplen for x in flat], np.int64)[g]
        else:
            linktype = np.zeros(0, np.int64)
            units = np.ones(0, np.int64)
            tsoff = np.zeros(0, np.int64)
            snap = np.zeros(0, np.int64)
        # EPB/OPB fields (SPB fields fixed up below).
        data_off = np.where(is_spb, po + 12, po + 28)
        caplen = np.where(is_spb, 0, _u32(buf, po + 20, pb))
        origlen = np.where(is_spb, _u32(buf, po + 8, pb), _u32(buf, po + 24, pb))
        spb_cap = np.minimum(origlen, blen - 16)
        spb_cap = np.where(snap > 0, np.minimum(spb_cap, snap), spb_cap)
        caplen = np.where(is_spb, spb_cap, caplen)
        too_long = np.where(is_spb, False, caplen > blen - 32)
        if too_long.any():
            j = int(np.argmax(too_long))
            err = err or (f"packet block of {int(blen[j])} bytes is too small for its {int(caplen[j])}-byte "
                          "captured length; the file is corrupt")
            pos = int(po[j])
            keep = np.arange(m) < j
            (data_off, caplen, origlen, linktype, units, tsoff, if_id, po, pb, is_spb) = (
                x[keep] for x in (data_off, caplen, origlen, linktype, units, tsoff, if_id, po, pb, is_spb))
            m = po.size
        hi = _u32(buf, po + 12, pb).astype(np.uint64)
        lo = _u32(buf, po + 16, pb).astype(np.uint64)
        ts = (hi << np.uint64(32)) | lo
        u = units.astype(np.uint64)
        sec = (ts // u).astype(np.float64)
        frac = (ts % u).astype(np.float64) / units
        timestamp = np.where(is_spb, np.nan, sec + frac + tsoff)
        batch = RecordBatch(buf=buf, data_off=data_off, caplen=caplen, origlen=origlen, timestamp=timestamp,
                            linktype=linktype, interface_id=if_id,
                            record_index=np.arange(self.records, self.records + m, dtype=np.int64))
        self.records += m
        return batch, pos, need, err

    @staticmethod
    def _bom_big(buf: np.ndarray, pos: int) -> bool:
        return bytes(buf[pos + 8:pos + 12]) == b"\x1a\x2b\x3c\x4d"

    @staticmethod
    def _parse_idb(buf: np.ndarray, o: int, big: bool) -> _Interface | None:
        e = ">" if big else "<"
        raw = buf[o:o + struct.unpack_from(e + "I", buf, o + 4)[0]].tobytes()
        if len(raw) < 20:
            return None
        linktype, _, snaplen = struct.unpack(e + "HHI", raw[8:16])
        iface = _Interface(linktype=linktype, snaplen=snaplen)
        p = 16
        stop = len(raw) - 4
        while p + 4 <= stop:
            code, length = struct.unpack(e + "HH", raw[p:p + 4])
            val = raw[p + 4:p + 4 + length]
            if code == 0 or len(val) < length:
                break
            if code == 9 and length >= 1:  # if_tsresol
                r = val[0]
                exp = r & 0x7F
                if exp > 63 if r & 0x80 else exp > 18:
                    return None
                iface.units = (2 ** exp) if r & 0x80 else (10 ** exp)
            elif code == 14 and length >= 8:  # if_tsoffset
                iface.offset = struct.unpack(e + "q", val[:8])[0]
            p += 4 + ((length + 3) & ~3)
        return iface


def open_reader(src, *, chunk_bytes: int = CHUNK_BYTES, on_error: str = "raise", live: bool = False):
    """Open a capture and return ``(reader, pending_bytes)``; iterate ``reader.batches(pending)``.

    Raises:
        T2TInputError: not a capture, empty, or an unreadable source.
    """
    if on_error not in ("raise", "warn"):
        raise T2TInputError(f"on_error must be 'raise' or 'warn', not {on_error!r}")
    source = ByteSource(src, live=live)
    head = source.read_exact(4)
    if len(head) < 4:
        source.close()
        if source.gzip:
            raise T2TInputError("the gzip-compressed file holds no capture (it is empty or cut short)",
                                path=source.name)
        raise T2TInputError(not_a_capture_message(head) if head else "the file is empty (0 bytes); it is not a capture",
                            path=source.name)
    if head in PCAP_MAGICS:
        rest = source.read_exact(20)
        header = head + rest
        if len(header) < 24:
            source.close()
            raise T2TInputError(f"pcap file header is cut short ({len(header)} of 24 bytes)", path=source.name,
                                offset=len(header))
        return PcapReader(source, header, chunk_bytes, on_error), b""
    if head == PCAPNG_MAGIC:
        return PcapngReader(source, chunk_bytes, on_error), head
    more = source.read_exact(60)
    source.close()
    raise T2TInputError(not_a_capture_message(head + more), path=source.name)
