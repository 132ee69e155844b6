"""Train and evaluate T2T, its ablations and the baselines on every corpus config; write the results tables.

    python training/benchmark.py            # everything; writes training/RESULTS.md and training/results.json
    python training/benchmark.py --quick    # the same path on a small slice (a few minutes); writes into
                                            # training/runs/bench-quick/ unless --results_dir is given
    python training/benchmark.py --only sim:t2t,sim:oracle    # a subset (results of earlier items are kept,
                                                              # from the runs folder or results.json)

Every item's result is stored in ``<runs_dir>/<corpus>/<model>.json`` as soon as it is done, and the tables are
rewritten after each item, so an interrupted benchmark resumes where it stopped (T2T runs also resume from
their checkpoints). ``results.json`` is ``{corpus: {model: {metric: value}}}`` with metrics ``BLEU-4``,
``METEOR``, ``ROUGE-L``, ``CIDEr`` (COCO caption metrics, times 100), ``app_type_accuracy`` (percent) and extras
(``CIDEr/<app type>``, ``train_seconds``, ``wall_seconds`` (the item's own time), T2T's ``command_seconds``
(the whole training command) and ``data_seconds``, knocking's ``flow_accuracy``/``instance_accuracy``).

Models: ``t2t`` (the t2t-small recipe, training/configs/t2t-small.yaml; on sim it is the shipped model's run),
``t2t-no-<component>`` (ablations, same recipe with one part off), ``transformer_lstm``, ``retrieval``,
``classifier_template``, ``oracle`` (T2T-Sim only), ``random_forest`` (knocking only).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.common import (SHARED_KNOCKING, load_corpus_features, score_predictions,  # noqa: E402
                             write_json_atomic, write_text_atomic)

METRICS = ["BLEU-4", "METEOR", "ROUGE-L", "CIDEr", "app_type_accuracy"]

#: ablation name -> --set overrides of train.py (each removes one T2T component)
ABLATIONS = {
    "t2t-no-modulation": ["model.use_modulation=false"],
    "t2t-no-prototypes": ["model.use_prototypes=false"],
    "t2t-no-contrastive": ["model.use_contrastive=false"],
    "t2t-no-app_type_loss": ["model.use_app_type_head=false"],
    "t2t-no-prototype_loss": ["model.prototype_loss_weight=0.0", "stages.pretrain.loss_weights.prototype=0.0",
                              "stages.caption.loss_weights.prototype=0.0"],
    "t2t-no-stage1": ["stages.pretrain.enabled=false"],
    "t2t-no-stage2": ["stages.caption.enabled=false"],  # SCST straight after pre-training, from an untrained decoder
    # t2t-no-stage3 needs no run of its own: it is the t2t run's model after stage 2 (exported by train.py)
}
#: the ablation reference again with other training seeds (same data): the run-to-run spread the ablations
#: are judged against
BUDGET_SEEDS = {"t2t-ablation-budget-seed1": 1, "t2t-ablation-budget-seed2": 2}
ABLATION_TEXT = {
    "t2t-no-modulation": "dynamic feature modulation (FiLM)", "t2t-no-prototypes": "flow-pattern prototypes",
    "t2t-no-contrastive": "traffic-text contrastive loss (and heads)", "t2t-no-app_type_loss": "app-type loss (and head)",
    "t2t-no-prototype_loss": "prototype loss (prototypes kept)", "t2t-no-stage1": "stage 1 (encoder pre-training)",
    "t2t-no-stage2": "stage 2 (teacher-forced captioning)",
    "t2t-no-stage3": "stage 3 (SCST, CIDEr reward)",
}

#: the ablation budget: every ablation and its reference run ("t2t-ablation-budget", the full recipe with these
#: step counts) are trained with fewer steps than the shipped model, so that all of them fit on a 2-core CPU;
#: the ablation table compares each ablation with that reference, never with the longer-trained t2t.
ABLATION_SET = ["stages.pretrain.steps=50", "stages.caption.steps=600", "stages.caption.eval_every=150",
                "stages.scst.steps=150", "stages.scst.eval_every=50", "training.eval_windows=120"]

QUICK_SET = ["data.num_windows=320", "stages.pretrain.steps=10", "stages.caption.steps=40",
             "stages.caption.eval_every=20", "stages.scst.steps=6", "stages.scst.eval_every=6",
             "training.eval_windows=40", "training.checkpoint_every=50"]


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def flat(scores: dict, extra: dict | None = None) -> dict:
    """{metric: value} from score_predictions' output (+ per app type CIDEr / app-type accuracy)."""
    out = {k: float(v) for k, v in scores["overall"].items() if k in METRICS or k.startswith("BLEU")}
    for g, row in scores.get("by_app_type", {}).items():
        out[f"CIDEr/{g}"] = float(row["CIDEr"])
        out[f"BLEU-4/{g}"] = float(row["BLEU-4"])
        out[f"count/{g}"] = int(row.get("count", 0))
    out.update(extra or {})
    return out


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.runs = Path(args.runs_dir or (ROOT / "training" / "runs" / ("bench-quick" if args.quick else "bench")))
        self.results_dir = Path(args.results_dir or (self.runs if args.quick else ROOT / "training"))
        self.num_windows = 320 if args.quick else args.num_windows
        self._data = {}

    # -- data ---------------------------------------------------------------------------------------------------
    def data(self, corpus):
        if corpus not in self._data:
            limits = {"train": 600, "validation": 60, "test": 200} if (self.quick and corpus == "knocking") else None
            self._data[corpus] = load_corpus_features(corpus, num_windows=self.num_windows,
                                                      data_dir=self.args.knocking_dir, limits=limits)
        return self._data[corpus]

    def tokenizer(self, corpus):
        from training.train import build_tokenizer

        return build_tokenizer(self.data(corpus)[0]["train"].column("references"), {}, 40)

    # -- items ----------------------------------------------------------------------------------------------------
    def item_path(self, corpus, model) -> Path:
        return self.runs / corpus / f"{model}.json"

    def run_item(self, corpus, model):
        path = self.item_path(corpus, model)
        if path.exists() and not self.args.redo:
            return json.loads(path.read_text())
        log(f"=== {corpus} / {model}")
        t0 = time.time()
        if model.startswith("t2t-no-"):
            res = self.do_ablation(corpus, model)
        elif model in BUDGET_SEEDS:
            res = self.do_t2t_ablation_budget(corpus, model, BUDGET_SEEDS[model])
        else:
            res = getattr(self, "do_" + model.replace("-", "_"))(corpus)
        if res is None:
            return None
        res["wall_seconds"] = time.time() - t0
        write_json_atomic(res, path)
        log(f"{corpus} / {model}: " + ", ".join(f"{k} {v:.1f}" for k, v in res.items()
                                                 if k in METRICS + ["instance_accuracy", "flow_accuracy"]))
        return res

    def _score(self, corpus, preds, types, extra=None):
        test = self.data(corpus)[0]["test"]
        res = flat(score_predictions(preds, test, types), extra)
        if corpus != "knocking" and "class_accuracy" not in res:
            res["class_accuracy"] = self.class_accuracy(corpus, preds)
        return res

    def class_accuracy(self, corpus, captions) -> float:
        """Percent of test windows whose caption names the right (app, activity) class (T2T-Sim): each caption is
        mapped to a class by ``caption_to_label`` (exact training paraphrase, else highest CIDEr-D)."""
        from training.baselines.classifier_template import class_of
        from training.baselines.random_forest import caption_to_label

        splits, _ = self.data(corpus)
        pred = caption_to_label(list(captions), splits["train"], class_of)
        return 100.0 * float(np.mean([p == class_of(m) for p, m in zip(pred, splits["test"].meta)]))

    def do_oracle(self, corpus):
        from training.baselines.oracle import oracle

        splits, _ = self.data(corpus)
        r = oracle(splits["train"], splits["test"])
        res = self._score(corpus, r["predictions"], r["app_types"])
        res.pop("app_type_accuracy", None)  # the oracle is given the true label
        return res

    def do_retrieval(self, corpus):
        from training.baselines.retrieval import retrieve

        splits, _ = self.data(corpus)
        t0 = time.time()
        r = retrieve(splits["train"], splits["test"])
        return self._score(corpus, r["predictions"], r["app_types"], {"train_seconds": time.time() - t0})

    def do_classifier_template(self, corpus):
        from training.baselines.classifier_template import classify_and_template

        splits, _ = self.data(corpus)
        t0 = time.time()
        r = classify_and_template(splits["train"], splits["test"])
        return self._score(corpus, r["predictions"], r["app_types"],
                           {"train_seconds": time.time() - t0, "class_accuracy": r["class_accuracy"]})

    def do_transformer_lstm(self, corpus):
        import torch

        from training.baselines.transformer_lstm import train_and_predict

        torch.set_num_threads(max(1, int(self.args.threads)))
        splits, _ = self.data(corpus)
        steps = 30 if self.quick else (self.args.lstm_steps or _steps_before_scst())
        r = train_and_predict(splits["train"], splits["test"], self.tokenizer(corpus), steps=steps, log=log)
        return self._score(corpus, r["predictions"], None, {"train_seconds": r["train_seconds"], "steps": steps})

    def do_random_forest(self, corpus):
        from training.baselines.random_forest import random_forest

        if corpus != "knocking":
            return None
        splits, _ = self.data(corpus)
        t0 = time.time()
        r = random_forest(splits["train"], splits["test"])
        return self._score(corpus, r["predictions"], r["app_types"],
                           {"train_seconds": time.time() - t0, "flow_accuracy": r["flow_accuracy"],
                            "instance_accuracy": r["instance_accuracy"]})

    # -- T2T runs -------------------------------------------------------------------------------------------------
    def config_for(self, corpus) -> Path:
        return ROOT / "training" / "configs" / ("knocking.yaml" if corpus == "knocking" else "t2t-small.yaml")

    def run_dir(self, corpus, model) -> Path:
        if corpus == "sim" and model == "t2t" and not self.quick and self.args.shipped_run:
            return Path(self.args.shipped_run)  # the shipped model's run (train it once, benchmark reuses it)
        return self.runs / corpus / model

    def train(self, corpus, model, overrides=()) -> Path:
        out = self.run_dir(corpus, model)
        if (out / "train_summary.json").exists() and (out / "model" / "config.json").exists():
            return out
        sets = [f"data.corpus={corpus}", "training.export_stages=true"]
        if corpus != "knocking":
            sets.append(f"data.num_windows={self.num_windows}")
        if self.quick:
            sets += QUICK_SET
            if corpus == "knocking":
                sets += ["data.max_train=600", "data.max_validation=60"]
        if self.args.torch_threads:
            sets.append(f"training.torch_threads={self.args.torch_threads}")
        sets += list(overrides)
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", str(ROOT / "training" / "train.py"),
               "--config", str(self.config_for(corpus)), "--output_dir", str(out), "--resume"]
        for s in sets:
            cmd += ["--set", s]
        out.mkdir(parents=True, exist_ok=True)
        log("$ " + " ".join(cmd[2:]))
        with open(out / "train.log", "a") as f:
            subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
        return out

    def eval_model(self, corpus, model_dir: Path, extra: dict):
        from training.evaluate import evaluate_model

        limits = 200 if (self.quick and corpus == "knocking") else None
        r = evaluate_model(model_dir, corpus, "test", num_windows=self.num_windows, data_dir=self.args.knocking_dir,
                           limit=limits)
        res = flat(r, extra)
        if corpus != "knocking":
            res["class_accuracy"] = self.class_accuracy(corpus, r["predictions"])
        if corpus == "knocking":
            from training.baselines.random_forest import action_key, caption_to_action

            splits, _ = self.data(corpus)
            pred = caption_to_action(r["predictions"], splits["train"])
            truth = [action_key(m) for m in splits["test"].meta]
            res["instance_accuracy"] = 100.0 * float(np.mean([p == t for p, t in zip(pred, truth)]))
        return res

    def do_t2t(self, corpus):
        out = self.train(corpus, "t2t")
        s = json.loads((out / "train_summary.json").read_text())
        extra = {"train_seconds": s["train_seconds"], "optimizer_steps": s["global_step"]}
        if "wall_seconds" in s:  # the whole train.py command (run_item's wall_seconds is this item's own time)
            extra.update(command_seconds=s["wall_seconds"], data_seconds=s.get("data_seconds"))
        return self.eval_model(corpus, out / "model", extra)

    def do_t2t_ablation_budget(self, corpus, name="t2t-ablation-budget", seed=None):
        sets = list(ABLATION_SET if not self.quick else ()) + ([f"training.seed={seed}"] if seed is not None else [])
        out = self.train(corpus, name, sets)
        s = json.loads((out / "train_summary.json").read_text())
        return self.eval_model(corpus, out / "model", {"train_seconds": s["train_seconds"],
                                                       "optimizer_steps": s["global_step"]})

    def do_ablation(self, corpus, model):
        budget = ABLATION_SET if not self.quick else []
        if model == "t2t-no-stage3":  # measured on the full recipe: the t2t run's own model after stage 2
            out = self.train(corpus, "t2t")
            stage2 = out / "stages" / "caption"
            if not stage2.exists():
                log(f"{out} has no stage-2 export; skipping {model}")
                return None
            s = json.loads((out / "train_summary.json").read_text())
            secs = sum(v for k, v in s["stage_seconds"].items() if k != "scst")
            return self.eval_model(corpus, stage2, {"train_seconds": secs})
        out = self.train(corpus, model, budget + ABLATIONS[model])
        s = json.loads((out / "train_summary.json").read_text())
        return self.eval_model(corpus, out / "model", {"train_seconds": s["train_seconds"],
                                                       "optimizer_steps": s["global_step"]})

    # -- report ---------------------------------------------------------------------------------------------------
    def collect(self) -> dict:
        """``{corpus: {model: result}}``: the numbers already in ``results.json`` (e.g. the committed ones, in a
        fresh clone that has no item results), overlaid with every item result stored under the runs folder."""
        stored = self.results_dir / "results.json"
        results = json.loads(stored.read_text()) if stored.exists() else {}
        for p in sorted(self.runs.glob("*/*.json")):
            results.setdefault(p.parent.name, {})[p.stem] = json.loads(p.read_text())
        return results

    def write_report(self, plan):
        results = self.collect()
        slim = {c: {m: {k: v for k, v in r.items() if isinstance(v, (int, float))} for m, r in ms.items()}
                for c, ms in results.items()}
        write_json_atomic(slim, self.results_dir / "results.json")
        header = None
        if self.args.report_only and (self.results_dir / "RESULTS.md").exists():  # keep where it was measured
            header = next((line for line in (self.results_dir / "RESULTS.md").read_text().splitlines()
                           if line.startswith("Generated by ")), None)
        write_text_atomic(render_markdown(slim, full_plan(), self.quick, self.num_windows, header),
                          self.results_dir / "RESULTS.md")


