"""Publish the shipped run: copy its model into ``hub/models/t2t-small`` (atomically) and write the model card
(``hub/models/t2t-small/README.md`` and the top-level ``MODEL_CARD.md``, the same text) from the measured
numbers in ``training/results.json`` and the run's ``train_summary.json``.

    python training/model_card.py                       # after training/benchmark.py
    python training/model_card.py --no-copy   # cards only (from the run, else the summary shipped with the model)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from t2t_hf.fileio import atomic_dir  # noqa: E402
from training.common import write_text_atomic  # noqa: E402

MAX_MODEL_BYTES = 50 * 1024 * 1024


def _metric_rows(r: dict) -> list[str]:
    rows = []
    for name, typ in (("BLEU-4", "bleu"), ("METEOR", "meteor"), ("ROUGE-L", "rouge"), ("CIDEr", "cider"),
                      ("app_type_accuracy", "accuracy")):
        if name in r:
            rows.append(f"      - type: {typ}\n        name: {name}\n        value: {r[name]:.1f}")
    return rows


def render_card(results: dict, summary: dict, config: dict) -> str:
    sim = results.get("sim", {})
    t2t = sim.get("t2t", {})
    kn = results.get("knocking", {})
    # model-index carries the shipped weights' own scores only: the sim_cross_env and knocking rows of
    # results.json are of other models (trained on Wi-Fi only, and on knocking)
    index = []
    if t2t:
        index.append("  - task:\n      type: traffic-captioning\n      name: Traffic captioning\n"
                     "    dataset:\n      type: t2t-traffic-captions\n      name: T2T-Sim, test users unseen in "
                     "training\n      config: sim\n      split: test\n    metrics:\n" + "\n".join(_metric_rows(t2t)))
    front = ["---", "language: en", "license: apache-2.0", "library_name: transformers",
             "tags:", "  - traffic-captioning", "  - encrypted-traffic", "  - network-traffic", "  - t2t",
             "  - custom_code", "datasets:", "  - t2t-traffic-captions", "metrics:", "  - bleu", "  - meteor",
             "  - rouge", "  - cider", "model-index:", "- name: t2t-small", "  results:", *index, "---", ""]

    def row(name, r):
        def f(k):
            return f"{r[k]:.1f}" if k in r else "–"
        return (f"| {name} | {f('BLEU-4')} | {f('METEOR')} | {f('ROUGE-L')} | {f('CIDEr')} | "
                f"{f('app_type_accuracy')} | {f('CIDEr/messaging')} | {f('CIDEr/video')} |")

    table = ["| model | BLEU-4 | METEOR | ROUGE-L | CIDEr | app-type acc. (%) | CIDEr messaging | CIDEr video |",
             "|---|---|---|---|---|---|---|---|"]
    for m in ("t2t", "transformer_lstm", "retrieval", "classifier_template", "oracle"):
        if m in sim:
            table.append(row(m if m != "t2t" else "**t2t-small (this model)**", sim[m]))
    verdict = ""
    better = [m for m in ("classifier_template", "transformer_lstm", "retrieval")
              if m in sim and "CIDEr" in t2t and sim[m]["CIDEr"] > t2t["CIDEr"]]
    if better:
        verdict = ("\n**Honest summary:** on this corpus t2t-small scores below the "
                   + ", ".join(f"`{m}`" for m in better) + " baseline(s) in CIDEr (table above) and misses several of the "
                   "project's targets (see `training/RESULTS.md`).\n")
    close = [m for m in ("classifier_template", "transformer_lstm", "retrieval")
             if m in sim and m not in better and "CIDEr" in t2t and abs(sim[m]["CIDEr"] - t2t["CIDEr"]) < 5]
    if close:
        verdict += ("\nIn CIDEr t2t-small is within 5 points of the " + ", ".join(f"`{m}`" for m in close)
                    + " baseline (one training seed each: a difference this small may be noise).\n")
    if "oracle" in sim and "CIDEr" in t2t:
        share = 100 * t2t["CIDEr"] / sim["oracle"]["CIDEr"]
        named = (f" Its captions name the right (app, activity) class for {t2t['class_accuracy']:.1f}% of the test "
                 "windows" + (f" (the random-forest classifier: {sim['classifier_template']['class_accuracy']:.1f}%)"
                              if "class_accuracy" in sim.get("classifier_template", {}) else "") + ".") \
            if "class_accuracy" in t2t else ""
        verdict += (f"\nt2t-small reaches {share:.0f}% of the oracle's CIDEr.{named} One 10-s window of traffic often "
                    "does not tell the app apart from others of its type; `training/README.md` measures how often "
                    "traffic alone identifies the class.\n")
    secs = summary.get("train_seconds")
    n_threads = (config.get("training") or {}).get("torch_threads")
    threads = f", with {n_threads} torch thread{'s' if int(n_threads) > 1 else ''}" if n_threads else ""
    whole = (f" The whole command, corpus generation ({summary['data_seconds']:.0f} s) and validation included, "
             f"took {summary['wall_seconds'] / 60:.1f} minutes.") if summary.get("wall_seconds") else ""
    batch = (config.get("training") or {}).get("batch_size", "?")
    device = str(summary.get("device", "cpu"))
    cores = summary.get("cpu_cores")
    hardware = (f"a {cores}-core CPU without a GPU" if cores else "a CPU without a GPU") if device == "cpu" \
        else f"`{device}`"
    stages = config.get("stages", {})
    steps = ", ".join(f"{k} {v.get('steps')}" for k, v in stages.items() if v and v.get("enabled", True))
    knock = ""
    if kn.get("t2t") and kn.get("random_forest"):
        knock = (f"\nOn the real `knocking` corpus (Facebook actions; a separate model trained with "
                 f"`training/configs/knocking.yaml`, not these weights), action accuracy at the action-instance "
                 f"level is {kn['t2t'].get('instance_accuracy', float('nan')):.1f}% for T2T against "
                 f"{kn['random_forest'].get('instance_accuracy', float('nan')):.1f}% for the random-forest peer "
                 f"(RF per flow: {kn['random_forest'].get('flow_accuracy', float('nan')):.1f}%).\n")
    body = f"""# t2t-small: captions of smartphone activity from encrypted traffic

