"""Shared pieces of the training scripts: corpus loading, cached features, batches, decoding, a fast CIDEr-D.

Everything here is plain numpy/torch around the project's own classes (the corpus generators of
``t2t_hf.data``, ``T2TFeatureExtractor``, the caption tokenizer). ``train.py``, ``evaluate.py``, the baselines
and ``benchmark.py`` all read the corpus through :func:`load_corpus_features`, so every model is trained and
scored on exactly the same windows.

Shapes: N windows, P = ``max_packets`` packets, 8 packet features, NB time bins x 6, 10 window statistics,
R reference captions per window, L caption tokens.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import transformers  # noqa: F401  (imported before any t2t_hf model module: t2t_hf registers itself on this import)

from t2t_hf.errors import T2TInputError
from t2t_hf.fileio import atomic_path, atomic_write

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = Path(os.environ.get("T2T_TRAINING_CACHE", Path.home() / ".cache" / "t2t-hf" / "training"))
SHARED_KNOCKING = REPO_ROOT.parent / "shared" / "data" / "knocking"
META_KEYS = ("id", "caption", "references", "app", "app_type", "activity", "user", "environment", "session")


# ----------------------------------------------------------------------------------------------------------------
# Corpus -> examples
# ----------------------------------------------------------------------------------------------------------------
def sim_split_examples(split: str, *, num_windows: int, seed: int = 0, by: str = "user") -> list[dict]:
    """The T2T-Sim windows of one split, the same windows the ``sim`` (``by="user"``: test users unseen in
    training) or ``sim_cross_env`` (``by="environment"``) builder config makes for ``num_windows`` and ``seed``."""
    from t2t_hf.data import sim
    from t2t_hf.data.builders import generate_sim_cell, sim_cell_windows, split_layout

    users, envs = sorted(sim.USERS), sorted(sim.ENVIRONMENTS)
    layout = split_layout(users, envs, users[-3:-2], users[-2:])["sim" if by == "user" else "sim_cross_env"]
    counts = sim_cell_windows(int(num_windows), users, envs)
    out = []
    for user, env in layout[split]:
        if counts[(user, env)]:
            out.extend(generate_sim_cell(user, env, counts[(user, env)], seed=seed))
    return out


def knocking_split_examples(split: str, *, data_dir, seed: int = 0) -> list[dict]:
    """The action instances of one split of the ``knocking`` corpus (``data_dir`` holds ``traffic.mat``)."""
    from t2t_hf.data.knocking import generate_examples

    return list(generate_examples(data_dir, split=split, seed=seed))


def flow_stats(size: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Per-flow statistics of signed packet sizes (bytes): [F, 6] = count, max, min, range, mean, std,
    one row per flow index present (ascending) -- the features of the knocking random-forest peer."""
    size = np.asarray(size, np.float64)
    flow = np.asarray(flow, np.int64)
    rows = []
    for f in np.unique(flow):
        s = size[flow == f]
        rows.append([s.size, s.max(), s.min(), s.max() - s.min(), s.mean(), s.std()])
    return np.asarray(rows, np.float32).reshape(-1, 6)


def size_histogram(size: np.ndarray, bins: int = 16) -> np.ndarray:
    """[2 * bins] share of packets per ln(1+|size|) bin, uplink then downlink (sums to 1, zeros if empty)."""
    size = np.asarray(size, np.float64)
    edges = np.linspace(0, math.log1p(65535), bins + 1)
    out = []
    for sel in (size > 0, size < 0):
        h, _ = np.histogram(np.log1p(np.abs(size[sel])), bins=edges)
        out.append(h)
    h = np.concatenate(out).astype(np.float32)
    return h / max(1.0, float(h.sum()))


