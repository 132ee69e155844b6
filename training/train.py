"""Train a T2T captioner with the paper's multi-stage schedule. Run with ``accelerate launch``:

    accelerate launch training/train.py --config training/configs/t2t-small.yaml
    accelerate launch --multi_gpu --num_processes 2 training/train.py --config training/configs/tiny.yaml  # 2 CPU procs
    accelerate launch training/train.py --config training/configs/t2t-small.yaml --resume   # after a kill
    accelerate launch training/train.py --config ... --set model.use_modulation=false --output_dir runs/no-film

Stages (each a block under ``stages:`` in the YAML; ``steps: 0`` or ``enabled: false`` skips one):
  1. ``pretrain``: encoder pre-training with the app-type, traffic-text contrastive and prototype losses
     (caption loss weight 0);
  2. ``caption``: caption training with teacher forcing (cross-entropy on a reference chosen at random among the
     window's references each step), the auxiliary losses kept at their weights;
  3. ``scst``: self-critical sequence training with a CIDEr-D reward (Rennie et al. 2017), in the multi-sample
     variant: ``num_samples`` sampled captions per window, each rewarded by CIDEr-D against the window's
     references minus the mean reward of the other samples (no greedy pass needed).
     Why SCST and not a sentence-embedding loss: the captions are scored by CIDEr, SCST optimises it directly,
     and it needs no pretrained sentence encoder (nothing may be downloaded here, and an embedding trained on
     our own 5-paraphrase captions would mostly re-learn the cross-entropy signal). The ablation ``t2t-no-scst``
     / ``t2t-no-stage3`` in ``benchmark.py`` measures what it adds.

Everything is a pure function of (config, seed, step): the batch of optimizer step ``k`` of stage ``s`` comes
from a permutation seeded by ``(seed, s, epoch)``, the learning rate is set from ``(s, k)``, and checkpoints
hold model, optimizer and every process' RNG states, so ``--resume`` continues exactly where a killed run
stopped. Checkpoints are written to a temporary folder and renamed (atomic), every ``checkpoint_every`` optimizer
steps and at the end of each stage; the best model by validation CIDEr is kept and restored at the end of each
evaluated stage (early stopping: ``patience`` evaluations without improvement end the stage).

The trained model is written with ``save_pretrained`` (safetensors) and the processor's ``save_pretrained``
into ``<output_dir>/model`` (temporary folder, then rename), and ``--export_dir`` copies it elsewhere the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from t2t_hf.fileio import atomic_dir, atomic_path, atomic_write  # noqa: E402
from training.common import (FastCider, greedy_captions, load_corpus_features,  # noqa: E402
                             run_reporting_input_errors, score_predictions, write_json_atomic)
from training.config_check import STAGE_NAMES, check_config  # noqa: E402

LOSS_FLAGS = {"app_type": "use_app_type_head", "contrastive": "use_contrastive", "prototype": "use_prototypes"}


# ----------------------------------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------------------------------
def load_config(path, overrides=()) -> dict:
    """The YAML config with ``--set a.b=value`` overrides applied (values parsed as YAML)."""
    from t2t_hf.errors import T2TInputError

    p = Path(path)
    if not p.exists():
        raise T2TInputError(f"config file not found: {p}")
    try:
        cfg = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise T2TInputError(f"{p} is not valid YAML: {' '.join(str(e).split())}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise T2TInputError(f"cannot read config {p}: {e}") from None
    if not isinstance(cfg, dict):
        raise T2TInputError(f"{p} must hold a YAML mapping")
    for item in overrides:
        if "=" not in item:
            raise T2TInputError(f"--set expects key.path=value, got {item!r}")
        keys, value = item.split("=", 1)
        node = cfg
        parts = keys.split(".")
        for k in parts[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise T2TInputError(f"--set {item}: {k} is not a mapping in the config")
        try:
            node[parts[-1]] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise T2TInputError(f"--set {item}: the value is not valid YAML") from None
    check_config(cfg, str(p))
    return cfg


def stage_list(cfg: dict) -> list[tuple[str, dict]]:
    """Enabled stages in schedule order, with defaults filled in."""
    out = []
    for name in STAGE_NAMES:
        st = dict(cfg.get("stages", {}).get(name) or {})
        if not st or not st.get("enabled", True) or int(st.get("steps", 0)) <= 0:
            continue
        st.setdefault("lr", 1e-3)
        st.setdefault("warmup_steps", 0)
        st.setdefault("min_lr_ratio", 0.1)
        st.setdefault("loss_weights", {})
        st.setdefault("eval_every", 0)
        st.setdefault("patience", 0)
        out.append((name, st))
    return out


# ----------------------------------------------------------------------------------------------------------------
# Model, tokenizer, data
# ----------------------------------------------------------------------------------------------------------------
def build_tokenizer(train_refs: list[list[str]], tcfg: dict, max_len: int):
    from t2t_hf.tokenization_t2t import train_caption_tokenizer

    captions = [r for refs in train_refs for r in refs]
    return train_caption_tokenizer(captions, vocab_size=int(tcfg.get("vocab_size", 2000)), kind=tcfg.get("kind", "word"),
                                   min_frequency=int(tcfg.get("min_frequency", 1)), model_max_length=max_len)


def load_init_model(path):
    """``(model, tokenizer, feature_extractor)`` of a saved T2T model folder (``save_pretrained`` output, e.g.
    ``hub/models/t2t-small`` or a run's ``model`` folder) to fine-tune from (``model.init_from`` in the config).
    Its architecture keys win over the config's ``model:`` block; a missing folder is a clear error."""
    from t2t_hf.errors import T2TInputError
    from t2t_hf.modeling_t2t import T2TForTrafficCaptioning
    from t2t_hf.processing_t2t import T2TProcessor

    if not (Path(path) / "config.json").is_file():
        raise T2TInputError(f"model.init_from={path!r} is not a saved T2T model folder (no config.json); pass the "
                            "folder save_pretrained wrote, e.g. hub/models/t2t-small")
    proc = T2TProcessor.from_pretrained(path)
    return T2TForTrafficCaptioning.from_pretrained(path), proc.tokenizer, proc.feature_extractor


def build_model(cfg: dict, vocab_size: int):
    from t2t_hf.configuration_t2t import T2TConfig
    from t2t_hf.modeling_t2t import T2TForTrafficCaptioning

    mcfg = dict(cfg.get("model", {}))
    mcfg.pop("init_from", None)
    preset = mcfg.pop("preset", "small")
    config = T2TConfig.small(vocab_size=vocab_size, **mcfg) if preset == "small" else T2TConfig(vocab_size=vocab_size,
                                                                                                **mcfg)
    return T2TForTrafficCaptioning(config)


def encode_references(tokenizer, meta: list[dict], max_len: int) -> np.ndarray:
    """[N, R, L] token ids of every reference (R = most references of any window; missing ones repeat the
    first), padded with -100."""
    refs = [m["references"] or [m["caption"]] for m in meta]
    r_max = max(len(r) for r in refs)
    flat = [r[j] if j < len(r) else r[0] for r in refs for j in range(r_max)]
    ids = tokenizer(flat, padding="max_length", truncation=True, max_length=max_len)["input_ids"]
    arr = np.asarray(ids, dtype=np.int64).reshape(len(refs), r_max, max_len)
    arr[arr == tokenizer.pad_token_id] = -100
    return arr


def app_type_ids(meta: list[dict], app_types: list[str]) -> np.ndarray:
    index = {n: i for i, n in enumerate(app_types)}
    return np.asarray([index.get(m["app_type"], -100) for m in meta], np.int64)


def batch_indices(n: int, global_batch: int, seed: int, stage_idx: int, step: int) -> np.ndarray:
    """Window indices of optimizer step ``step`` of stage ``stage_idx``: consecutive slices of per-epoch
    permutations seeded by (seed, stage, epoch). A pure function of its arguments (what makes resume exact)."""
    out = []
    start = step * global_batch
    while len(out) < global_batch:
        epoch, offset = divmod(start + len(out), n)
        perm = np.random.default_rng([seed, stage_idx, epoch]).permutation(n)
        take = min(global_batch - len(out), n - offset)
        out.extend(perm[offset:offset + take].tolist())
    return np.asarray(out, np.int64)


def lr_at(stage: dict, step: int) -> float:
    """Linear warm-up then cosine decay to ``min_lr_ratio * lr`` over the stage's steps."""
    lr, warm, total = float(stage["lr"]), int(stage["warmup_steps"]), int(stage["steps"])
    if warm and step < warm:
        return lr * (step + 1) / warm
    frac = (step - warm) / max(1, total - warm)
    return lr * (stage["min_lr_ratio"] + (1 - stage["min_lr_ratio"]) * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def set_loss_weights(model_config, stage_name: str, stage: dict, base: dict) -> None:
    """The stage's loss weights on the (unwrapped) model config; components switched off stay at 0."""
    w = dict(base)
    if stage_name == "pretrain":
        w["caption_loss_weight"] = 0.0
    for k, v in stage["loss_weights"].items():
        w[f"{k}_loss_weight"] = float(v)
    for short, flag in LOSS_FLAGS.items():
        if not getattr(model_config, flag):
            w[f"{short}_loss_weight"] = 0.0
    for k, v in w.items():
        setattr(model_config, k, v)


# ----------------------------------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------------------------------
def latest_checkpoint(out: Path) -> Path | None:
    ptr = out / "checkpoints" / "latest"
    if ptr.exists():
        p = out / "checkpoints" / ptr.read_text().strip()
        if (p / "trainer_state.json").exists():
            return p
    return None


def save_checkpoint(accelerator, out: Path, state: dict, keep: int = 2) -> None:
    """Write model, optimizer, RNG states (every process) and the trainer state into a temporary folder, then
    rename it to ``checkpoints/step-<global_step>`` and point ``checkpoints/latest`` at it (both atomic)."""
    ck = out / "checkpoints"
    name = f"step-{state['global_step']:07d}"
    tmp = ck / f".tmp-{name}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp), safe_serialization=True)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        write_json_atomic(state, tmp / "trainer_state.json")
        final = ck / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        atomic_write(ck / "latest", name)
        old = sorted(p for p in ck.glob("step-*") if p.name != name)
        for p in old[:max(0, len(old) - (keep - 1))]:
            shutil.rmtree(p, ignore_errors=True)
    accelerator.wait_for_everyone()


def save_best(accelerator, model, out: Path) -> None:
    if accelerator.is_main_process:
        from safetensors.torch import save_file

        sd = {k: v.detach().cpu().contiguous() for k, v in accelerator.unwrap_model(model).state_dict().items()}
        with atomic_path(out / "best_model.safetensors") as tmp:
            save_file(_untie(sd), tmp)
    accelerator.wait_for_everyone()


def load_best(accelerator, model, out: Path) -> None:
    from safetensors.torch import load_file

    sd = load_file(str(out / "best_model.safetensors"))
    accelerator.unwrap_model(model).load_state_dict(sd, strict=False)


def _untie(sd: dict) -> dict:
    seen, out = {}, {}
    for k, v in sd.items():
        key = (v.data_ptr(), tuple(v.shape))
        out[k] = v.clone() if key in seen else v
        seen[key] = k
    return out


def export_model(model, fe, tokenizer, target: Path) -> None:
    """save_pretrained (safetensors) + processor into a temporary folder next to ``target``, then rename."""
    from t2t_hf.processing_t2t import T2TProcessor

    with atomic_dir(target) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        T2TProcessor(fe, tokenizer).save_pretrained(tmp)


# ----------------------------------------------------------------------------------------------------------------
# Stage steps
# ----------------------------------------------------------------------------------------------------------------
def teacher_forcing_loss(model, inputs, labels, app_labels):
    out = model(**inputs, labels=labels, app_type_labels=app_labels)
    parts = {k: float(getattr(out, k).detach()) for k in ("caption_loss", "app_type_loss", "contrastive_loss",
                                                           "prototype_loss") if getattr(out, k) is not None}
    return out.loss, parts


def scst_loss(model, raw_model, inputs, refs: list[list[str]], tokenizer, cider: FastCider, stage: dict):
    """Multi-sample self-critical loss: -(r_i - mean_{j != i} r_j) * mean log p(sample_i), r = CIDEr-D."""
    k = int(stage.get("num_samples", 4))
    max_new = int(stage.get("max_new_tokens", raw_model.config.max_target_positions - 1))
    was_training = raw_model.training
    raw_model.eval()
    with torch.no_grad():
        seq = raw_model.generate(**inputs, do_sample=True, top_k=0, num_return_sequences=k, max_new_tokens=max_new,
                                 temperature=float(stage.get("temperature", 1.0)))
    raw_model.train(was_training)
    caps = tokenizer.batch_decode(seq, skip_special_tokens=True)
    rewards = np.asarray([cider.score(c, refs[i // k]) for i, c in enumerate(caps)], np.float32).reshape(-1, k)
    baseline = (rewards.sum(1, keepdims=True) - rewards) / max(1, k - 1)
    adv = torch.from_numpy((rewards - baseline).reshape(-1)).to(seq.device)
    rep = {n: v.repeat_interleave(k, 0) for n, v in inputs.items()}
    dec_in, targets = seq[:, :-1], seq[:, 1:]
    out = model(**rep, decoder_input_ids=dec_in, use_cache=False)
    logp = torch.log_softmax(out.logits.float(), -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    eos, pad = raw_model.config.eos_token_id, raw_model.config.pad_token_id
    after = (targets == eos).long().cumsum(-1) - (targets == eos).long()
    valid = ((after == 0) & (targets != pad)).float()
    seq_logp = (logp * valid).sum(-1) / valid.sum(-1).clamp_min(1.0)
    loss = -(adv * seq_logp).mean()
    return loss, {"scst_reward": float(rewards.mean()), "scst_advantage_abs": float(np.abs(rewards - baseline).mean())}


# ----------------------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="YAML config (training/configs/*.yaml)")
    ap.add_argument("--output_dir", help="run folder (default: the config's output_dir)")
    ap.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in output_dir")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config value, e.g. --set model.use_modulation=false (repeatable)")
    ap.add_argument("--export_dir", help="also write the trained model + processor here (atomically)")
    ap.add_argument("--cpu", action="store_true", help="train on CPU even when a GPU is present")
    ap.add_argument("--kill_after_step", type=int, default=None,
                    help="testing aid: hard-exit (os._exit(137), no cleanup) right after the checkpoint of this "
                         "global step, as a kill would")
    args = ap.parse_args(argv)
    t_start = time.time()

    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, broadcast_object_list, set_seed

    import t2t_hf  # noqa: F401  (registers the Auto classes)

    cfg = load_config(args.config, args.set)
    tcfg = cfg.get("training", {})
    out = Path(args.output_dir or cfg.get("output_dir", "training/runs/default"))
    use_cpu = args.cpu or bool(tcfg.get("cpu", False)) or not torch.cuda.is_available()
    mp = tcfg.get("mixed_precision", "auto")
    if mp == "auto":
        mp = "no" if use_cpu else ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
    accelerator = Accelerator(cpu=use_cpu, mixed_precision=mp, log_with="tensorboard", project_dir=str(out),
                              kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    seed = int(tcfg.get("seed", 0))
    set_seed(seed)
    if tcfg.get("torch_threads"):
        torch.set_num_threads(int(tcfg["torch_threads"]))
    main_proc = accelerator.is_main_process
    log = (lambda *a: print(*a, flush=True)) if main_proc else (lambda *a: None)

    # -- data -------------------------------------------------------------------------------------------------
    dcfg = cfg.get("data", {})
    mcfg = cfg.get("model", {})
    from t2t_hf.configuration_t2t import T2T_SMALL

    init = load_init_model(mcfg["init_from"]) if mcfg.get("init_from") else None
    if init is not None:  # fine-tuning: features sized as the saved model's feature extractor expects
        sizes = {k: getattr(init[2], k) for k in ("max_packets", "num_time_bins", "max_flows")}
    else:
        sizes = {k: mcfg.get(k, T2T_SMALL[k] if mcfg.get("preset", "small") == "small" else None)
                 for k in ("max_packets", "num_time_bins")}
        sizes["max_flows"] = mcfg.get("max_flows", 32)
    t0 = time.time()
    with accelerator.main_process_first():  # the first process builds the feature cache, the others read it
        splits, fe = load_corpus_features(
            dcfg.get("corpus", "sim"), num_windows=int(dcfg.get("num_windows", 3840)), seed=int(dcfg.get("seed", 0)),
            data_dir=dcfg.get("data_dir"), max_packets=int(sizes["max_packets"] or 256),
            num_time_bins=int(sizes["num_time_bins"] or 20), max_flows=int(sizes["max_flows"] or 32),
            cache_dir=dcfg.get("cache_dir"),
            limits={"train": dcfg.get("max_train"), "validation": dcfg.get("max_validation")})
    train, val = splits["train"], splits["validation"]
    data_seconds = time.time() - t0
    log(f"data: {len(train)} train / {len(val)} validation windows ({data_seconds:.1f} s)")

    torch.manual_seed(seed)
    if init is not None:  # fine-tuning: the saved model's weights, tokenizer and feature normalisation
        model, tokenizer, fe_init = init
        splits = {k: v.renormalised(fe, fe_init) for k, v in splits.items()}
        train, val, fe = splits["train"], splits["validation"], fe_init
        max_len = int(model.config.max_target_positions)
        log(f"initialised from {mcfg['init_from']} (its tokenizer and feature normalisation are kept)")
    else:
        max_len = int(mcfg.get("max_target_positions", T2T_SMALL["max_target_positions"]))
        tokenizer = build_tokenizer(train.column("references"), cfg.get("tokenizer", {}), max_len)
        model = build_model(cfg, len(tokenizer))
    fe.app_types = list(model.config.app_types)
    raw = model
    base_weights = {k: getattr(model.config, k) for k in ("caption_loss_weight", "app_type_loss_weight",
                                                           "contrastive_loss_weight", "prototype_loss_weight")}
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params / 1e6:.2f} M parameters, vocabulary {len(tokenizer)}, device {accelerator.device}, "
        f"{accelerator.num_processes} process(es), mixed precision {mp}")
    refs_ids = encode_references(tokenizer, train.meta, max_len)
    app_ids = app_type_ids(train.meta, model.config.app_types)
    train_refs = train.column("references")
    cider = FastCider(train_refs)

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=float(tcfg.get("weight_decay", 0.01)),
                                  betas=(0.9, 0.98))
    model, optimizer = accelerator.prepare(model, optimizer)
    stages = stage_list(cfg)
    batch = int(tcfg.get("batch_size", 32))  # per process, per micro-step
    accum = int(tcfg.get("gradient_accumulation_steps", 1))
    world = accelerator.num_processes
    global_batch = batch * accum * world
    ckpt_every = int(tcfg.get("checkpoint_every", 200))
    val_limit = tcfg.get("eval_windows")
    val_eval = val if not val_limit or int(val_limit) >= len(val) else val.subset(
        np.unique(np.round(np.linspace(0, len(val) - 1, int(val_limit))).astype(np.int64)))

    state = {"stage_index": 0, "stage_step": 0, "global_step": 0, "best_cider": None, "bad_evals": 0,
             "stage_done": False, "history": [], "stage_seconds": {}, "config": cfg}
    if args.resume:
        ck = latest_checkpoint(out)
        if ck is None:
            log(f"--resume: no checkpoint in {out / 'checkpoints'}, starting from scratch")
        else:
            accelerator.load_state(str(ck))
            state = json.loads((ck / "trainer_state.json").read_text())
            log(f"resumed from {ck} (stage {state['stage_index']} step {state['stage_step']}, "
                f"global step {state['global_step']})")
    elif main_proc and latest_checkpoint(out) is not None:
        log(f"note: {out} already holds checkpoints; starting over (use --resume to continue)")
    # whole-command time over invocations: a resumed run adds the earlier ones (up to their last checkpoint)
    prior = {k: float(state.get(k, 0.0)) for k in ("wall_seconds", "data_seconds")}
    invocations = int(state.get("invocations", 0)) + 1

    def command_times() -> dict:
        """Corpus-feature and whole-command seconds so far, summed over the invocations of a resumed run."""
        return {"wall_seconds": prior["wall_seconds"] + time.time() - t_start,
                "data_seconds": prior["data_seconds"] + data_seconds, "invocations": invocations}

    accelerator.init_trackers("tb")

    def evaluate_now() -> dict:
        """Greedy captions of the validation windows, COCO metrics (no METEOR: its JVM is slow), on the main
        process; the result is broadcast so every process takes the same early-stopping decision."""
        res = [None]
        if main_proc:
            caps, types = greedy_captions(accelerator.unwrap_model(model), val_eval, tokenizer,
                                          device=accelerator.device)
            try:
                scores = score_predictions(caps, val_eval, types, meteor=False)["overall"]
            except Exception as e:  # Java missing or a scorer failure: fall back to the in-process CIDEr-D
                log(f"warning: COCO metrics failed ({type(e).__name__}: {e}); using the in-process CIDEr-D")
                scores = {"CIDEr": cider.corpus(caps, val_eval.column("references"))}
            scores["example"] = caps[0] if caps else ""
            res = [scores]
        broadcast_object_list(res)
        model.train()
        return res[0]

    from tqdm.auto import tqdm

    model.train()
    for s_idx, (name, stage) in enumerate(stages):
        if s_idx < state["stage_index"]:
            continue
        if s_idx > state["stage_index"]:
            state.update(stage_index=s_idx, stage_step=0, bad_evals=0, stage_done=False)
        raw_model = accelerator.unwrap_model(model)
        set_loss_weights(raw_model.config, name, stage, base_weights)
        steps = int(stage["steps"])
        bar = tqdm(total=steps, initial=state["stage_step"], desc=f"stage {s_idx + 1} {name}", disable=not main_proc,
                   dynamic_ncols=True, mininterval=2.0)
        t_stage = time.time()
        while state["stage_step"] < steps and not state["stage_done"]:
            k = state["stage_step"]
            for g in optimizer.param_groups:
                g["lr"] = lr_at(stage, k)
            idx_all = batch_indices(len(train), global_batch, seed, s_idx, k)
            rng = np.random.default_rng([seed, s_idx, k, 7])
            ref_pick = rng.integers(0, refs_ids.shape[1], size=len(idx_all))
            logs = {}
            for micro in range(accum):
                lo = (micro * world + accelerator.process_index) * batch
                idx = idx_all[lo:lo + batch]
                inputs = train.model_inputs(idx, accelerator.device)
                sync = contextlib.nullcontext() if micro == accum - 1 else accelerator.no_sync(model)
                with sync:
                    if name == "scst":
                        loss, parts = scst_loss(model, raw_model, inputs, [train_refs[i] for i in idx], tokenizer,
                                                cider, stage)
                        xe = float(stage.get("xe_weight", 0.0))
                        if xe > 0:
                            labels = torch.from_numpy(refs_ids[idx, ref_pick[lo:lo + batch]]).to(accelerator.device)
                            xe_loss, _ = teacher_forcing_loss(model, inputs, labels, None)
                            loss = loss + xe * xe_loss
                    else:
                        labels = torch.from_numpy(refs_ids[idx, ref_pick[lo:lo + batch]]).to(accelerator.device)
                        labels = labels[:, : max(1, int((labels != -100).sum(1).max()))]
                        apps = torch.from_numpy(app_ids[idx]).to(accelerator.device)
                        loss, parts = teacher_forcing_loss(model, inputs, labels, apps)
                    accelerator.backward(loss / accum)
                for kk, v in {"loss": float(loss.detach()), **parts}.items():
                    logs[kk] = logs.get(kk, 0.0) + v / accum
            if tcfg.get("max_grad_norm", 1.0):
                accelerator.clip_grad_norm_(model.parameters(), float(tcfg.get("max_grad_norm", 1.0)))
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            state["stage_step"] += 1
            state["global_step"] += 1
            gs = state["global_step"]
            bar.update(1)
            if gs % int(tcfg.get("log_every", 10)) == 0 or state["stage_step"] == steps:
                accelerator.log({f"{name}/{kk}": v for kk, v in logs.items()} | {"lr": lr_at(stage, k)}, step=gs)
                bar.set_postfix({kk: f"{v:.3f}" for kk, v in logs.items() if kk in ("loss", "caption_loss",
                                                                                   "scst_reward")})
            ev = int(stage["eval_every"])
            if ev and (state["stage_step"] % ev == 0 or state["stage_step"] == steps):
                scores = evaluate_now()
                accelerator.log({f"validation/{kk}": v for kk, v in scores.items() if isinstance(v, float)}, step=gs)
                better = state["best_cider"] is None or scores["CIDEr"] > state["best_cider"] + 1e-9
                if better:
                    state["best_cider"] = scores["CIDEr"]
                    state["bad_evals"] = 0
                    save_best(accelerator, model, out)
                else:
                    state["bad_evals"] += 1
                state["history"].append({"stage": name, "step": state["stage_step"], "global_step": gs,
                                         **{kk: v for kk, v in scores.items()}})
                log(f"\n[{name} step {state['stage_step']}] validation CIDEr {scores['CIDEr']:.1f} "
                    f"BLEU-4 {scores.get('BLEU-4', float('nan')):.1f} app-type acc "
                    f"{scores.get('app_type_accuracy', float('nan')):.1f} (best {state['best_cider']:.1f}); "
                    f"e.g. {scores['example']!r}")
                if stage["patience"] and state["bad_evals"] >= int(stage["patience"]):
                    log(f"early stopping: {state['bad_evals']} evaluations without improvement")
                    state["stage_done"] = True
            state["stage_seconds"][name] = state["stage_seconds"].get(name, 0.0) + (time.time() - t_stage)
            t_stage = time.time()
            at_end = state["stage_step"] >= steps or state["stage_done"]
            if (ckpt_every and gs % ckpt_every == 0) or at_end:
                state.update(command_times())
                save_checkpoint(accelerator, out, state)
                if args.kill_after_step is not None and gs >= args.kill_after_step:
                    os._exit(137)
        bar.close()
        if int(stage["eval_every"]) and (out / "best_model.safetensors").exists():
            load_best(accelerator, model, out)  # the stage ends on its best validated weights
        if main_proc and tcfg.get("export_stages", False):  # e.g. the model before SCST, for the ablation table
            snap = copy.deepcopy(accelerator.unwrap_model(model)).cpu().eval()
            for kk, v in base_weights.items():
                setattr(snap.config, kk, v)
            export_model(snap, fe, tokenizer, out / "stages" / name)
        accelerator.wait_for_everyone()

    # -- final model ---------------------------------------------------------------------------------------------
    accelerator.wait_for_everyone()
    summary = {"global_step": state["global_step"], "best_validation_cider": state["best_cider"],
               "stage_seconds": state["stage_seconds"], "train_seconds": sum(state["stage_seconds"].values()),
               "processes": world, "device": str(accelerator.device), "mixed_precision": mp,
               "parameters": n_params, "train_windows": len(train), "history": state["history"],
               **command_times(), "cpu_cores": os.cpu_count(), "config": cfg}
    if main_proc:
        final = copy.deepcopy(accelerator.unwrap_model(model)).cpu().eval()
        for k, v in base_weights.items():
            setattr(final.config, k, v)
        export_model(final, fe, tokenizer, out / "model")
        if args.export_dir:
            export_model(final, fe, tokenizer, Path(args.export_dir))
        write_json_atomic(summary, out / "train_summary.json")
        log(f"done: {state['global_step']} optimizer steps, {summary['train_seconds']:.0f} s of training; "
            f"model in {out / 'model'}")
    accelerator.end_training()
    return 0


def cli(argv=None) -> int:
    """``main`` with bad input (config, data, init_from) reported as one line and exit status 1, no traceback."""
    return run_reporting_input_errors(main, argv)


if __name__ == "__main__":
    sys.exit(cli())
