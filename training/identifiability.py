"""How well can the (app, activity) class of a T2T-Sim window be told from its traffic alone?

The oracle ceiling of ``benchmark.py`` is given each test window's true class. This script measures how often
a traffic-only classifier recovers that class, an indication (not a proof: a forest is not the best possible
classifier) of how far below the oracle any captioner must stay on this corpus:

* a random forest on the statistical features (window statistics, time bins, size histogram) with the split of
  the ``sim`` config (test users unseen), and with a random 75/25 split of the same windows (users seen);
* where its class errors go (wrong activity of the right app, another app of the same type, another type), and
  its accuracy on the quietest quarter of the test windows (fewest packets) against the rest.

    python training/identifiability.py            # prints a Markdown table; about a minute on 2 cores
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.baselines.classifier_template import class_of  # noqa: E402
from training.common import load_corpus_features  # noqa: E402


def forest_predictions(x_train, y_train, x_test, seed: int = 0, trees: int = 300) -> np.ndarray:
    """Labels [N] that a random forest trained on ``x_train`` [M, F] / ``y_train`` [M] predicts for ``x_test``."""
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=trees, random_state=seed, n_jobs=2).fit(x_train, y_train) \
        .predict(x_test)


def forest_accuracy(x_train, y_train, x_test, y_test, seed: int = 0, trees: int = 300) -> float:
    """Percent of ``x_test`` rows [N, F] whose label a random forest trained on ``x_train`` gets right."""
    return 100.0 * float(np.mean(forest_predictions(x_train, y_train, x_test, seed, trees) == y_test))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--num_windows", type=int, default=3840)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    splits, _ = load_corpus_features("sim", num_windows=args.num_windows, seed=args.seed)
    tr, te = splits["train"], splits["test"]
    label = {"(app, activity) class": class_of, "app": lambda m: m["app"], "app type": lambda m: m["app_type"]}
    rows, class_pred = [], None
    for name, f in label.items():
        ytr = np.asarray([f(m) for m in tr.meta])
        yte = np.asarray([f(m) for m in te.meta])
        pred = forest_predictions(tr.stat_features, ytr, te.stat_features, args.seed)
        class_pred = pred if f is class_of else class_pred
        unseen = 100.0 * float(np.mean(pred == yte))
        x = np.concatenate([tr.stat_features, te.stat_features])
        y = np.concatenate([ytr, yte])
        perm = np.random.default_rng(args.seed).permutation(len(y))
        cut = int(0.75 * len(y))
        seen = forest_accuracy(x[perm[:cut]], y[perm[:cut]], x[perm[cut:]], y[perm[cut:]], args.seed)
        chance = 100.0 * max(np.mean(yte == v) for v in np.unique(yte))
        rows.append((name, len(np.unique(y)), unseen, seen, chance))
    print(f"T2T-Sim, {args.num_windows} windows of 10 s: {len(tr)} training windows (users "
          f"{sorted({m['user'] for m in tr.meta})}), {len(te)} test windows (users {sorted({m['user'] for m in te.meta})})")
    print()
    print("| label | classes | RF accuracy, test users unseen (%) | RF accuracy, random split, users seen (%) | "
          "majority class (%) |")
    print("|---|---|---|---|---|")
    for name, k, unseen, seen, chance in rows:
        print(f"| {name} | {k} | {unseen:.1f} | {seen:.1f} | {chance:.1f} |")
    print()
    print(error_breakdown(tr, te, class_pred))
    return 0


def error_breakdown(tr, te, pred: np.ndarray) -> str:
    """Where the class errors of the forest's class predictions ``pred`` [N] for ``te`` (test users unseen) go,
    and its accuracy on quiet windows."""
    truth = np.asarray([class_of(m) for m in te.meta])
    app_type = {m["app"]: m["app_type"] for m in tr.meta + te.meta}
    app = np.vectorize(lambda c: c.split("|")[0])
    wrong = pred != truth
    same_app = app(pred) == app(truth)
    same_type = np.asarray([app_type[a] == app_type[b] for a, b in zip(app(pred), app(truth))])
    n = max(1, int(wrong.sum()))
    packets = te.attention_mask.sum(1)  # packets of the window (the model keeps at most max_packets)
    quiet = packets <= np.quantile(packets, 0.25)
    return (f"Class errors ({100 * wrong.mean():.1f}% of test windows): {100 * (wrong & same_app).sum() / n:.1f}% "
            f"the right app with the wrong activity, {100 * (wrong & ~same_app & same_type).sum() / n:.1f}% another "
            f"app of the same type, {100 * (wrong & ~same_type).sum() / n:.1f}% another app type. Class accuracy on "
            f"the quietest quarter of the test windows (<= {int(np.quantile(packets, 0.25))} packets): "
            f"{100 * (~wrong[quiet]).mean():.1f}%; on the other windows: {100 * (~wrong[~quiet]).mean():.1f}%.")


if __name__ == "__main__":
    sys.exit(main())