def full_plan() -> list[tuple[str, str]]:
    """Every (corpus, model) item of the benchmark, in run order."""
    plan = [("sim", m) for m in ["oracle", "retrieval", "classifier_template", "t2t", "transformer_lstm",
                                 "t2t-ablation-budget", *BUDGET_SEEDS, "t2t-no-stage3", *ABLATIONS]]
    plan += [("knocking", m) for m in ["random_forest", "retrieval", "classifier_template", "t2t"]]
    plan += [("sim_cross_env", m) for m in ["oracle", "retrieval", "classifier_template", "t2t"]]
    return plan


def fmt(v, digits=1):
    return "–" if v is None else f"{v:.{digits}f}"


def _stage_steps() -> dict[str, int]:
    """Optimizer steps per stage (``pretrain``, ``caption``, ``scst``) in ``training/configs/t2t-small.yaml``."""
    import yaml

    stages = yaml.safe_load((ROOT / "training" / "configs" / "t2t-small.yaml").read_text())["stages"]
    return {k: int((stages.get(k) or {}).get("steps", 0)) for k in ("pretrain", "caption", "scst")}


def _steps_before_scst() -> int:
    """Optimizer steps of t2t-small's stages 1 and 2 (everything before SCST): the Transformer-LSTM budget."""
    steps = _stage_steps()
    return steps["pretrain"] + steps["caption"]


