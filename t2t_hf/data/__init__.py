"""Corpus data: one schema, three sources, and the published dataset.

- :mod:`t2t_hf.data.schema`: the typed ``datasets.Features`` of one example (= one window) and
  :func:`~t2t_hf.data.schema.validate_example`.
- :mod:`t2t_hf.data.sim`: T2T-Sim, the generator of smartphone traffic with captions.
- :mod:`t2t_hf.data.knocking`: the real Facebook-action flows of Conti et al. (TIFS 2016).
- :mod:`t2t_hf.data.caption_files`: time-stamped caption files (JSONL, SRT).
- :mod:`t2t_hf.data.builders`: :class:`T2TCaptionsBuilder`, a ``datasets.GeneratorBasedBuilder``
  with configs ``sim``, ``sim_cross_env``, ``knocking`` and ``pcap``.
- :mod:`t2t_hf.data.export`: writes the parquet + dataset card folder that ``load_dataset`` reads.

Importing this package is cheap: the names below load their module on first use.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "T2TCaptionsBuilder": "builders",
    "T2TCaptionsConfig": "builders",
    "load_corpus": "builders",
    "COLUMNS": "schema",
    "features": "schema",
    "validate_example": "schema",
    "CaptionRecord": "caption_files",
    "read_caption_file": "caption_files",
    "write_caption_file": "caption_files",
    "export_dataset": "export",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