# ----------------------------------------------------------------------------------------------------------------
# Cached features
# ----------------------------------------------------------------------------------------------------------------
class SplitData:
    """One split, ready for any model: padded T2T features, statistical features and metadata.

    Attributes:
        input_features [N, P, 8] float32, attention_mask [N, P] int32, time_bin_features [N, NB, 6] float32,
        window_stats [N, 10] float32: normalised T2T features (the feature extractor fitted on ``train``).
        stat_features [N, 10 + NB*6 + 32] float32: window statistics, time-bin statistics and a signed size
            histogram (the retrieval and classifier baselines use these).
        flow_stats: list of [F_i, 6] arrays (per-flow statistics; the knocking RF peer uses them).
        meta: list of dicts with ``META_KEYS`` (captions, references, app, app_type, activity, user, ...).
    """

    def __init__(self, arrays: dict, flow_stats: list, meta: list[dict]):
        self.input_features = arrays["input_features"]
        self.attention_mask = arrays["attention_mask"]
        self.time_bin_features = arrays["time_bin_features"]
        self.window_stats = arrays["window_stats"]
        self.stat_features = arrays["stat_features"]
        self.flow_stats = flow_stats
        self.meta = meta

    def __len__(self) -> int:
        return len(self.meta)

    def subset(self, idx) -> "SplitData":
        idx = np.asarray(idx, dtype=np.int64)
        arrays = {k: getattr(self, k)[idx] for k in ("input_features", "attention_mask", "time_bin_features",
                                                       "window_stats", "stat_features")}
        return SplitData(arrays, [self.flow_stats[i] for i in idx], [self.meta[i] for i in idx])

    def renormalised(self, src_fe, dst_fe) -> "SplitData":
        """The same windows normalised with ``dst_fe``'s statistics instead of ``src_fe``'s (e.g. to feed a saved
        model whose feature extractor was fitted on another corpus config)."""
        from t2t_hf.feature_extraction_t2t import NORMALISED_PACKET_COLUMNS

        def swap(x, m0, s0, m1, s1):
            return ((x * np.asarray(s0, np.float32) + np.asarray(m0, np.float32)) - np.asarray(m1, np.float32)) \
                / np.asarray(s1, np.float32)

        feats = self.input_features.copy()
        cols = list(NORMALISED_PACKET_COLUMNS)
        pm0, ps0 = np.asarray(src_fe.packet_mean)[cols], np.asarray(src_fe.packet_std)[cols]
        pm1, ps1 = np.asarray(dst_fe.packet_mean)[cols], np.asarray(dst_fe.packet_std)[cols]
        feats[..., cols] = swap(feats[..., cols], pm0, ps0, pm1, ps1) * self.attention_mask[..., None]
        arrays = {"input_features": feats.astype(np.float32), "attention_mask": self.attention_mask,
                  "time_bin_features": swap(self.time_bin_features, src_fe.bin_mean, src_fe.bin_std, dst_fe.bin_mean,
                                            dst_fe.bin_std).astype(np.float32),
                  "window_stats": swap(self.window_stats, src_fe.stats_mean, src_fe.stats_std, dst_fe.stats_mean,
                                       dst_fe.stats_std).astype(np.float32),
                  "stat_features": self.stat_features}
        return SplitData(arrays, self.flow_stats, self.meta)

    def column(self, key: str) -> list:
        return [m[key] for m in self.meta]

    def model_inputs(self, idx, device="cpu"):
        """torch inputs of the windows ``idx``, packet axis cut to the longest real window of the batch."""
        import torch

        idx = np.asarray(idx, dtype=np.int64)
        mask = self.attention_mask[idx]
        n = max(1, int(mask.sum(1).max()))
        return {"input_features": torch.from_numpy(np.ascontiguousarray(self.input_features[idx, :n])).to(device),
                "attention_mask": torch.from_numpy(np.ascontiguousarray(mask[:, :n])).to(device),
                "time_bin_features": torch.from_numpy(self.time_bin_features[idx]).to(device),
                "window_stats": torch.from_numpy(self.window_stats[idx]).to(device)}


