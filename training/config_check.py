"""Checks of a training config (``training/configs/*.yaml`` with its ``--set`` overrides) before anything runs.

``check_config(cfg, source)`` raises :class:`t2t_hf.errors.T2TInputError` naming every problem at once: unknown
sections or keys (with the closest known name, so ``model.use_modulaton`` is caught instead of silently training
the full model), values of the wrong type or out of range (``batch_size: 0``, ``steps: abc``,
``gradient_accumulation_steps: 0``), and T2T-Sim corpora smaller than one window per (user, environment).
``model`` keys are checked against :class:`T2TConfig`'s arguments; the model's own ranges are checked when it is
built.
"""

from __future__ import annotations

import difflib
import inspect

STAGE_NAMES = ("pretrain", "caption", "scst")
LOSS_NAMES = ("caption", "app_type", "contrastive", "prototype")
CORPORA = ("sim", "sim_cross_env", "knocking")
MIN_SIM_WINDOWS = 16  # one window in each of the 8 users x 2 environments cells (measured: 8 fails, 16 trains)

# key -> (kind, minimum); kinds: int, float, bool, str, choice tuple, "opt_int" (an int or null), "path"
TOP = {"output_dir": ("path", None), "data": ("section", None), "model": ("section", None),
       "tokenizer": ("section", None), "training": ("section", None), "stages": ("section", None)}
DATA = {"corpus": (CORPORA, None), "num_windows": ("int", 1), "seed": ("int", 0),
        "data_dir": ("path", None), "cache_dir": ("path", None), "max_train": ("opt_int", 1),
        "max_validation": ("opt_int", 1)}
TOKENIZER = {"kind": (("word", "bpe"), None), "vocab_size": ("int", 8), "min_frequency": ("int", 1)}
TRAINING = {"seed": ("int", 0), "batch_size": ("int", 1), "gradient_accumulation_steps": ("int", 1),
            "mixed_precision": (("auto", "no", "fp16", "bf16"), None), "weight_decay": ("float", 0.0),
            "max_grad_norm": ("float", 0.0), "checkpoint_every": ("int", 0), "log_every": ("int", 1),
            "eval_windows": ("opt_int", 1), "export_stages": ("bool", None), "torch_threads": ("int", 0),
            "cpu": ("bool", None)}
STAGE = {"enabled": ("bool", None), "steps": ("int", 0), "lr": ("float", 0.0), "warmup_steps": ("int", 0),
         "min_lr_ratio": ("float", 0.0), "eval_every": ("int", 0), "patience": ("int", 0),
         "loss_weights": ("section", None)}
SCST = {"num_samples": ("int", 2), "max_new_tokens": ("int", 1), "temperature": ("float", 0.0),
        "xe_weight": ("float", 0.0)}


def _model_keys() -> set[str]:
    from t2t_hf.configuration_t2t import T2TConfig

    params = set(inspect.signature(T2TConfig.__init__).parameters) - {"self", "kwargs"}
    return params | {"preset", "init_from"}


def _unknown(where: str, key: str, known) -> str:
    close = difflib.get_close_matches(str(key), list(known), n=1)
    return f"{where}{key}: unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")


def _value(where: str, key: str, value, kind, minimum) -> str | None:
    """A message when ``value`` is not of ``kind`` or below ``minimum``; None when it is fine."""
    name = f"{where}{key}"
    if isinstance(kind, tuple):
        return None if value in kind else f"{name}: {value!r} is not one of {', '.join(kind)}"
    if kind == "section":
        return None if value is None or isinstance(value, dict) else f"{name}: must be a mapping, got {value!r}"
    if kind == "path":
        return None if value is None or isinstance(value, str) else f"{name}: must be a path, got {value!r}"
    if kind == "bool":
        return None if isinstance(value, bool) else f"{name}: must be true or false, got {value!r}"
    if kind == "opt_int" and value is None:
        return None
    if kind in ("int", "opt_int"):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{name}: must be an integer, got {value!r}"
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{name}: must be a number, got {value!r}"
    if minimum is not None and value < minimum:
        return f"{name}: must be at least {minimum}, got {value!r}"
    return None


def _section(problems: list, where: str, node, schema: dict) -> None:
    if node is None:
        return
    if not isinstance(node, dict):
        problems.append(f"{where.rstrip('.')}: must be a mapping, got {node!r}")
        return
    for key, value in node.items():
        if key not in schema:
            problems.append(_unknown(where, key, schema))
            continue
        msg = _value(where, key, value, *schema[key])
        if msg:
            problems.append(msg)


def check_config(cfg: dict, source: str = "config") -> None:
    """Raise T2TInputError listing every problem of ``cfg`` (the parsed YAML with overrides applied)."""
    from t2t_hf.errors import T2TInputError

    problems: list[str] = []
    _section(problems, "", cfg, TOP)
    _section(problems, "data.", cfg.get("data"), DATA)
    _section(problems, "tokenizer.", cfg.get("tokenizer"), TOKENIZER)
    _section(problems, "training.", cfg.get("training"), TRAINING)
    model = cfg.get("model")
    if isinstance(model, dict):
        known = _model_keys()
        problems += [_unknown("model.", k, known) for k in model if k not in known]
        if model.get("preset", "small") not in ("small", "custom"):
            problems.append(f"model.preset: {model['preset']!r} is not one of small, custom")
    stages = cfg.get("stages")
    if isinstance(stages, dict):
        for name, stage in stages.items():
            if name not in STAGE_NAMES:
                problems.append(_unknown("stages.", name, STAGE_NAMES))
                continue
            schema = {**STAGE, **(SCST if name == "scst" else {})}
            _section(problems, f"stages.{name}.", stage, schema)
            weights = stage.get("loss_weights") if isinstance(stage, dict) else None
            if isinstance(weights, dict):
                _section(problems, f"stages.{name}.loss_weights.", weights,
                         {n: ("float", 0.0) for n in LOSS_NAMES})
    data = cfg.get("data") if isinstance(cfg.get("data"), dict) else {}
    n = data.get("num_windows")
    if data.get("corpus", "sim") != "knocking" and isinstance(n, int) and 0 < n < MIN_SIM_WINDOWS:
        problems.append(f"data.num_windows: T2T-Sim needs at least {MIN_SIM_WINDOWS} windows, one in each of its "
                        f"8 users x 2 environments, got {n}")
    if problems:
        raise T2TInputError(f"{source}: " + "; ".join(problems))
