"""Nearest-neighbour caption retrieval (with consensus re-ranking, Devlin et al. 2015).

Each test window is described by a feature vector -- by default the statistical features of
``SplitData.stat_features`` (window statistics, time-bin statistics, signed size histogram), or any
encoder's pooled output passed as ``train_features``/``test_features``. The ``k`` nearest training windows
(Euclidean distance on standardised features) propose their captions; the proposal that agrees most with the
other proposals (highest CIDEr-D against them) is returned. The app type is the majority of the neighbours'.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from training.common import FastCider, SplitData


def retrieve(train: SplitData, test: SplitData, k: int = 10, train_features=None, test_features=None,
             batch: int = 256) -> dict:
    """Returns ``{"predictions": [str] (one per test window), "app_types": [str]}``."""
    xa = np.asarray(train.stat_features if train_features is None else train_features, np.float64)
    xb = np.asarray(test.stat_features if test_features is None else test_features, np.float64)
    mu, sd = xa.mean(0), xa.std(0) + 1e-6
    xa, xb = (xa - mu) / sd, (xb - mu) / sd
    captions = train.column("caption")
    types = train.column("app_type")
    cider = FastCider(train.column("references"))
    preds, app_types = [], []
    sq_a = (xa ** 2).sum(1)
    for i in range(0, len(xb), batch):
        # rounded, then a stable sort: identical training windows tie exactly (BLAS rounding differs between
        # matrix columns and machines), and ties go to the lower index, so the neighbours are reproducible
        d = np.round(sq_a[None, :] - 2 * xb[i:i + batch] @ xa.T, 6)
        nn_idx = np.argsort(d, axis=1, kind="stable")[:, :k]
        for row in nn_idx:
            props = [captions[j] for j in row]
            scores = [cider.score(c, [p for q, p in enumerate(props) if q != n]) for n, c in enumerate(props)]
            preds.append(props[int(np.argmax(scores))])
            app_types.append(Counter(types[j] for j in row).most_common(1)[0][0])
    return {"predictions": preds, "app_types": app_types}