def _machine() -> str:
    """This machine in words: architecture, CPU cores and the GPU (its name) or no GPU."""
    gpu = "no GPU"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = f"GPU {torch.cuda.get_device_name(0)}"
    except Exception:  # noqa: BLE001 - a broken CUDA install still renders the report
        pass
    return f"{platform.machine()} with {os.cpu_count()} CPU cores ({gpu})"


def render_markdown(res: dict, plan, quick: bool, num_windows: int, header: str | None = None) -> str:
    """The results tables (RESULTS.md) from ``{corpus: {model: {metric: value}}}``. ``header``: the "Generated
    by" line to keep (``--report_only`` re-renders numbers measured elsewhere; default: this machine, now)."""
    header = header or ("Generated by `python training/benchmark.py" + (" --quick" if quick else "") + "` "
                        f"on {_machine()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Do not edit by hand.")
    lines = ["# T2T results" + (" (--quick: a small slice, NOT the reported numbers)" if quick else ""), "",
             header, "",
             "Metrics: COCO caption metrics (pycocoevalcap on PTB tokens, times 100, `t2t_hf.metrics`) of greedy "
             "captions against all references of each window; app-type accuracy in percent. "
             f"T2T-Sim: {num_windows} windows of 10 s, test users user07-user08 unseen in training "
             "(`sim`), or train on Wi-Fi / test on cellular (`sim_cross_env`). `–` = not applicable, not run, or not "
             "recorded by the version of the benchmark that measured that row (`activity acc.` of most ablations).", "",
             "Budgets: `t2t` on sim is the shipped t2t-small run (`training/configs/t2t-small.yaml`); the ablations "
             "and their reference `t2t-ablation-budget` use the same recipe with fewer steps (`"
             + " ".join(ABLATION_SET) + "`) so that all of them fit on the shared 2-core CPU; `t2t` on knocking "
             "uses `training/configs/knocking.yaml`; `transformer_lstm` trains with batch 32 for "
             + (f"{res['sim']['transformer_lstm']['steps']:.0f} steps" if "steps" in res.get("sim", {}).get(
                 "transformer_lstm", {}) else "the steps given by `--lstm_steps`")
             + f" (teacher forcing only; t2t-small's recipe has {_steps_before_scst()} optimizer steps before "
             f"SCST: {_stage_steps()['pretrain']} of encoder pre-training and {_stage_steps()['caption']} of "
             "teacher-forced captioning). Train times are wall-clock seconds of the optimisation on this machine; T2T runs "
             "used one torch thread each; other jobs sometimes ran on the second core, so train times of different "
             "rows are only roughly comparable. `activity acc.`: percent of test "
             "windows whose caption names the right (app, activity) class (captions mapped to classes by "
             "`caption_to_label` in `training/baselines/random_forest.py`; the classifier baseline's own "
             "predictions).", ""]
    order = ["t2t", "t2t-ablation-budget", "transformer_lstm", "retrieval", "classifier_template", "oracle", "random_forest"]
    for corpus in ("sim", "sim_cross_env", "knocking"):
        rows = res.get(corpus, {})
        if not rows:
            continue
        lines += [f"## {corpus}", "",
                  "| model | BLEU-4 | METEOR | ROUGE-L | CIDEr | app-type acc. | CIDEr messaging | CIDEr video | "
                  + ("instance acc. | flow acc. | " if corpus == "knocking" else "activity acc. | ") + "train time (s) |",
                  "|---|---|---|---|---|---|---|---|" + ("---|---|" if corpus == "knocking" else "---|") + "---|"]
        names = [m for m in order if m in rows] + sorted(m for m in rows if m not in order)
        for m in names:
            r = rows[m]
            cells = [fmt(r.get(k)) for k in METRICS] + [fmt(r.get("CIDEr/messaging")), fmt(r.get("CIDEr/video"))]
            if corpus == "knocking":
                cells += [fmt(r.get("instance_accuracy")), fmt(r.get("flow_accuracy"))]
            else:
                cells.append(fmt(r.get("class_accuracy")))
            cells.append(fmt(r.get("train_seconds"), 0))
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines.append("")
        if "t2t" in rows:
            by_type = sorted(k.split("/", 1)[1] for k in rows["t2t"] if k.startswith("CIDEr/"))
            lines += [f"Per app type (CIDEr) on {corpus}:", "",
                      "| model | all | " + " | ".join(by_type) + " |", "|---|---|" + "---|" * len(by_type)]
            for m in names:
                r = rows[m]
                lines.append(f"| {m} | {fmt(r.get('CIDEr'))} | " + " | ".join(fmt(r.get(f'CIDEr/{g}')) for g in by_type)
                             + " |")
            lines.append("")
        abl = [m for m in rows if m.startswith("t2t-no-")]
        ref = "t2t-ablation-budget" if "t2t-ablation-budget" in rows else "t2t"
        if abl and ref in rows:
            base, lo_hi = reference_cider(rows, ref), seed_range(rows, ref)
            lines += [f"### Ablations on {corpus}", "",
                      f"Each ablation removes one component and is trained with the same recipe and step budget as "
                      f"the reference `{ref}` (CIDEr {base:.1f}"
                      + (f", the mean of its {len(seed_runs(rows, ref))} seeds" if lo_hi else "")
                      + (f", {rows[ref].get('optimizer_steps', 0):.0f} optimizer steps" if rows[ref].get('optimizer_steps') else "")
                      + "). `t2t-no-stage3` is measured on the full recipe instead: the shipped `t2t` run's own "
                      "model after stage 2 (best validation weights), compared with `t2t`. "
                      + seed_sentence(rows, ref), "",
                      "| ablation | component removed | CIDEr | ΔCIDEr (t2t − ablation) | gains ≥ 2 CIDEr? | "
                      "against the reference's seed range |",
                      "|---|---|---|---|---|---|"]
            for m in sorted(abl):
                d = (rows["t2t"]["CIDEr"] if m == "t2t-no-stage3" and "t2t" in rows else base) - rows[m]["CIDEr"]
                where = "–" if m == "t2t-no-stage3" or lo_hi is None else (
                    "below: the component helps" if rows[m]["CIDEr"] < lo_hi[0] else
                    "above: the component hurts" if rows[m]["CIDEr"] > lo_hi[1] else "within: no measurable effect")
                lines.append(f"| {m} | {ABLATION_TEXT.get(m, '')} | {fmt(rows[m]['CIDEr'])} | {d:+.1f} | "
                             f"{'yes' if d >= 2 else '**no**'} | {where} |")
            lines.append("")
    lines += targets_section(res)
    missing = [f"{c}:{m}" for c, m in plan if m not in res.get(c, {})]
    if missing:
        lines += ["## Not measured", "",
                  "These items of the benchmark have no result in this run (not run in the time available on the "
                  "shared machine, or failed; `python training/benchmark.py --only ...` runs them): "
                  + ", ".join(f"`{x}`" for x in missing) + ".", ""]
    return "\n".join(lines) + "\n"