`t2t-small` writes a plain-English caption ("The user is watching a video on YouTube ...") for every 10-second
window of a phone's network traffic, from packet sizes, directions and timing only -- never payload. It is the
Hugging Face-native implementation of T2T (Traffic-to-Text, Liu et al., IJCNN 2026, arXiv 2604.05642): a flow
feature encoder with dynamic feature modulation (FiLM) and flow-pattern prototypes, and a transformer caption
decoder ({summary.get('parameters', 0) / 1e6:.2f} M parameters).

```python
import t2t_hf                      # registers the task and the classes
from transformers import pipeline
captioner = pipeline("traffic-captioning", model="t2t-hf/t2t-small", trust_remote_code=True)  # or this folder
captioner("capture.pcap")          # your capture: [{{"start", "end", "device", "caption", "app_type", "score", ...}}, ...]
```

or `t2t caption capture.pcap`. Without the `t2t_hf` package, `trust_remote_code=True` loads the model from the
code files in this folder (`AutoModelForSeq2SeqLM`, `AutoProcessor`).

## Intended use

Research on traffic analysis and its privacy risks, teaching, and captioning **your own** traffic or traffic
whose owners consented (for example a lab phone), e.g. to label captures or to audit what an app's traffic
reveals. It is not meant for, and must not be used for, watching other people.

## Training data: simulated

The weights were trained **only on simulated traffic**: T2T-Sim, the project's generator of phone traffic
(`t2t_hf.data.sim`: TLS/TCP and QUIC flows, RTP calls, adaptive-bitrate video, chat, background traffic of
20 apps in 5 app types, 8 simulated users, Wi-Fi and cellular), with template captions written by the
generator (5 paraphrases per window). No real person's traffic was used. Training split: users user01-user05;
validation: user06; test: user07-user08, unseen in training. {summary.get('train_windows', '?')} training
windows of 10 s. Real traffic differs from the simulator in ways we cannot measure without a real captioned
corpus: expect lower quality on real captures.

## Training procedure

`accelerate launch training/train.py --config training/configs/t2t-small.yaml` (see `training/README.md`):
(1) encoder pre-training with app-type, traffic-text contrastive and prototype losses; (2) caption training
with teacher forcing; (3) self-critical sequence training with a CIDEr-D reward. Steps: {steps}; batch {batch};
AdamW. Training took {secs / 60 if secs else float('nan'):.1f} minutes on {hardware}{threads}
({summary.get('global_step', '?')} optimizer steps).{whole}

## Evaluation (measured; `training/benchmark.py`, numbers from `training/results.json`)

COCO caption metrics (pycocoevalcap, PTB tokens, times 100) of greedy captions against all references, on
the T2T-Sim test users (unseen in training):

