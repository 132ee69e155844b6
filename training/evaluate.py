"""Evaluate a saved T2T model folder on a corpus split with the COCO caption metrics.

    python training/evaluate.py --model hub/models/t2t-small --corpus sim --split test
    python training/evaluate.py --model training/runs/t2t-small/model --corpus sim_cross_env --out scores.json

Prints (and with ``--out`` writes) ``{"overall": {BLEU-1..4, METEOR, ROUGE-L, CIDEr, app_type_accuracy},
"by_app_type": {...}, "windows": N, "seconds": ...}``; metrics times 100, accuracy in percent.
The windows are those of ``training.common.load_corpus_features`` (the same the benchmark and training use),
normalised with the model's own feature-extractor statistics.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.common import (greedy_captions, load_corpus_features, run_reporting_input_errors,  # noqa: E402
                             score_predictions, write_json_atomic)


def load_model(path):
    """(model, feature_extractor, tokenizer) of a saved T2T folder, with the installed t2t_hf classes."""
    from transformers import PreTrainedTokenizerFast

    from t2t_hf.errors import T2TInputError
    from t2t_hf.feature_extraction_t2t import T2TFeatureExtractor
    from t2t_hf.modeling_t2t import T2TForTrafficCaptioning

    p = Path(path)
    if not (p / "config.json").exists():
        raise T2TInputError(f"no model folder at {p} (config.json missing); train one with training/train.py")
    model = T2TForTrafficCaptioning.from_pretrained(p).eval()
    fe = T2TFeatureExtractor.from_pretrained(p)
    tok = PreTrainedTokenizerFast.from_pretrained(p)
    return model, fe, tok


def evaluate_model(path, corpus: str = "sim", split: str = "test", *, num_windows: int = 3840, seed: int = 0,
                   data_dir=None, limit: int | None = None, num_beams: int = 1, meteor: bool = True,
                   device: str | None = None) -> dict:
    """Caption ``split`` of ``corpus`` with the model at ``path`` and score it (see the module docstring).
    Also returns ``predictions`` (list of captions) and ``app_type_predictions``."""
    import torch

    model, fe, tok = load_model(path)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    splits, cache_fe = load_corpus_features(corpus, num_windows=num_windows, seed=seed, data_dir=data_dir,
                                            max_packets=fe.max_packets, num_time_bins=fe.num_time_bins,
                                            max_flows=fe.max_flows, limits={split: limit})
    data = splits[split].renormalised(cache_fe, fe)
    t0 = time.time()
    caps, types = greedy_captions(model, data, tok, device=device, num_beams=num_beams)
    gen_seconds = time.time() - t0
    scores = score_predictions(caps, data, types, meteor=meteor)
    return {**scores, "windows": len(data), "generation_seconds": gen_seconds, "predictions": caps,
            "app_type_predictions": types}


def main(argv=None) -> int:
    import t2t_hf  # noqa: F401

    ap = argparse.ArgumentParser(description="Evaluate a T2T model folder with the COCO caption metrics")
    ap.add_argument("--model", required=True)
    ap.add_argument("--corpus", default="sim", choices=["sim", "sim_cross_env", "knocking"])
    ap.add_argument("--split", default="test", choices=["train", "validation", "test"])
    ap.add_argument("--num_windows", type=int, default=3840)
    ap.add_argument("--data_dir", help="knocking: folder holding traffic.mat")
    ap.add_argument("--limit", type=int, help="score only this many windows (spread over the split)")
    ap.add_argument("--num_beams", type=int, default=1)
    ap.add_argument("--out", help="write the scores (and predictions) to this JSON file")
    args = ap.parse_args(argv)
    res = evaluate_model(args.model, args.corpus, args.split, num_windows=args.num_windows, data_dir=args.data_dir,
                         limit=args.limit, num_beams=args.num_beams)
    if args.out:
        write_json_atomic(res, args.out)
    print(json.dumps({k: v for k, v in res.items() if k not in ("predictions", "app_type_predictions")}, indent=2))
    return 0


def cli(argv=None) -> int:
    """``main`` with bad input (model folder, corpus data) reported as one line and exit status 1."""
    return run_reporting_input_errors(main, argv)


if __name__ == "__main__":
    sys.exit(cli())
