"""Traffic windows -> model input features (numpy only, no torch needed).

One traffic window (the packets of one device in ``[start, end)``) becomes three arrays:

``input_features`` [batch, packets, 8] float32: the per-packet sequence, in time order
    ====  ===============  =====================================================================================
    col   name             definition and unit
    ====  ===============  =====================================================================================
    0     ``log_size``     sign * ln(1 + |IP length in bytes|); + uplink (sent by the device), - downlink
    1     ``direction``    +1 uplink, -1 downlink
    2     ``log_iat``      ln(1 + inter-arrival time in milliseconds) since the previous packet of the window (the
                           first packet: since the window start); 0 when timing is unknown
    3     ``rel_time``     arrival time / window length, in [0, 1]; (index + 0.5) / N when timing is unknown
    4     ``time_known``   1 when the packet has a timestamp, 0 when not (the knocking corpus has none)
    5     ``new_flow``     1 on the first packet of a flow that starts in this window, else 0
    6     ``flow_id``      the packet's flow index in the window (0 = first flow seen), capped at ``max_flows - 1``;
                           an integer id for an embedding, never normalised
    7     ``protocol_id``  0 other/unknown, 1 TCP, 2 UDP, 3 ICMP or ICMPv6; an integer id, never normalised
    ====  ===============  =====================================================================================
``attention_mask`` [batch, packets] int32: 1 for real packets, 0 for padding (all 0 for an idle window).
``time_bin_features`` [batch, num_time_bins, 6] float32: statistics per equal time bin of the window
    (0.5 s bins for a 10 s window and 20 bins): ln(1 + bytes up), ln(1 + bytes down), ln(1 + packets up),
    ln(1 + packets down), ln(1 + active flows) (distinct flows with a packet in the bin), ln(1 + new flows).
    When timing is unknown the bins split the packet *order* evenly instead of time.
``window_stats`` [batch, 10] float32: whole-window statistics, the FiLM conditioning input (see
    ``WINDOW_STATS``): ln(1 + packets), ln(1 + bytes up), ln(1 + bytes down), ln(1 + packets per second),
    ln(1 + flows), ln(1 + new flows), burstiness (std / mean of per-bin packet counts), uplink share of bytes,
    mean ln(1 + |size|), share of empty bins.

Long windows: time-bin and window statistics always use every packet. The packet sequence keeps at most
``max_packets`` packets: with ``truncation="uniform"`` (default) the packets at indices
``round(linspace(0, N - 1, max_packets))`` (evenly spread over the whole window, deterministic); with
``truncation="head"`` the first ``max_packets``. Inter-arrival times are computed before the selection, so they
stay true gaps between consecutive packets.

Normalisation: :meth:`T2TFeatureExtractor.fit` computes means and standard deviations on training windows of
``log_size`` and ``log_iat`` (packet columns 0 and 2), of every time-bin column and of every window statistic;
``save_pretrained`` stores them in ``preprocessor_config.json``. Unfitted, the extractor leaves values as they are.

This file is also shipped as remote code: it imports nothing from ``t2t_hf`` at module level.
"""

from __future__ import annotations

import math

import numpy as np
from transformers import BatchFeature, FeatureExtractionMixin

try:  # inside the t2t_hf package: the project's one input-error type
    from t2t_hf.errors import T2TInputError
except ImportError:  # loaded as remote code without t2t_hf installed

    class T2TInputError(ValueError):
        """Bad input (stand-in for ``t2t_hf.errors.T2TInputError`` when t2t_hf is not installed)."""


PACKET_FEATURES = ["log_size", "direction", "log_iat", "rel_time", "time_known", "new_flow", "flow_id", "protocol_id"]
TIME_BIN_FEATURES = ["log_bytes_up", "log_bytes_down", "log_packets_up", "log_packets_down", "log_active_flows",
                     "log_new_flows"]
WINDOW_STATS = ["log_packets", "log_bytes_up", "log_bytes_down", "log_packet_rate", "log_flows", "log_new_flows",
                "burstiness", "uplink_byte_share", "mean_log_size", "empty_bin_share"]