def seed_runs(rows: dict, ref: str) -> list[str]:
    """The ablation reference's runs present in ``rows``: ``ref`` (seed 0) and its other training seeds."""
    return [m for m in [ref, *(BUDGET_SEEDS if ref == "t2t-ablation-budget" else ())]
            if m in rows and "CIDEr" in rows[m]]


def seed_range(rows: dict, ref: str) -> tuple[float, float] | None:
    """(min, max) CIDEr of the ablation reference over its training seeds, or None without the seed runs."""
    vals = [rows[m]["CIDEr"] for m in seed_runs(rows, ref)]
    return (min(vals), max(vals)) if len(vals) > 1 else None


def reference_cider(rows: dict, ref: str) -> float:
    """What the ablations are compared with: the mean CIDEr of the reference's seeds (seed 0 alone without them)."""
    return float(np.mean([rows[m]["CIDEr"] for m in seed_runs(rows, ref)]))


def seed_sentence(rows: dict, ref: str) -> str:
    lo_hi = seed_range(rows, ref)
    if lo_hi is None:
        return ("One seed per run: run-to-run variance was not measured, and at this small budget differences "
                "of a few CIDEr may be noise.")
    seeds = seed_runs(rows, ref)
    vals = ", ".join(f"{rows[m]['CIDEr']:.1f}" for m in seeds)
    numbers = ", ".join(str(BUDGET_SEEDS.get(m, 0)) for m in seeds)
    return (f"Run-to-run spread: the reference trained with training seeds {numbers} (same data) scores {vals} "
            f"CIDEr, a range of {lo_hi[1] - lo_hi[0]:.1f}; each ablation is one run (seed 0), so only a score "
            "outside that range shows an effect of the component.")


