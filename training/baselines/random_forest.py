"""The classic knocking peer (Conti et al., IEEE TIFS 2016): a random forest on per-flow statistics of the signed
packet sizes (count, max, min, range, mean, standard deviation), one prediction per flow.

Per-flow accuracy is capped near 50% on this data because identical flows carry different action labels, so we
also score at the action-instance level: an instance's action is the argmax of the sum of its flows' class
probabilities. An action is identified by its set of reference captions (several labels share an activity
name), and the RF's caption for an instance is the first paraphrase of its predicted action.
"""

from __future__ import annotations

import numpy as np

from training.common import FastCider, SplitData


def action_key(meta: dict) -> str:
    return "||".join(sorted(meta["references"]))


def random_forest(train: SplitData, test: SplitData, seed: int = 0, n_estimators: int = 200) -> dict:
    """Returns ``{"flow_accuracy", "instance_accuracy" (percent), "predictions" (captions), "app_types",
    "pred_actions"}``."""
    from sklearn.ensemble import RandomForestClassifier

    def flows(data):
        x, y, owner = [], [], []
        for i, (fs, m) in enumerate(zip(data.flow_stats, data.meta)):
            x.append(fs)
            y.extend([action_key(m)] * len(fs))
            owner.extend([i] * len(fs))
        return np.concatenate(x, 0), np.asarray(y), np.asarray(owner)

    xa, ya, _ = flows(train)
    xb, yb, owner = flows(test)
    clf = RandomForestClassifier(n_estimators=n_estimators, random_state=seed, n_jobs=1)
    clf.fit(xa, ya)
    proba = clf.predict_proba(xb)
    flow_pred = clf.classes_[proba.argmax(1)]
    summed = np.zeros((len(test), proba.shape[1]))
    np.add.at(summed, owner, proba)
    inst_pred = clf.classes_[summed.argmax(1)]
    truth = np.asarray([action_key(m) for m in test.meta])
    type_of = {action_key(m): m["app_type"] for m in train.meta}
    return {"flow_accuracy": 100.0 * float(np.mean(flow_pred == yb)),
            "instance_accuracy": 100.0 * float(np.mean(inst_pred == truth)),
            "predictions": [k.split("||")[0] for k in inst_pred],
            "app_types": [type_of[k] for k in inst_pred], "pred_actions": list(inst_pred)}


def caption_to_label(captions: list[str], train: SplitData, label_of, max_refs: int = 40) -> list[str]:
    """Map generated captions to labels (``label_of(meta) -> str``, e.g. an action or an (app, activity) class):
    the label of the exact training paraphrase when exactly one label uses it, else the label whose paraphrases
    (its ``max_refs`` most frequent training references) give the caption the highest CIDEr-D. This is how a
    captioner's output is scored as a label."""
    from collections import Counter, defaultdict

    counts = defaultdict(Counter)
    for m in train.meta:
        counts[label_of(m)].update(r.strip() for r in m["references"])
    keys = sorted(counts)
    paraphrases = {k: [r for r, _ in sorted(counts[k].items(), key=lambda x: (-x[1], x[0]))[:max_refs]] for k in keys}
    owners = defaultdict(set)
    for k in keys:
        for p in counts[k]:
            owners[p.lower()].add(k)
    cider = FastCider([paraphrases[k] for k in keys])
    out = []
    for c in captions:
        hit = owners.get(c.lower().strip(), set())
        cands = sorted(hit) if len(hit) > 1 else keys
        out.append(next(iter(hit)) if len(hit) == 1 else max(cands, key=lambda k: cider.score(c, paraphrases[k])))
    return out


def caption_to_action(captions: list[str], train: SplitData) -> list[str]:
    """Map generated captions to knocking actions (see :func:`caption_to_label`)."""
    return caption_to_label(captions, train, action_key)