{chr(10).join(table)}

`oracle` is a ceiling, not a model: the true activity label mapped to its most frequent training caption (the
best possible when the wording of the references varies at random). The paper reports BLEU-4 58.1, METEOR
38.3, ROUGE-L 70.5, CIDEr 108.7 on its private real-traffic data; our numbers are on simulated data and are
not comparable with those.
{verdict}{knock}
See `training/RESULTS.md` for ablations, the cross-environment split and every target of the project, met
or missed.

## Limits

- Trained on simulated traffic only; app and activity coverage is that of the simulator (20 apps).
- One caption per window of 10 s; activities shorter than a window, or several at once, are blurred.
- Captions are as varied as the simulator's templates; the model tends to the most typical wording.
- Traffic shaped by VPNs, tunnels or unusual networks, and apps it has never seen, get confident but wrong
  captions. `score` (mean token probability) is not calibrated.
- English only.

## Privacy and ethics

Captioning someone's traffic is **surveillance unless they consent**. Encrypted traffic still reveals what a
person does (which app, whether they watch, chat or call, when): this model demonstrates exactly that risk.
Use it only on traffic you own or are authorised to analyse, with the informed consent of the people whose
activity it describes, and within the law (interception and data-protection law apply to traffic captures).
The model reads packet sizes, directions and times only; the project's tools never publish payload bytes, and
its datasets carry no IP or MAC addresses. Do not publish captions of other people's traffic.

## Citation

```bibtex
@inproceedings{{liu2026t2t,
  title = {{T2T: Captioning Smartphone Activities Using Mobile Traffic}}, author = {{Liu, Jiyu and Huang, Yong and Lu, Yanzhao and Tie, Yun and Tu, Wanqing}},
  booktitle = {{International Joint Conference on Neural Networks (IJCNN)}}, year = {{2026}},
  eprint = {{2604.05642}}, archivePrefix = {{arXiv}}
}}
```
"""
    return "\n".join(front) + body


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default=str(ROOT / "training" / "runs" / "t2t-small"))
    ap.add_argument("--results", default=str(ROOT / "training" / "results.json"))
    ap.add_argument("--target", default=str(ROOT / "hub" / "models" / "t2t-small"))
    ap.add_argument("--no-copy", action="store_true", help="write the cards only")
    args = ap.parse_args(argv)
    run, target = Path(args.run), Path(args.target)
    # the run's summary; with --no-copy and no run folder (a fresh clone), the copy shipped with the model
    found = [p for p in (run / "train_summary.json", target / "train_summary.json") if p.exists()]
    if not found or (not args.no_copy and found[0].parent != run):
        raise SystemExit(f"model_card.py: no train_summary.json in {run}" + ("" if args.no_copy else
                         " (train it first, or pass --no-copy to rewrite the cards from the shipped model's copy)"))
    summary = json.loads(found[0].read_text())
    import yaml

    # the config the run really used (with its --set overrides): recorded by train.py in the summary, or, for
    # older runs, kept in their checkpoints; else the recipe's YAML
    config = summary.get("config")
    latest = run / "checkpoints" / "latest"
    if config is None and latest.exists():
        state = run / "checkpoints" / latest.read_text().strip() / "trainer_state.json"
        if state.exists():
            config = json.loads(state.read_text()).get("config")
    if config is None:
        config = yaml.safe_load((ROOT / "training" / "configs" / "t2t-small.yaml").read_text())
    results = json.loads(Path(args.results).read_text()) if Path(args.results).exists() else {}
    card = render_card(results, summary, config)
    if not args.no_copy:
        src = run / "model"
        size = (src / "model.safetensors").stat().st_size
        if size > MAX_MODEL_BYTES:
            raise SystemExit(f"model.safetensors is {size / 1e6:.1f} MB, over the 50 MB limit")
        with atomic_dir(target) as tmp:
            shutil.copytree(src, tmp, dirs_exist_ok=True)
            shutil.copy2(run / "train_summary.json", tmp / "train_summary.json")  # --no-copy reads it later
            for f in tmp.iterdir():  # readable by everyone (save_pretrained may leave owner-only modes)
                f.chmod(0o644)
            tmp.chmod(0o755)
            (tmp / "README.md").write_text(card)
    else:
        write_text_atomic(card, target / "README.md")
    write_text_atomic(card, ROOT / "MODEL_CARD.md")
    print(f"wrote {target} and {ROOT / 'MODEL_CARD.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
