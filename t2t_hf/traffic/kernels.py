"""The two loops that cannot be vectorised: walking the records of a chunk.

Each record's position depends on the length of the one before, so finding
record boundaries is a sequential pointer chase. These kernels do only that
(a few instructions per record); everything else is vectorised numpy.

They are compiled with numba when it is installed, and run as plain Python
otherwise (same code, same results, about 50x slower).
"""

from __future__ import annotations

import os

import numpy as np


def _jit(fn):
    """Compile ``fn`` with numba on its first call (numba is imported lazily, so importing
    t2t_hf stays fast). Without numba, or with T2T_DISABLE_JIT=1, ``fn`` runs as Python.
    The plain function stays available as ``.py_func``."""
    compiled = []

    def call(*args):
        if not compiled:
            f = fn
            if os.environ.get("T2T_DISABLE_JIT") != "1":
                try:
                    from numba import njit

                    f = njit(cache=True, nogil=True)(fn)
                except Exception:  # numba missing or unusable: plain Python
                    f = fn
            compiled.append(f)
        return compiled[0](*args)

    call.py_func = fn
    call.__name__ = fn.__name__
    call.__doc__ = fn.__doc__
    return call


# status codes returned by the walkers
OK = 0
BAD_LENGTH = 1  # a record/block length that cannot be right
BAD_BOM = 2  # pcapng section header with an unknown byte-order magic
TOO_LARGE = 3  # a block larger than MAX_BLOCK
LENGTH_MISMATCH = 4  # pcapng block whose trailing length differs from its leading length

SHB = 0x0A0D0D0A


@_jit
def walk_pcap(buf, pos, end, big, hdr_len, max_caplen, out):
    """Find classic-pcap record offsets in ``buf[pos:end]``.

    Args:
        buf: uint8 array holding the chunk.
        pos: offset of the first record header.
        end: offset one past the last valid byte.
        big: True for big-endian files.
        hdr_len: record header length in bytes (16, or 24 for the modified format).
        max_caplen: largest plausible captured length in bytes.
        out: int64 array receiving record-header offsets (capacity = its length).

    Returns:
        (count, next_pos, status): ``count`` offsets written; ``next_pos`` is the
        first byte not consumed (the start of an incomplete record, or of the bad
        one when status != OK).
    """
    n = 0
    cap = out.shape[0]
    while pos + hdr_len <= end and n < cap:
        q = pos + 8
        incl = (((np.int64(buf[q]) << 24) | (np.int64(buf[q + 1]) << 16) | (np.int64(buf[q + 2]) << 8) | np.int64(buf[q + 3])) if big else ((np.int64(buf[q + 3]) << 24) | (np.int64(buf[q + 2]) << 16) | (np.int64(buf[q + 1]) << 8) | np.int64(buf[q])))
        if incl > max_caplen:
            return n, pos, BAD_LENGTH
        nxt = pos + hdr_len + incl
        if nxt > end:
            break
        out[n] = pos
        n += 1
        pos = nxt
    return n, pos, OK


@_jit
def walk_pcapng(buf, pos, end, big, max_block, out_off, out_type, out_big):
    """Find pcapng block offsets and types in ``buf[pos:end]``.

    Section header blocks switch the byte order for the blocks after them.

    Returns:
        (count, next_pos, big, status), ``big`` being the byte order in force at
        ``next_pos``. Offsets, block types and per-block byte order are written
        to ``out_off`` (int64), ``out_type`` (int64) and ``out_big`` (bool).
    """
    n = 0
    cap = out_off.shape[0]
    while pos + 12 <= end and n < cap:
        q = pos
        btype = (((np.int64(buf[q]) << 24) | (np.int64(buf[q + 1]) << 16) | (np.int64(buf[q + 2]) << 8) | np.int64(buf[q + 3])) if big else ((np.int64(buf[q + 3]) << 24) | (np.int64(buf[q + 2]) << 16) | (np.int64(buf[q + 1]) << 8) | np.int64(buf[q])))
        blk_big = big
        if btype == SHB:
            b0 = buf[pos + 8]
            if b0 == 0x4D and buf[pos + 9] == 0x3C and buf[pos + 10] == 0x2B and buf[pos + 11] == 0x1A:
                blk_big = False
            elif b0 == 0x1A and buf[pos + 9] == 0x2B and buf[pos + 10] == 0x3C and buf[pos + 11] == 0x4D:
                blk_big = True
            else:
                return n, pos, big, BAD_BOM
        q = pos + 4
        blen = (((np.int64(buf[q]) << 24) | (np.int64(buf[q + 1]) << 16) | (np.int64(buf[q + 2]) << 8) | np.int64(buf[q + 3])) if blk_big else ((np.int64(buf[q + 3]) << 24) | (np.int64(buf[q + 2]) << 16) | (np.int64(buf[q + 1]) << 8) | np.int64(buf[q])))
        if blen < 12 or (blen & 3) != 0:
            return n, pos, big, BAD_LENGTH
        if blen > max_block:
            return n, pos, big, TOO_LARGE
        if pos + blen > end:
            break
        q = pos + blen - 4
        trail = (((np.int64(buf[q]) << 24) | (np.int64(buf[q + 1]) << 16) | (np.int64(buf[q + 2]) << 8) | np.int64(buf[q + 3])) if blk_big else ((np.int64(buf[q + 3]) << 24) | (np.int64(buf[q + 2]) << 16) | (np.int64(buf[q + 1]) << 8) | np.int64(buf[q])))
        if trail != blen:
            return n, pos, big, LENGTH_MISMATCH
        out_off[n] = pos
        out_type[n] = btype
        out_big[n] = blk_big
        n += 1
        big = blk_big
        pos += blen
    return n, pos, big, OK
