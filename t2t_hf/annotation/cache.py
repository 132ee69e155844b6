"""On-disk caption cache: the same frames, prompt and model never cost a second request.

One small JSON file per entry under ``<dir>/<key[:2]>/<key>.json``, written to a
temporary file and moved into place with ``os.replace`` (atomic: a killed run
leaves either the whole entry or none). The key is a SHA-256 over the backend's
model name, :data:`~t2t_hf.annotation.prompt.PROMPT_VERSION`, the full prompt text
and the SHA-256 of every frame's pixels. Entries hold the caption, the raw
answer and token counts; never an API key or a URL.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

from ..fileio import atomic_write
from .prompt import PROMPT_VERSION


def default_cache_dir() -> Path:
    """``$T2T_ANNOTATION_CACHE``, else ``$XDG_CACHE_HOME/t2t_hf/annotation`` (``~/.cache/...``)."""
    env = os.environ.get("T2T_ANNOTATION_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "t2t_hf" / "annotation"


def cache_key(model_name: str, frame_hashes: Sequence[str], prompt: str, system: str | None,
              prompt_version: str = PROMPT_VERSION) -> str:
    """SHA-256 hex of (model, prompt version, prompt text, frame hashes)."""
    blob = json.dumps({"model": model_name, "prompt_version": prompt_version,
                       "prompt": hashlib.sha256(f"{system or ''}\n\n{prompt}".encode()).hexdigest(),
                       "frames": list(frame_hashes)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class CaptionCache:
    """Get/put caption entries (dicts) by key; thread- and process-safe by atomic replace."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.dir = Path(directory)

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The entry, or None when absent or unreadable (a damaged entry is a miss)."""
        try:
            with open(self._path(key), encoding="utf-8") as f:
                entry = json.load(f)
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) and isinstance(entry.get("caption"), str) else None

    def put(self, key: str, entry: dict) -> None:
        path = self._path(key)
        atomic_write(path, json.dumps(entry, ensure_ascii=False), make_parents=True)


__all__ = ["CaptionCache", "cache_key", "default_cache_dir"]