#: packet columns that fit() normalises (the others are flags, bounded values or integer ids)
NORMALISED_PACKET_COLUMNS = (0, 2)
FLOW_ID_COLUMN = 6
PROTOCOL_ID_COLUMN = 7
_PROTOCOL_IDS = {6: 1, 17: 2, 1: 3, 58: 3}


class _Arrays:
    """The per-packet arrays of one window, checked (internal)."""

    __slots__ = ("time", "size", "protocol", "flow", "new_flow", "duration")

    def __init__(self, time, size, protocol, flow, new_flow, duration):
        self.size = np.asarray(size, dtype=np.float64).reshape(-1)
        n = self.size.shape[0]
        self.time = np.full(n, np.nan) if time is None else np.asarray(time, dtype=np.float64).reshape(-1)
        self.protocol = np.zeros(n, np.int64) if protocol is None else np.asarray(protocol, dtype=np.int64).reshape(-1)
        self.flow = np.zeros(n, np.int64) if flow is None else np.asarray(flow, dtype=np.int64).reshape(-1)
        if self.time.shape[0] == 0 and n:
            self.time = np.full(n, np.nan)
        if self.protocol.shape[0] == 0 and n:
            self.protocol = np.zeros(n, np.int64)
        if self.flow.shape[0] == 0 and n:
            self.flow = np.zeros(n, np.int64)
        if not (self.time.shape[0] == n == self.protocol.shape[0] == self.flow.shape[0]):
            raise T2TInputError(
                f"window arrays disagree in length: time {self.time.shape[0]}, size {n}, protocol "
                f"{self.protocol.shape[0]}, flow {self.flow.shape[0]}; give one value per packet in each")
        if n and not np.all(np.isfinite(self.size)):
            raise T2TInputError("packet sizes must be finite numbers (signed IP lengths in bytes)")
        if n and self.flow.min() < 0:
            raise T2TInputError("flow indices must be >= 0 (index of the packet's flow within the window)")
        if new_flow is None or len(new_flow) != n:
            new_flow = np.zeros(n, bool)
            if n:
                _, first = np.unique(self.flow, return_index=True)
                new_flow[first] = True
        self.new_flow = np.asarray(new_flow, dtype=bool).reshape(-1)
        duration = float(duration) if duration is not None else 10.0
        if not math.isfinite(duration) or duration <= 0:
            known = self.time[np.isfinite(self.time)]
            duration = float(known.max()) if known.size and known.max() > 0 else 10.0
        self.duration = duration


