"""``datasets`` builders for the traffic-caption corpus (datasets 5 has no loading scripts).

Use the builder class directly::

    from t2t_hf.data.builders import T2TCaptionsBuilder
    builder = T2TCaptionsBuilder(config_name="sim", num_windows=2000, cache_dir="cache")
    builder.download_and_prepare()
    ds = builder.as_dataset()            # DatasetDict: train / validation / test

or :func:`load_corpus` (the same in one call). Configs, all with the schema of
:mod:`t2t_hf.data.schema`:

``sim``
    T2T-Sim windows (:func:`t2t_hf.data.sim.generate_examples`), generated
    per (user, environment) cell with ``num_windows / 16`` windows each and a
    seed per cell (:func:`generate_sim_cell`), so every split is a union of
    cells and the exported folder holds exactly what the builder builds.
    The default 3,840 windows give each cell 20 sessions, one per app.
    Splits by user: the test users are *unseen* in training. With the 8
    users ``user01..user08``: train = user01-user05, validation = user06,
    test = user07-user08; both environments in every split.
``sim_cross_env``
    The same generator, split by environment: train = Wi-Fi windows of every
    user but the validation user, validation = Wi-Fi windows of user06,
    test = cellular windows of all users. Model selection sees no cellular
    traffic, so the test measures transfer to an unseen network environment.
``knocking``
    Real Facebook-action flows of Conti et al. (IEEE TIFS 2016) from
    ``data_dir`` (the folder with ``traffic.mat``; see
    :mod:`t2t_hf.data.knocking`). One example per action instance; split
    80/10/10 per action label, deterministically from ``seed``.
``pcap``
    The user's own captures with caption files: ``capture.pcap`` (or
    ``.pcapng``/``.cap``, optionally ``.gz``) beside ``capture.jsonl`` or ``capture.srt`` (see
    :mod:`t2t_hf.data.caption_files`). Give ``data_dir`` (subfolders
    ``train``/``validation``/``test`` become splits; otherwise everything is
    ``train``) or ``data_files`` (``{"train": [...], "test": [...]}``; caption
    files are found beside each capture). Each capture is cut into windows of
    the phone (the most active device unless ``device`` is given); a window's
    caption is the caption record overlapping it most, and windows no record
    overlaps are dropped. No address leaves the capture: windows carry sizes,
    directions, protocols and times only, and IP/MAC-like strings in captions
    or file names are replaced by ``<address>``.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import datasets
from datasets.exceptions import DatasetGenerationError

from ..errors import T2TInputError
from . import schema
from .caption_files import (CAPTION_SUFFIXES, CAPTURE_SUFFIXES, best_caption, caption_times_on_capture_clock,
                            capture_stem, find_caption_file, read_caption_file)

T2T_CITATION = """@inproceedings{liu2026t2t,
  title         = {T2T: Captioning Smartphone Activities Using Mobile Traffic},
  author        = {Liu, Jiyu and Huang, Yong and Lu, Yanzhao and Tie, Yun and Tu, Wanqing},
  booktitle     = {International Joint Conference on Neural Networks (IJCNN)},
  year          = {2026},
  eprint        = {2604.05642},
  archivePrefix = {arXiv}
}"""

_DESCRIPTION = ("Traffic-caption pairs: per-window encrypted smartphone traffic (packet sizes, directions, "
                "protocols, timing; no payload, no addresses) with plain-English captions of what the user does.")

#: default number of windows of the sim configs: 16 (user, environment) cells x 240 windows, so that every
#: cell visits all 20 apps (the full set of the paper's size has 40,000)
DEFAULT_SIM_WINDOWS = 3840


@dataclass
class T2TCaptionsConfig(datasets.BuilderConfig):
    """Options of one corpus config (a dataclass; every field can be overridden as a builder kwarg).

    Attributes:
        source: ``sim``, ``knocking`` or ``pcap``.
        split_by: for ``sim``: ``user`` (unseen-user test) or ``environment`` (cross-environment test).
        num_windows: for ``sim``: windows in the whole corpus, all splits together.
        seed: generator seed (``sim``) or split seed (``knocking``).
        window: window length in seconds (``sim`` and ``pcap``).
        stride: for ``pcap``: seconds between window starts (None = ``window``, no overlap).
        num_proc: for ``sim``: generator processes (the result does not depend on it).
        validation_users, test_users: for ``sim``: user names (None = the defaults above).
        train_environment, test_environment: for ``sim_cross_env``.
        device: for ``pcap``: the phone's address in the captures (None = most active device).
        caption_time_base: for ``pcap``: ``auto``, ``relative`` or ``absolute`` caption times
            (see :func:`t2t_hf.data.caption_files.caption_times_on_capture_clock`).
        min_caption_overlap: for ``pcap``: seconds a caption must overlap a window to label it.
        user, environment: for ``pcap``: labels for records that do not carry their own.
        input_fingerprint: set by the builder from the input files' names, sizes and times, so that
            changed inputs get a fresh cache.
    """

    source: str = "sim"
    split_by: str = "user"
    num_windows: int = DEFAULT_SIM_WINDOWS
    seed: int = 0
    window: float = 10.0
    stride: float | None = None
    num_proc: int = 1
    validation_users: tuple | None = None
    test_users: tuple | None = None
    train_environment: str = "wifi"
    test_environment: str = "cellular"
    device: str | None = None
    caption_time_base: str = "auto"
    min_caption_overlap: float = 0.0
    user: str = "unknown"
    environment: str = "unknown"
    input_fingerprint: str | None = None


class T2TCaptionsBuilder(datasets.GeneratorBasedBuilder):
    """Builds the traffic-caption corpus; configs ``sim``, ``sim_cross_env``, ``knocking``, ``pcap``
    (see the module docstring). Example keys are the example ``id``s, so builds are reproducible."""

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIG_CLASS = T2TCaptionsConfig
    BUILDER_CONFIGS = [
        T2TCaptionsConfig(name="sim", source="sim", split_by="user", version=VERSION,
                          description="T2T-Sim windows; test users unseen in training."),
        T2TCaptionsConfig(name="sim_cross_env", source="sim", split_by="environment", version=VERSION,
                          description="T2T-Sim windows; train on Wi-Fi, test on cellular."),
        T2TCaptionsConfig(name="knocking", source="knocking", version=VERSION,
                          description="Real Facebook-action flows (Conti et al., TIFS 2016); data_dir required."),
        T2TCaptionsConfig(name="pcap", source="pcap", version=VERSION,
                          description="Your own captures with JSONL/SRT caption files; data_dir or data_files."),
    ]
    DEFAULT_CONFIG_NAME = "sim"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("dataset_name", "t2t_traffic_captions")
        data_dir = kwargs.get("data_dir")
        if data_dir is not None and "input_fingerprint" not in kwargs:
            kwargs["input_fingerprint"] = _fingerprint_dir(Path(data_dir))
        try:
            super().__init__(*args, **kwargs)
        except FileNotFoundError as e:
            raise T2TInputError(f"data files not found: {e}") from None
        except ValueError as e:
            if isinstance(e, T2TInputError):
                raise
            raise T2TInputError(str(e)) from None
        cfg = self.config
        if cfg.source not in ("sim", "knocking", "pcap"):
            raise T2TInputError(f"unknown source {cfg.source!r}; use sim, knocking or pcap")
        if cfg.source in ("sim", "pcap") and not (cfg.window > 0 and math.isfinite(cfg.window)):
            raise T2TInputError(f"window must be a positive number of seconds, got {cfg.window}")
        if cfg.source == "sim" and (int(cfg.num_windows) < 1):
            raise T2TInputError(f"num_windows must be at least 1, got {cfg.num_windows}")

    def download_and_prepare(self, *args, **kwargs):
        """As in ``datasets``, but bad input surfaces as T2TInputError, not as DatasetGenerationError."""
        try:
            return super().download_and_prepare(*args, **kwargs)
        except DatasetGenerationError as e:
            cause = e.__cause__
            while cause is not None and not isinstance(cause, T2TInputError):
                cause = cause.__cause__
            if cause is not None:
                raise cause from None
            raise

    def _info(self) -> datasets.DatasetInfo:
        citation = T2T_CITATION
        if self.config.source == "knocking":
            from .knocking import CITATION
            citation += "\n" + CITATION
        return datasets.DatasetInfo(description=_DESCRIPTION, features=schema.features(), citation=citation,
                                    license="GPL-3.0" if self.config.source == "knocking" else "CC-BY-4.0")

    # -- splits --------------------------------------------------------------
    def _split_generators(self, dl_manager):
        src = self.config.source
        if src == "sim":
            return [datasets.SplitGenerator(name=name, gen_kwargs=kw) for name, kw in self._sim_splits().items()]
        if src == "knocking":
            from .knocking import resolve_path
            resolve_path(self.config.data_dir)  # fail early, clearly
            return [datasets.SplitGenerator(name=s, gen_kwargs={"split": s}) for s in ("train", "validation", "test")]
        return [datasets.SplitGenerator(name=s, gen_kwargs={"captures": caps})
                for s, caps in self._pcap_splits().items()]

    def _generate_examples(self, **kwargs) -> Iterator[tuple[str, dict]]:
        src = self.config.source
        if src == "sim":
            gen = self._generate_sim(**kwargs)
        elif src == "knocking":
            from .knocking import generate_examples
            gen = generate_examples(self.config.data_dir, split=kwargs["split"], seed=self.config.seed)
        else:
            gen = self._generate_pcap(**kwargs)
        for ex in gen:
            ex = schema.validate_example(ex)
            yield ex["id"], ex

    # -- sim -----------------------------------------------------------------
    def _sim_splits(self) -> dict[str, dict]:
        from . import sim

        users = sorted(sim.USERS)
        envs = sorted(sim.ENVIRONMENTS)
        cfg = self.config
        val = list(cfg.validation_users) if cfg.validation_users else users[-3:-2]
        test = list(cfg.test_users) if cfg.test_users else users[-2:]
        unknown = [u for u in val + test if u not in users]
        if unknown:
            raise T2TInputError(f"unknown users {unknown}; T2T-Sim has {users}")
        if set(val) & set(test):
            raise T2TInputError(f"validation_users and test_users overlap: {sorted(set(val) & set(test))}")
        if not [u for u in users if u not in val and u not in test]:
            raise T2TInputError("no users left for training")
        if cfg.split_by not in ("user", "environment"):
            raise T2TInputError(f"split_by must be 'user' or 'environment', got {cfg.split_by!r}")
        for e in (cfg.train_environment, cfg.test_environment):
            if e not in envs:
                raise T2TInputError(f"unknown environment {e!r}; T2T-Sim has {envs}")
        if cfg.train_environment == cfg.test_environment:
            raise T2TInputError("train_environment and test_environment must differ")
        layout = split_layout(users, envs, val, test, cfg.train_environment, cfg.test_environment)
        parts = layout["sim" if cfg.split_by == "user" else "sim_cross_env"]
        counts = sim_cell_windows(int(cfg.num_windows), users, envs)
        return {name: {"cells": [(u, e, counts[(u, e)]) for u, e in cells if counts[(u, e)] > 0]}
                for name, cells in parts.items()}

    def _generate_sim(self, cells: list[tuple[str, str, int]]) -> Iterator[dict]:
        cfg = self.config
        for user, env, n in cells:
            yield from generate_sim_cell(user, env, n, seed=cfg.seed, window=cfg.window, num_proc=cfg.num_proc)

    # -- pcap ----------------------------------------------------------------
    def _pcap_splits(self) -> dict[str, list[str]]:
        cfg = self.config
        splits: dict[str, list[str]] = {}
        if cfg.data_files:
            for split, files in cfg.data_files.items():
                caps = sorted(str(f) for f in files if _is_capture(str(f)))
                if not caps:
                    raise T2TInputError(f"data_files[{split!r}] holds no capture ({', '.join(CAPTURE_SUFFIXES)}); "
                                        "pass the capture files, with caption files beside them")
                splits[str(split)] = caps
        elif cfg.data_dir:
            root = Path(cfg.data_dir).expanduser()
            if not root.is_dir():
                raise T2TInputError("pcap data_dir is not a folder; pass the folder holding capture.pcap + "
                                    "capture.jsonl (or .srt) pairs", path=str(root))
            sub = [s for s in ("train", "validation", "test") if (root / s).is_dir()]
            for s in sub or [None]:
                base = root / s if s else root
                caps = sorted(str(p) for p in base.rglob("*") if p.is_file() and _is_capture(p.name))
                if caps:
                    splits[s or "train"] = caps
            if not splits:
                raise T2TInputError(f"no captures ({', '.join(CAPTURE_SUFFIXES)}) found under the pcap data_dir",
                                    path=str(root))
        else:
            raise T2TInputError("the pcap config needs data_dir (a folder of capture + caption file pairs) or "
                                "data_files ({'train': [...captures]})")
        missing = [c for caps in splits.values() for c in caps if find_caption_file(c) is None]
        if missing:
            raise T2TInputError(f"{len(missing)} capture(s) have no caption file beside them, e.g. {missing[0]}: "
                                f"add {capture_stem(missing[0])}{CAPTION_SUFFIXES[0]} or {capture_stem(missing[0])}.srt "
                                "next to it")
        for caps in splits.values():  # read every caption file now: a bad one fails before any work
            for c in caps:
                _check_records(read_caption_file(find_caption_file(c)), find_caption_file(c))
        return splits

    def _generate_pcap(self, captures: Sequence[str]) -> Iterator[dict]:
        for path in captures:
            yield from capture_examples(path, window=self.config.window, stride=self.config.stride,
                                        device=self.config.device, caption_time_base=self.config.caption_time_base,
                                        min_caption_overlap=self.config.min_caption_overlap,
                                        user=self.config.user, environment=self.config.environment)


def split_layout(users: list[str], environments: list[str], validation_users: list[str],
                 test_users: list[str], train_environment: str = "wifi",
                 test_environment: str = "cellular") -> dict[str, dict[str, list[tuple[str, str]]]]:
    """Which (user, environment) cells make up each split of the two sim configs.

    ``sim``: train = the other users, validation = ``validation_users``, test = ``test_users``
    (all environments). ``sim_cross_env``: train = ``train_environment`` of every user but the
    validation users, validation = ``train_environment`` of the validation users, test =
    ``test_environment`` of all users. Returns ``{config: {split: [(user, environment), ...]}}``.
    """
    train_users = [u for u in users if u not in validation_users and u not in test_users]
    by_user = {
        "train": [(u, e) for u in train_users for e in environments],
        "validation": [(u, e) for u in validation_users for e in environments],
        "test": [(u, e) for u in test_users for e in environments],
    }
    cross = {
        "train": [(u, train_environment) for u in users if u not in validation_users],
        "validation": [(u, train_environment) for u in validation_users],
        "test": [(u, test_environment) for u in users],
    }
    return {"sim": by_user, "sim_cross_env": cross}


def sim_cell_windows(num_windows: int, users: list[str], environments: list[str]) -> dict[tuple[str, str], int]:
    """How many of ``num_windows`` windows each (user, environment) cell gets: equal shares, the
    remainder going to the first cells in (user, environment) order."""
    cells = [(u, e) for u in users for e in environments]
    base, rem = divmod(int(num_windows), len(cells))
    return {c: base + (1 if i < rem else 0) for i, c in enumerate(cells)}


def sim_cell_seed(seed: int, user: str, environment: str) -> int:
    """The generator seed of one (user, environment) cell: a 32-bit hash of the corpus seed and the cell,
    so cells never share random streams."""
    h = hashlib.blake2b(f"t2t-sim:{int(seed)}:{user}:{environment}".encode(), digest_size=4).digest()
    return int.from_bytes(h, "little")


def generate_sim_cell(user: str, environment: str, num_windows: int, *, seed: int = 0, window: float = 10.0,
                      num_proc: int = 1) -> Iterator[dict]:
    """The T2T-Sim windows of one user in one environment (``num_windows`` of them, schema dicts).

    The corpus is built cell by cell, so any split (by user or by environment) is a union of cells
    and the builders and the exported folder hold the same windows for the same seed. Within a cell
    the simulator's session plan starts each session in the next app, so 20 sessions (240 windows
    of 10 s) visit all 20 apps.
    """
    from . import sim

    yield from sim.generate_examples(num_windows=num_windows, seed=sim_cell_seed(seed, user, environment),
                                     window=window, users=[user], environments=[environment], num_proc=num_proc)


def capture_examples(path: str | os.PathLike, *, captions: str | os.PathLike | None = None, window: float = 10.0,
                     stride: float | None = None, device: str | None = None, caption_time_base: str = "auto",
                     min_caption_overlap: float = 0.0, user: str = "unknown",
                     environment: str = "unknown") -> Iterator[dict]:
    """Corpus examples from one capture and its caption file (the ``pcap`` config, for one file).

    Args:
        path: a pcap/pcapng capture.
        captions: its caption file (None = ``path`` with suffix .jsonl or .srt).
        window, stride: seconds (see :func:`t2t_hf.traffic.make_windows`).
        device: the phone's address in the capture (None = the most active device).
        caption_time_base, min_caption_overlap, user, environment: see :class:`T2TCaptionsConfig`.

    Yields schema dicts, one per window that a caption record overlaps, in time order.
    ``window_start`` is seconds since the capture's first packet; ``time`` seconds since the window start.
    """
    import numpy as np

    from ..traffic import detect_devices, make_windows, read_capture

    path = Path(path)
    cap_file = Path(captions) if captions is not None else find_caption_file(path)
    if cap_file is None:
        raise T2TInputError(f"no caption file beside the capture: add {capture_stem(path)}.jsonl or "
                            f"{capture_stem(path)}.srt", path=str(path))
    records = _check_records(read_caption_file(cap_file), cap_file)
    table = read_capture(path)
    if len(table) == 0:
        raise T2TInputError("the capture holds no IP packets, so it gives no windows", path=str(path))
    ts = np.asarray(table.timestamp, dtype=np.float64)
    if not np.any(np.isfinite(ts)):
        raise T2TInputError("the capture has no packet timestamps; captions cannot be aligned", path=str(path))
    t0 = float(np.nanmin(ts))
    records = caption_times_on_capture_clock(records, t0, caption_time_base)
    if device is None:
        devices = detect_devices(table)
        if not devices:
            raise T2TInputError("no client device found in the capture; pass device= the phone's address",
                                path=str(path))
        device = devices[0]
    session = schema.scrub_addresses(capture_stem(path))
    for k, w in enumerate(make_windows(table, window=window, stride=stride, device=device)):
        rec = best_caption(records, w.start, w.end, min_caption_overlap)
        if rec is None:
            continue
        caption = schema.scrub_addresses(rec.caption)
        yield {
            "id": f"pcap-{session}-{k:05d}",
            "time": np.asarray(w.time, dtype=np.float32).tolist(),
            "size": w.size.tolist(),
            "protocol": w.protocol.tolist(),
            "flow": w.flow.tolist(),
            "caption": caption,
            "references": [caption],
            "app": schema.scrub_addresses(rec.app) if rec.app else "unknown",
            "app_type": rec.app_type or "unknown",
            "activity": schema.scrub_addresses(rec.activity) if rec.activity else "unknown",
            "user": schema.scrub_addresses(rec.user or user),
            "environment": rec.environment or environment,
            "source": "pcap",
            "session": session,
            "window_start": float(w.start - t0),
            "window_length": float(w.end - w.start),
        }


def load_corpus(config_name: str = "sim", *, cache_dir: str | os.PathLike | None = None,
                split: str | None = None, streaming: bool = False, **config_kwargs):
    """Build (if needed) and load a config in one call.

    Returns a ``DatasetDict`` (or a ``Dataset`` when ``split`` is given); with
    ``streaming=True`` the ``Iterable`` versions, generated on the fly with no cache.
    ``config_kwargs`` are :class:`T2TCaptionsConfig` fields or ``data_dir``/``data_files``.
    """
    builder = T2TCaptionsBuilder(config_name=config_name, cache_dir=None if cache_dir is None else str(cache_dir),
                                 **config_kwargs)
    if streaming:
        return builder.as_streaming_dataset(split=split)
    builder.download_and_prepare()
    return builder.as_dataset(split=split)


def _check_records(records, cap_file):
    for r in records:
        if r.app_type is not None and r.app_type not in schema.APP_TYPES:
            raise T2TInputError(f"record at {r.start:g}-{r.end:g} s: app_type {r.app_type!r} is not one of "
                                f"{schema.APP_TYPES}", path=str(cap_file))
        if r.environment is not None and r.environment not in schema.ENVIRONMENTS:
            raise T2TInputError(f"record at {r.start:g}-{r.end:g} s: environment {r.environment!r} is not one of "
                                f"{schema.ENVIRONMENTS}", path=str(cap_file))
    return records


def _is_capture(name: str) -> bool:
    name = name.lower()
    return name.endswith(CAPTURE_SUFFIXES) or name.endswith(tuple(s + ".gz" for s in CAPTURE_SUFFIXES))


def _fingerprint_dir(root: Path) -> str:
    """Hash of the names, sizes and modification times of the files under ``root`` (or of ``root`` itself)."""
    h = hashlib.sha256()
    if root.is_file():
        files = [root]
    elif root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.is_file())
    else:
        files = []
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(root) if p != root else p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]
