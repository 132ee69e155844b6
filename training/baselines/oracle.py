"""Oracle ceiling (T2T-Sim only): the TRUE (app, activity) label of each test window mapped to that class'
most frequent training caption (the consensus caption when no wording repeats). No traffic is read: this is
the best a captioner that knows exactly what the user does can score when the wording of the references varies
at random, i.e. the ceiling of the caption metrics on this corpus."""

from __future__ import annotations

from training.baselines.classifier_template import class_of, class_templates
from training.common import SplitData, consensus_caption


def oracle(train: SplitData, test: SplitData) -> dict:
    """Returns ``{"predictions": [str], "app_types": [str]}`` (app types are the true ones)."""
    templates, _ = class_templates(train)
    fallback = consensus_caption(train.column("caption"))
    return {"predictions": [templates.get(class_of(m), fallback) for m in test.meta],
            "app_types": [m["app_type"] for m in test.meta]}