class T2TFeatureExtractor(FeatureExtractionMixin):
    r"""Turns traffic windows into the T2T model's input features (see the module docstring for every column).

    Args:
        max_packets (`int`, 256): longest packet sequence kept per window.
        num_time_bins (`int`, 20): time bins per window.
        max_flows (`int`, 32): flow ids are capped at ``max_flows - 1`` (match the model config).
        truncation (`str`, "uniform"): "uniform" or "head", how windows with more than ``max_packets`` packets
            are shortened (see the module docstring).
        window_length (`float`, 10.0): seconds per window when a packet table is given (windows are cut with
            ``t2t_hf.traffic.make_windows``), and the window length assumed for corpus examples without
            ``window_length``.
        app_types (`list[str]`): app-type names; :class:`T2TProcessor` maps ``app_type`` strings to ids with it.
        packet_mean/packet_std (8 floats), bin_mean/bin_std (6), stats_mean/stats_std (10): normalisation
            statistics, set by :meth:`fit`.
    """

    model_input_names = ["input_features", "attention_mask", "time_bin_features", "window_stats"]

    def __init__(
        self,
        max_packets: int = 256,
        num_time_bins: int = 20,
        max_flows: int = 32,
        truncation: str = "uniform",
        window_length: float = 10.0,
        app_types: list[str] | None = None,
        packet_mean: list[float] | None = None,
        packet_std: list[float] | None = None,
        bin_mean: list[float] | None = None,
        bin_std: list[float] | None = None,
        stats_mean: list[float] | None = None,
        stats_std: list[float] | None = None,
        is_fitted: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(max_packets, int) or max_packets < 1:
            raise T2TInputError(f"max_packets must be a positive integer, got {max_packets!r}")
        if not isinstance(num_time_bins, int) or num_time_bins < 1:
            raise T2TInputError(f"num_time_bins must be a positive integer, got {num_time_bins!r}")
        if not isinstance(max_flows, int) or max_flows < 1:
            raise T2TInputError(f"max_flows must be a positive integer, got {max_flows!r}")
        if truncation not in ("uniform", "head"):
            raise T2TInputError(f"truncation must be 'uniform' or 'head', got {truncation!r}")
        if not (isinstance(window_length, (int, float)) and window_length > 0):
            raise T2TInputError(f"window_length must be a positive number of seconds, got {window_length!r}")
        self.max_packets = max_packets
        self.num_time_bins = num_time_bins
        self.max_flows = max_flows
        self.truncation = truncation
        self.window_length = float(window_length)
        self.app_types = list(app_types) if app_types is not None else ["video", "social", "messaging", "browsing",
                                                                          "music_games"]
        n_p, n_b, n_s = len(PACKET_FEATURES), len(TIME_BIN_FEATURES), len(WINDOW_STATS)
        self.packet_mean = _stat_list(packet_mean, n_p, 0.0, "packet_mean")
        self.packet_std = _stat_list(packet_std, n_p, 1.0, "packet_std")
        self.bin_mean = _stat_list(bin_mean, n_b, 0.0, "bin_mean")
        self.bin_std = _stat_list(bin_std, n_b, 1.0, "bin_std")
        self.stats_mean = _stat_list(stats_mean, n_s, 0.0, "stats_mean")
        self.stats_std = _stat_list(stats_std, n_s, 1.0, "stats_std")
        self.is_fitted = bool(is_fitted)

    # -- public API -------------------------------------------------------------------------------------------
    def __call__(self, traffic, return_tensors: str | None = None, padding: str = "longest",
                 normalize: bool = True, **kwargs) -> BatchFeature:
        """Features of one window or a batch of windows.

        Args:
            traffic: a ``t2t_hf.traffic.Window`` (or any object with per-packet ``time``/``size``/``protocol``/
                ``flow`` arrays and ``start``/``end``), a corpus example dict (``time``, ``size``, optional
                ``protocol``, ``flow``, ``window_length``), a batched dict of such columns (lists of lists, as
                ``datasets.map(batched=True)`` gives), a list of windows or dicts, or a
                ``t2t_hf.traffic.PacketTable`` (cut into windows of ``window_length`` s, all devices).
            return_tensors: None/"np" (numpy) or "pt" (torch).
            padding: "longest" pads the packet axis to the longest window in the batch (at least 1);
                "max_length" pads to ``max_packets``.
            normalize: apply the fitted normalisation (no effect when unfitted).

        Returns:
            BatchFeature with ``input_features`` [B, P, 8] float32, ``attention_mask`` [B, P] int32,
            ``time_bin_features`` [B, num_time_bins, 6] float32, ``window_stats`` [B, 10] float32.
        """
        if kwargs:
            raise T2TInputError(f"unknown argument(s) {sorted(kwargs)} for T2TFeatureExtractor; expected "
                                "return_tensors, padding, normalize")
        if padding not in ("longest", "max_length"):
            raise T2TInputError(f"padding must be 'longest' or 'max_length', got {padding!r}")
        if return_tensors not in (None, "np", "pt"):
            raise T2TInputError(f"return_tensors must be None, 'np' or 'pt', got {return_tensors!r}")
        windows = self.to_arrays(traffic)
        batch = len(windows)
        rows = [self._packet_rows(w) for w in windows]
        length = self.max_packets if padding == "max_length" else max(1, max(r.shape[0] for r in rows))
        feats = np.zeros((batch, length, len(PACKET_FEATURES)), np.float32)
        mask = np.zeros((batch, length), np.int32)
        bins = np.zeros((batch, self.num_time_bins, len(TIME_BIN_FEATURES)), np.float32)
        stats = np.zeros((batch, len(WINDOW_STATS)), np.float32)
        for i, (w, r) in enumerate(zip(windows, rows)):
            feats[i, : r.shape[0]] = r
            mask[i, : r.shape[0]] = 1
            bins[i], stats[i] = self._bins_and_stats(w)
        if normalize and self.is_fitted:
            feats = self._normalise_packets(feats, mask)
            bins = (bins - np.asarray(self.bin_mean, np.float32)) / np.asarray(self.bin_std, np.float32)
            stats = (stats - np.asarray(self.stats_mean, np.float32)) / np.asarray(self.stats_std, np.float32)
        data = {"input_features": feats.astype(np.float32), "attention_mask": mask, "time_bin_features": bins.astype(np.float32),
                "window_stats": stats.astype(np.float32)}
        return BatchFeature(data=data, tensor_type=return_tensors)

    def fit(self, traffic) -> "T2TFeatureExtractor":
        """Fit the normalisation statistics on training windows (same input forms as ``__call__``; an iterable
        of windows or corpus examples works too). Packet statistics are over all real packets, time-bin statistics
        over all bins, window statistics over all windows. Returns ``self``."""
        windows = self.to_arrays(traffic if not _is_iterator(traffic) else list(traffic))
        packet_rows = [self._packet_rows(w, truncate=False) for w in windows]
        packets = np.concatenate(packet_rows, 0) if packet_rows else np.zeros((0, len(PACKET_FEATURES)))
        bin_rows, stat_rows = zip(*(self._bins_and_stats(w) for w in windows))
        bins = np.concatenate(bin_rows, 0)
        stats = np.stack(stat_rows, 0)
        p_mean, p_std = [0.0] * len(PACKET_FEATURES), [1.0] * len(PACKET_FEATURES)
        if packets.shape[0]:
            for c in NORMALISED_PACKET_COLUMNS:
                p_mean[c], p_std[c] = _mean_std(packets[:, c])
        self.packet_mean, self.packet_std = p_mean, p_std
        self.bin_mean, self.bin_std = map(list, zip(*(_mean_std(bins[:, c]) for c in range(bins.shape[1]))))
        self.stats_mean, self.stats_std = map(list, zip(*(_mean_std(stats[:, c]) for c in range(stats.shape[1]))))
        self.is_fitted = True
        return self

    def to_arrays(self, traffic) -> list[_Arrays]:
        """Normalise any accepted input to a list of checked per-window arrays (internal form)."""
        if traffic is None:
            raise T2TInputError("no traffic given: pass a Window, a list of windows, a corpus example dict or a "
                                "PacketTable")
        if _is_packet_table(traffic):
            return [self._from_object(w) for w in self._windows_of_table(traffic)]
        if isinstance(traffic, dict) or hasattr(traffic, "keys") and "size" in traffic:
            if "size" not in traffic:
                raise T2TInputError(f"a traffic dict needs a 'size' column (signed bytes per packet); got keys "
                                    f"{sorted(traffic.keys())}")
            sizes = traffic["size"]
            if _is_batched_column(sizes):
                n = len(sizes)
                return [self._from_dict({k: (v[i] if _is_batched_column(v) or isinstance(v, (list, tuple))
                                             and len(v) == n else v) for k, v in traffic.items()})
                        for i in range(n)] or _empty_batch()
            return [self._from_dict(traffic)]
        if isinstance(traffic, (list, tuple)):
            if not traffic:
                _empty_batch()
            out = []
            for i, item in enumerate(traffic):
                if isinstance(item, dict):
                    out.append(self._from_dict(item))
                elif _is_window(item):
                    out.append(self._from_object(item))
                else:
                    raise T2TInputError(f"item {i} of the traffic list is a {type(item).__name__}; expected Window "
                                        "objects or corpus example dicts")
            return out
        if _is_window(traffic):
            return [self._from_object(traffic)]
        raise T2TInputError(f"cannot make traffic features from a {type(traffic).__name__}; pass a Window, a list of "
                            "windows, a corpus example dict or a PacketTable")

    # -- per-window computations ------------------------------------------------------------------------------
    def _packet_rows(self, w: _Arrays, truncate: bool = True) -> np.ndarray:
        """[n, 8] packet features of one window (n <= max_packets when truncate)."""
        n = w.size.shape[0]
        out = np.zeros((n, len(PACKET_FEATURES)), np.float32)
        if n == 0:
            return out
        size = w.size
        direction = np.where(size >= 0, 1.0, -1.0)
        out[:, 0] = direction * np.log1p(np.abs(size))
        out[:, 1] = direction
        known = np.isfinite(w.time)
        if known.any():
            t = np.where(known, w.time, np.nan)
            prev = np.concatenate([[0.0], t[:-1]])
            iat = t - prev
            ok = known & np.isfinite(prev)
            iat = np.where(ok, np.clip(iat, 0.0, None), 0.0)
            out[:, 2] = np.log1p(iat * 1000.0)
        order_pos = (np.arange(n) + 0.5) / n
        out[:, 3] = np.where(known, np.clip(np.nan_to_num(w.time / w.duration), 0.0, 1.0), order_pos)
        out[:, 4] = known
        out[:, 5] = w.new_flow
        out[:, FLOW_ID_COLUMN] = np.minimum(w.flow, self.max_flows - 1)
        out[:, PROTOCOL_ID_COLUMN] = _protocol_ids(w.protocol)
        if truncate and n > self.max_packets:
            if self.truncation == "head":
                out = out[: self.max_packets]
            else:
                out = out[np.round(np.linspace(0, n - 1, self.max_packets)).astype(np.int64)]
        return out

    def _bins_and_stats(self, w: _Arrays) -> tuple[np.ndarray, np.ndarray]:
        """([num_time_bins, 6] time-bin features, [10] window statistics) of one window."""
        nb = self.num_time_bins
        n = w.size.shape[0]
        bins = np.zeros((nb, len(TIME_BIN_FEATURES)), np.float64)
        stats = np.zeros(len(WINDOW_STATS), np.float64)
        stats[WINDOW_STATS.index("empty_bin_share")] = 1.0
        if n == 0:
            return bins.astype(np.float32), stats.astype(np.float32)
        known = np.isfinite(w.time)
        by_order = np.minimum((np.arange(n) * nb) // n, nb - 1)
        if known.all():
            b = np.clip(np.floor(w.time / w.duration * nb), 0, nb - 1).astype(np.int64)
        elif known.any():  # partly known: bin by time where known, by order elsewhere
            b = np.where(known, np.clip(np.floor(np.nan_to_num(w.time) / w.duration * nb), 0, nb - 1),
                         by_order).astype(np.int64)
        else:
            b = by_order
        up = w.size > 0
        absz = np.abs(w.size)
        bytes_up = np.bincount(b, weights=np.where(up, absz, 0.0), minlength=nb)
        bytes_down = np.bincount(b, weights=np.where(up, 0.0, absz), minlength=nb)
        pk_up = np.bincount(b, weights=up.astype(np.float64), minlength=nb)
        pk_down = np.bincount(b, weights=(~up).astype(np.float64), minlength=nb)
        pairs = np.unique(b * (int(w.flow.max()) + 1) + w.flow)
        active = np.bincount(pairs // (int(w.flow.max()) + 1), minlength=nb)
        new = np.bincount(b[w.new_flow], minlength=nb)
        bins[:] = np.log1p(np.stack([bytes_up, bytes_down, pk_up, pk_down, active, new], 1))
        counts = pk_up + pk_down
        total_bytes = bytes_up.sum() + bytes_down.sum()
        stats[:] = [
            math.log1p(n),
            math.log1p(bytes_up.sum()),
            math.log1p(bytes_down.sum()),
            math.log1p(n / w.duration),
            math.log1p(len(np.unique(w.flow))),
            math.log1p(int(w.new_flow.sum())),
            float(counts.std() / counts.mean()),
            float(bytes_up.sum() / total_bytes) if total_bytes > 0 else 0.0,
            float(np.log1p(absz).mean()),
            float((counts == 0).mean()),
        ]
        return bins.astype(np.float32), stats.astype(np.float32)

    def _normalise_packets(self, feats: np.ndarray, mask: np.ndarray) -> np.ndarray:
        mean = np.asarray(self.packet_mean, np.float32)
        std = np.asarray(self.packet_std, np.float32)
        out = (feats - mean) / std
        # ids and flags stay as they are; padding stays 0
        keep = [c for c in range(feats.shape[-1]) if c not in NORMALISED_PACKET_COLUMNS]
        out[..., keep] = feats[..., keep]
        return (out * mask[..., None].astype(np.float32)).astype(np.float32)

    # -- input forms --------------------------------------------------------------------------------------------
    def _from_object(self, w) -> _Arrays:
        start, end = getattr(w, "start", None), getattr(w, "end", None)
        duration = (float(end) - float(start)) if start is not None and end is not None else self.window_length
        return _Arrays(getattr(w, "time", None), w.size, getattr(w, "protocol", None), getattr(w, "flow", None),
                       getattr(w, "new_flow", None), duration)

    def _from_dict(self, d: dict) -> _Arrays:
        if "size" not in d:
            raise T2TInputError(f"a traffic example needs a 'size' column (signed bytes per packet); got keys "
                                f"{sorted(d.keys())}")
        length = d.get("window_length")
        try:
            return _Arrays(d.get("time"), d["size"], d.get("protocol"), d.get("flow"),
                           d.get("new_flow"), float(length) if length is not None else self.window_length)
        except (TypeError, ValueError) as e:
            if isinstance(e, T2TInputError):
                raise
            raise T2TInputError(f"malformed traffic example: {e}; 'time', 'size', 'protocol', 'flow' must be "
                                "flat lists of numbers of equal length") from None

    def _windows_of_table(self, table):
        try:
            from t2t_hf.traffic import make_windows
        except ImportError:
            raise T2TInputError("turning a PacketTable into windows needs the t2t_hf package (pip install t2t-hf); "
                                "or pass windows / corpus examples instead") from None
        windows = make_windows(table, window=self.window_length)
        if not windows:
            raise T2TInputError("the packet table holds no packets of any device, so there is no window to "
                                "describe")
        return windows


def _stat_list(values, n: int, default: float, name: str) -> list[float]:
    if values is None:
        return [default] * n
    values = [float(v) for v in values]
    if len(values) != n:
        raise T2TInputError(f"{name} must have {n} values, got {len(values)}")
    return values


def _mean_std(x: np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, np.float64)
    if x.size == 0:
        return 0.0, 1.0
    std = float(x.std())
    return float(x.mean()), std if std > 1e-6 else 1.0


def _protocol_ids(protocol: np.ndarray) -> np.ndarray:
    out = np.zeros(protocol.shape, np.float32)
    for number, pid in _PROTOCOL_IDS.items():
        out[protocol == number] = pid
    return out


def _is_packet_table(x) -> bool:
    return hasattr(x, "timestamp") and hasattr(x, "src_addr") and hasattr(x, "ip_len")


def _is_window(x) -> bool:
    return hasattr(x, "size") and hasattr(x, "time") and not isinstance(x, (dict, np.ndarray))


def _is_batched_column(v) -> bool:
    if isinstance(v, np.ndarray):
        return v.dtype == object or v.ndim == 2
    return isinstance(v, (list, tuple)) and len(v) > 0 and isinstance(v[0], (list, tuple, np.ndarray))


def _is_iterator(x) -> bool:
    return hasattr(x, "__next__") or (hasattr(x, "__iter__") and not isinstance(x, (list, tuple, dict))
                                      and not _is_window(x) and not _is_packet_table(x))


def _empty_batch():
    raise T2TInputError("the traffic batch is empty: give at least one window")


T2TFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")

__all__ = ["T2TFeatureExtractor", "PACKET_FEATURES", "TIME_BIN_FEATURES", "WINDOW_STATS"]
