"""Atomic file writes: a temporary file in the target's folder, then ``os.replace``.

A killed or failing write leaves the old file (or none) and no half-written one. The new file or folder gets
the permissions an ordinary ``open``/``mkdir`` would give it (0o666 / 0o777 less the umask), not the owner-only
modes of ``tempfile``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import T2TInputError


def _umask() -> int:
    """The process umask, read without changing it (Linux: /proc/self/status), else the usual 0o022."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


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
    os.chmod(tmp, 0o666 & ~_umask())
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


@contextlib.contextmanager
def atomic_dir(path) -> Iterator[Path]:
    """Yield a new empty folder beside ``path`` (its parents are created); when the block succeeds the folder
    replaces ``path`` (an existing ``path`` is renamed aside first, then deleted), when it fails the folder is
    removed and ``path`` is left as it was (also when the final rename fails: the old folder is put back).
    Readers never see a half-written folder at ``path``; for the instant between the two renames ``path`` is
    absent."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
            os.replace(path, old / path.name)
        try:
            os.replace(tmp, path)
        except BaseException:
            if old is not None:
                os.replace(old / path.name, path)
                shutil.rmtree(old, ignore_errors=True)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