def _atomic_pickle(obj, path: Path) -> None:
    with atomic_path(path, make_parents=True) as tmp, open(tmp, "wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)


def load_corpus_features(corpus: str = "sim", *, num_windows: int = 3840, seed: int = 0, data_dir=None,
                         max_packets: int = 256, num_time_bins: int = 20, max_flows: int = 32,
                         cache_dir: str | os.PathLike | None = None, limits: dict | None = None):
    """All splits of one corpus config as :class:`SplitData`, plus the fitted ``T2TFeatureExtractor``.

    Args:
        corpus: "sim" (unseen test users), "sim_cross_env" (train Wi-Fi, test cellular) or "knocking".
        num_windows: T2T-Sim windows, all splits together (sim configs).
        seed: corpus seed (sim) or split seed (knocking).
        data_dir: folder holding knocking's traffic.mat (default ``../shared/data/knocking``).
        max_packets / num_time_bins / max_flows: feature extractor sizes (match the model config).
        cache_dir: where features are cached (keyed by every argument above); default ``T2T_TRAINING_CACHE``
            or ``~/.cache/t2t-hf/training``.
        limits: optional ``{split: n}``: keep the first n windows of a split (after caching; quick runs).

    Returns:
        ``({"train": SplitData, "validation": SplitData, "test": SplitData}, feature_extractor)``.
    """
    from t2t_hf.feature_extraction_t2t import T2TFeatureExtractor

    if corpus not in ("sim", "sim_cross_env", "knocking"):
        raise T2TInputError(f"unknown corpus {corpus!r}; use sim, sim_cross_env or knocking")
    if corpus == "knocking":
        data_dir = Path(data_dir) if data_dir else SHARED_KNOCKING
        if not (data_dir / "traffic.mat").exists() and not data_dir.is_file():
            raise T2TInputError(f"knocking data not found at {data_dir}; pass data_dir= the folder holding "
                                "traffic.mat (Conti et al., IEEE TIFS 2016)")
    key = json.dumps(dict(v=3, corpus=corpus, n=int(num_windows) if corpus != "knocking" else None, seed=int(seed),
                          data=str(data_dir) if corpus == "knocking" else None, P=max_packets, B=num_time_bins,
                          F=max_flows, sim=_sim_fingerprint() if corpus != "knocking" else None,
                          code=_feature_code_fingerprint()), sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    cache = Path(cache_dir) if cache_dir else DEFAULT_CACHE
    path = cache / f"{corpus}-{digest}.pkl"
    if path.exists():
        with open(path, "rb") as f:
            stored = pickle.load(f)
    else:
        fe = T2TFeatureExtractor(max_packets=max_packets, num_time_bins=num_time_bins, max_flows=max_flows)
        raw = {}
        for split in ("train", "validation", "test"):
            if corpus == "knocking":
                raw[split] = knocking_split_examples(split, data_dir=data_dir, seed=seed)
            else:
                raw[split] = sim_split_examples(split, num_windows=num_windows, seed=seed,
                                                by="user" if corpus == "sim" else "environment")
        fe.fit(raw["train"])
        stored = {"fe": fe.to_dict(), "splits": {}}
        for split, exs in raw.items():
            arrays = {k: [] for k in ("input_features", "attention_mask", "time_bin_features", "window_stats")}
            for i in range(0, len(exs), 256):
                b = fe(exs[i:i + 256], padding="max_length")
                for k in arrays:
                    arrays[k].append(np.asarray(b[k]))
            arrays = {k: np.concatenate(v, 0) for k, v in arrays.items()}
            hist = np.stack([size_histogram(e["size"]) for e in exs])
            arrays["stat_features"] = np.concatenate(
                [arrays["window_stats"], arrays["time_bin_features"].reshape(len(exs), -1), hist], 1).astype(np.float32)
            arrays["attention_mask"] = arrays["attention_mask"].astype(np.int32)
            fstats = [flow_stats(e["size"], e["flow"]) for e in exs]
            meta = [{k: e[k] for k in META_KEYS} for e in exs]
            stored["splits"][split] = (arrays, fstats, meta)
        _atomic_pickle(stored, path)
    fe = T2TFeatureExtractor.from_dict(dict(stored["fe"]))
    splits = {name: SplitData(*parts) for name, parts in stored["splits"].items()}
    for split, n in (limits or {}).items():
        if n is not None and split in splits and n < len(splits[split]):
            splits[split] = splits[split].subset(_spread(len(splits[split]), int(n)))
    return splits, fe


def _spread(n: int, k: int) -> np.ndarray:
    """k indices spread evenly over range(n) (a deterministic slice that keeps every user/app present)."""
    return np.unique(np.round(np.linspace(0, n - 1, k)).astype(np.int64))


def _feature_code_fingerprint() -> str:
    """Hash of the code that turns examples into the cached arrays (the feature extractor, the knocking loader
    and this module's statistics), so a change there never reuses stale cached features either."""
    from t2t_hf import feature_extraction_t2t
    from t2t_hf.data import knocking

    h = hashlib.sha1()
    for p in (feature_extraction_t2t.__file__, knocking.__file__, __file__):
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:12]


def _sim_fingerprint() -> str:
    """Hash of the simulator's source, so a changed generator never reuses stale cached features.
    ``T2T_SIM_FINGERPRINT`` overrides it (pins a data snapshot, so that every run of a benchmark sees the same
    windows even while the simulator's code changes)."""
    from t2t_hf.data import sim

    if os.environ.get("T2T_SIM_FINGERPRINT"):
        return os.environ["T2T_SIM_FINGERPRINT"]

    h = hashlib.sha1()
    for p in sorted(Path(sim.__file__).parent.glob("*.py")):
        h.update(p.read_bytes())
    b = Path(sim.__file__).parent.parent / "builders.py"
    h.update(b.read_bytes())
    return h.hexdigest()[:12]


# ----------------------------------------------------------------------------------------------------------------
# Captions: tokenisation, a fast CIDEr-D (training reward / quick validation), decoding
# ----------------------------------------------------------------------------------------------------------------
_WORD = re.compile(r"[a-z0-9']+")


def simple_tokens(text: str) -> list[str]:
    """Lower-cased word tokens, punctuation dropped (close to the PTB tokenisation the COCO metrics use)."""
    return _WORD.findall(text.lower())


def _ngrams(tokens: list[str], n: int = 4) -> Counter:
    c = Counter()
    for k in range(1, n + 1):
        for i in range(len(tokens) - k + 1):
            c[tuple(tokens[i:i + k])] += 1
    return c


class FastCider:
    """CIDEr-D (n = 1..4, sigma = 6, clipped counts, times 10 like pycocoevalcap; we report times 100 elsewhere)
    with document frequencies fixed from a reference corpus (the training references), in pure Python.

    Used as the SCST reward and for cheap validation inside training; reported numbers come from
    ``t2t_hf.metrics.compute_caption_metrics`` (pycocoevalcap on PTB tokens).
    """

    def __init__(self, reference_sets: list[list[str]]):
        self.df = Counter()
        for refs in reference_sets:
            seen = set()
            for r in refs:
                seen.update(_ngrams(simple_tokens(r)).keys())
            self.df.update(seen)
        self.log_n = math.log(max(1.0, float(len(reference_sets))))
        self._ref_cache: dict = {}

    def _vec(self, counts: Counter):
        vec = [defaultdict(float) for _ in range(4)]
        norm = [0.0] * 4
        for g, tf in counts.items():
            n = len(g) - 1
            v = float(tf) * (self.log_n - math.log(max(1.0, float(self.df.get(g, 0.0)))))
            vec[n][g] = v
            norm[n] += v * v
        return vec, [math.sqrt(x) for x in norm]

    def _refs(self, refs: tuple) -> list:
        hit = self._ref_cache.get(refs)
        if hit is None:
            hit = []
            for r in refs:
                toks = simple_tokens(r)
                hit.append((*self._vec(_ngrams(toks)), len(toks)))
            if len(self._ref_cache) > 200000:
                self._ref_cache.clear()
            self._ref_cache[refs] = hit
        return hit

    def score(self, candidate: str, references) -> float:
        """CIDEr-D of one candidate against its references (pycocoevalcap scale: about 0..10)."""
        toks = simple_tokens(candidate)
        vc, nc = self._vec(_ngrams(toks))
        total = 0.0
        refs = self._refs(tuple(references))
        for vr, nr, lr in refs:
            delta = float(len(toks) - lr)
            s = 0.0
            for n in range(4):
                val = sum(min(v, vr[n].get(g, 0.0)) * vr[n].get(g, 0.0) for g, v in vc[n].items())
                if nc[n] and nr[n]:
                    val /= nc[n] * nr[n]
                else:
                    val = 0.0
                s += val * math.exp(-(delta ** 2) / (2 * 36.0))
            total += s / 4.0
        return 10.0 * total / max(1, len(refs))

    def corpus(self, candidates: list[str], references: list[list[str]]) -> float:
        """Mean CIDEr-D times 100 (the scale the reports use)."""
        if not candidates:
            return 0.0
        return 100.0 * float(np.mean([self.score(c, r) for c, r in zip(candidates, references)]))


def consensus_caption(captions: list[str], max_candidates: int = 200, seed: int = 0) -> str:
    """The caption that agrees most with the others (highest mean CIDEr-D against them, IDF from the group):
    the most frequent caption when wording repeats, the medoid when every caption is worded differently."""
    counts = Counter(captions)
    top, freq = counts.most_common(1)[0]
    if freq > 1 and (len(counts) == 1 or counts.most_common(2)[1][1] < freq):
        return top
    uniq = list(counts)
    if len(uniq) > max_candidates:
        rng = np.random.default_rng(seed)
        uniq = [uniq[i] for i in sorted(rng.choice(len(uniq), max_candidates, replace=False))]
    pool = captions if len(captions) <= 400 else [captions[i] for i in
                                                   np.random.default_rng(seed).choice(len(captions), 400, False)]
    cider = FastCider([[c] for c in pool])
    scores = [cider.score(c, pool) * 1.0 + counts[c] * 1e-6 for c in uniq]
    return uniq[int(np.argmax(scores))]


def greedy_captions(model, data: SplitData, tokenizer, batch_size: int = 64, device="cpu", num_beams: int = 1,
                    max_new_tokens: int | None = None):
    """Generate one caption per window of ``data`` and predict its app type.

    Returns ``(captions: list[str], app_types: list[str | None])``."""
    import torch

    model.eval()
    caps, types = [], []
    names = list(model.config.app_types)
    with torch.no_grad():
        for i in range(0, len(data), batch_size):
            idx = np.arange(i, min(len(data), i + batch_size))
            inputs = data.model_inputs(idx, device)
            kw = dict(num_beams=num_beams, do_sample=False)
            if max_new_tokens:
                kw["max_new_tokens"] = max_new_tokens
            seq = model.generate(**inputs, **kw)
            caps.extend(c.strip() for c in tokenizer.batch_decode(seq, skip_special_tokens=True))
            head = getattr(model, "app_type_head", None)
            if head is not None:
                enc = model.get_encoder()(**inputs)
                types.extend(names[j] for j in head(enc.pooled_output).argmax(-1).tolist())
            else:
                types.extend([None] * len(idx))
    return caps, types


def score_predictions(predictions: list[str], data: SplitData, app_type_predictions=None, meteor: bool = True
                      ) -> dict:
    """COCO caption metrics (times 100) overall and per app type, plus app-type accuracy (percent).

    Returns ``{"overall": {metric: value, "app_type_accuracy": ...}, "by_app_type": {type: {...}}}``."""
    from t2t_hf.metrics import compute_caption_metrics_by_group

    refs = data.column("references")
    groups = data.column("app_type")
    # generous Java timeouts: on a loaded 2-core machine METEOR's JVM alone can take minutes
    res = compute_caption_metrics_by_group(predictions, refs, groups, meteor=meteor,
                                           timeout=float(os.environ.get("T2T_METRICS_TIMEOUT", 3600)))
    out = {"overall": dict(res["overall"]), "by_app_type": {g: dict(v) for g, v in res["groups"].items()}}
    if app_type_predictions is not None and all(p is not None for p in app_type_predictions):
        truth = np.asarray(groups)
        pred = np.asarray(app_type_predictions)
        out["overall"]["app_type_accuracy"] = 100.0 * float(np.mean(pred == truth))
        for g in out["by_app_type"]:
            sel = truth == g
            out["by_app_type"][g]["app_type_accuracy"] = 100.0 * float(np.mean(pred[sel] == truth[sel]))
    return out


def write_json_atomic(obj, path) -> None:
    """``obj`` as indented JSON (numpy scalars as floats) at ``path``, atomically (parents created)."""
    atomic_write(path, json.dumps(obj, indent=2, sort_keys=False, default=float) + "\n", make_parents=True)


def write_text_atomic(text: str, path) -> None:
    """``text`` (UTF-8) at ``path``, atomically (parents created)."""
    atomic_write(path, text, make_parents=True)


def run_reporting_input_errors(main, argv=None) -> int:
    """``main(argv)`` with bad input (T2TInputError: config, data, model folder) reported as one ``error:`` line
    on stderr and exit status 1, no traceback; the scripts' ``cli`` entry points."""
    try:
        return main(argv)
    except T2TInputError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
