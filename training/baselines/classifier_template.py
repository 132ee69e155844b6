"""App/activity classifier + template caption: predict the (app, activity) class of a window from its
statistical features with a random forest, then output that class' most frequent training caption (the
consensus caption when no wording repeats; see ``training.common.consensus_caption``). The app type follows
from the predicted class."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from training.common import SplitData, consensus_caption


def class_of(meta: dict) -> str:
    return f"{meta['app']}|{meta['activity']}"


def class_templates(train: SplitData) -> tuple[dict, dict]:
    """``({class: caption}, {class: app_type})`` from the training windows."""
    caps, types = defaultdict(list), {}
    for m in train.meta:
        caps[class_of(m)].append(m["caption"])
        types[class_of(m)] = m["app_type"]
    return {c: consensus_caption(v) for c, v in caps.items()}, types


def classify_and_template(train: SplitData, test: SplitData, seed: int = 0, n_estimators: int = 200) -> dict:
    """Returns ``{"predictions": [str], "app_types": [str], "class_accuracy": float (percent)}``."""
    from sklearn.ensemble import RandomForestClassifier

    templates, types = class_templates(train)
    y = np.asarray([class_of(m) for m in train.meta])
    clf = RandomForestClassifier(n_estimators=n_estimators, random_state=seed, n_jobs=1, min_samples_leaf=1)
    clf.fit(train.stat_features, y)
    pred = clf.predict(test.stat_features)
    truth = np.asarray([class_of(m) for m in test.meta])
    return {"predictions": [templates[c] for c in pred], "app_types": [types[c] for c in pred],
            "class_accuracy": 100.0 * float(np.mean(pred == truth))}