def targets_section(res: dict) -> list[str]:
    out = ["## Targets of the issue (checked on the numbers above)", ""]
    sim = res.get("sim", {})

    def check(ok):
        return "**met**" if ok else "**missed**"

    if "t2t" in sim and "oracle" in sim:
        t, o = sim["t2t"]["CIDEr"], sim["oracle"]["CIDEr"]
        out.append(f"- T2T CIDEr ≥ 0.9 × oracle on unseen users: {t:.1f} vs 0.9 × {o:.1f} = {0.9 * o:.1f} "
                   f"({100 * t / o:.0f}% of the ceiling): {check(t >= 0.9 * o)}.")
        a_t = sim["t2t"].get("class_accuracy")
        a_c = sim.get("classifier_template", {}).get("class_accuracy")
        if t < 0.9 * o and a_t is not None and a_c is not None:
            out.append("  The oracle is told each window's (app, activity) class. From traffic alone, T2T's captions "
                       f"name the right class for {a_t:.1f}% of the test windows and the random-forest classifier "
                       f"of `classifier_template` predicts it for {a_c:.1f}% (activity acc. above); a captioner that "
                       "names the wrong class earns little CIDEr for that window, so 0.9 × oracle needs close to 90% "
                       "class accuracy"
                       + (", which neither reaches on 10-s windows of T2T-Sim (see the analysis in "
                          "`training/README.md`)." if max(a_t, a_c) < 90 else "."))
    if "t2t" in sim and "transformer_lstm" in sim:
        t, b = sim["t2t"]["CIDEr"], sim["transformer_lstm"]["CIDEr"]
        out.append(f"- T2T ≥ Transformer-LSTM + 10 CIDEr: {t:.1f} vs {b:.1f} ({t - b:+.1f}): {check(t - b >= 10)}.")
        if "t2t-no-stage3" in sim:
            x = sim["t2t-no-stage3"]["CIDEr"]
            out.append(f"  Trained like the baseline (teacher forcing only: T2T after stage 2, `t2t-no-stage3`), T2T "
                       f"scores {x:.1f} ({x - b:+.1f} against Transformer-LSTM)"
                       + (": the margin comes from the sentence-level stage (SCST), which the baseline does not "
                          "have." if x - b < 10 <= t - b else "."))
    abl = {m: r for m, r in sim.items() if m.startswith("t2t-no-")}
    ref = "t2t-ablation-budget" if "t2t-ablation-budget" in sim else "t2t"
    if abl and ref in sim:
        base = reference_cider(sim, ref)
        weak = [m for m, r in abl.items()
                if (sim["t2t"]["CIDEr"] if m == "t2t-no-stage3" and "t2t" in sim else base) - r["CIDEr"] < 2]
        lo_hi = seed_range(sim, ref)
        helps = sorted(m for m, r in abl.items() if m != "t2t-no-stage3" and lo_hi and r["CIDEr"] < lo_hi[0])
        out.append(f"- Each component gains ≥ 2 CIDEr or the table says it does not: components that do NOT gain "
                   f"≥ 2 CIDEr: {', '.join(sorted(weak)) if weak else 'none'}."
                   + (f" Removing a component scores below the reference's seed range {lo_hi[0]:.1f}–{lo_hi[1]:.1f} "
                      f"(a gain larger than run-to-run noise) only for: {', '.join(helps) if helps else 'none'}"
                      + (" (and stage 3, measured on the full recipe)" if "t2t-no-stage3" in abl else "") + "."
                      if lo_hi else ""))
    if "t2t" in sim and "CIDEr/messaging" in sim["t2t"]:
        t, m = sim["t2t"]["CIDEr"], sim["t2t"]["CIDEr/messaging"]
        out.append(f"- Messaging (the paper's weak spot) no more than 10 CIDEr below all apps: messaging {m:.1f} vs "
                   f"all {t:.1f} ({m - t:+.1f}): {check(m >= t - 10)}"
                   + (" (messaging is above the all-apps score, not within 10 of it either way)." if m > t + 10
                      else "."))
    kn = res.get("knocking", {})
    if "t2t" in kn and "random_forest" in kn:
        a, b = kn["t2t"].get("instance_accuracy"), kn["random_forest"].get("instance_accuracy")
        if a is not None and b is not None:
            out.append(f"- Knocking action accuracy, instance level: T2T {a:.1f}% vs RF peer {b:.1f}% "
                       f"(RF per flow {kn['random_forest'].get('flow_accuracy', float('nan')):.1f}%): {check(a > b)}.")
    if "t2t" in sim and "train_seconds" in sim["t2t"]:
        s, w = sim["t2t"]["train_seconds"], sim["t2t"].get("command_seconds")
        if w is not None:  # the whole `train.py` command: corpus generation, training, validation, export
            out.append(f"- Full t2t-small recipe on a 2-core CPU in ≤ 60 min: {w / 60:.1f} min for the whole "
                       f"training command (corpus generation {sim['t2t'].get('data_seconds', float('nan')):.0f} s, "
                       f"optimisation {s / 60:.1f} min; the test-set evaluation not included): {check(w <= 3600)}.")
        else:
            out.append(f"- Full t2t-small recipe on a 2-core CPU in ≤ 60 min: {s / 60:.1f} min of training (data "
                       f"generation and evaluation not included) on this shared machine: {check(s <= 3600)}.")
    out.append("")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="the same path on a small slice, in a few minutes")
    ap.add_argument("--only", help="comma-separated corpus:model items (default: all)")
    ap.add_argument("--skip", help="comma-separated corpus:model items to leave out")
    ap.add_argument("--redo", action="store_true", help="recompute items that already have a result")
    ap.add_argument("--report_only", action="store_true", help="only rewrite RESULTS.md/results.json from the "
                                                                "stored item results")
    ap.add_argument("--runs_dir", help="where item results and T2T runs go (default training/runs/bench[-quick])")
    ap.add_argument("--results_dir", help="where RESULTS.md and results.json go (default training/, or runs_dir "
                                          "with --quick)")
    ap.add_argument("--shipped_run", default=str(ROOT / "training" / "runs" / "t2t-small"),
                    help="run folder of the shipped t2t-small (sim:t2t reuses it when it holds a finished run)")
    ap.add_argument("--num_windows", type=int, default=3840)
    ap.add_argument("--lstm_steps", type=int, default=None,
                    help="Transformer-LSTM optimizer steps (default: as many as t2t-small's steps before SCST, "
                         "stages 1 and 2 of training/configs/t2t-small.yaml)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--torch_threads", type=int, default=0, help="torch threads of T2T runs (0 = default)")
    ap.add_argument("--knocking_dir", default=str(SHARED_KNOCKING))
    args = ap.parse_args(argv)

    import t2t_hf  # noqa: F401

    plan = full_plan()
    if not Path(args.knocking_dir, "traffic.mat").exists():
        log(f"no knocking data at {args.knocking_dir}: knocking items skipped")
        plan = [p for p in plan if p[0] != "knocking"]
    if args.only:
        want = {tuple(x.split(":", 1)) for x in args.only.split(",")}
        plan = [p for p in plan if p in want]
    if args.skip:
        drop = {tuple(x.split(":", 1)) for x in args.skip.split(",")}
        plan = [p for p in plan if p not in drop]
    bench = Bench(args)
    if args.report_only:
        bench.write_report(plan)
        log(f"tables rewritten in {bench.results_dir / 'RESULTS.md'}")
        return 0
    t0 = time.time()
    failed = []
    for corpus, model in plan:
        try:
            bench.run_item(corpus, model)
        except Exception as e:  # one failed item must not lose the others; it is reported and the exit code says so
            log(f"FAILED {corpus}/{model}: {type(e).__name__}: {e}")
            failed.append(f"{corpus}:{model}")
        bench.write_report(plan)
    log(f"benchmark done in {time.time() - t0:.0f} s; tables in {bench.results_dir / 'RESULTS.md'}"
        + (f"; FAILED: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
