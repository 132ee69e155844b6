"""Atomic file writes: a temporary file in the target's folder, then ``os.replace``.

A killed or failing write leaves the old file (or none) and no half-written one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import T2TInputError


@contextlib.contextmanager
def atomic_path(path, *, make_parents: bool = False) -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    Raises:
        T2TInputError: the folder of ``path`` does not exist (unless ``make_parents``).
    """
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.parent.exists():
        raise T2TInputError(f"directory {path.parent} does not exist; create it first", path=str(path))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path, data: bytes | str, *, make_parents: bool = False) -> Path:
    """Write ``data`` (bytes, or text as UTF-8 with no newline translation) to ``path`` atomically."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_path(path, make_parents=make_parents) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return Path(path)
