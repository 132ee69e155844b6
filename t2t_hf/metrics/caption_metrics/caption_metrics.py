"""COCO caption metrics (BLEU-1..4, METEOR, ROUGE-L, CIDEr-D) as an `evaluate` module.

Load it by path, offline: ``evaluate.load("path/to/t2t_hf/metrics/caption_metrics")`` (or
``evaluate.load(str(t2t_hf.metrics.CAPTION_METRICS_PATH))``). The scores come from
``t2t_hf.metrics.coco`` (pycocoevalcap on PTB-tokenised text, times 100); this file only adapts
that API to `evaluate`. It needs the ``t2t_hf`` package and a Java runtime.
"""

import datasets
import evaluate

from t2t_hf.metrics.coco import compute_caption_metrics, compute_caption_metrics_by_group, validate_caption_inputs

_CITATION = """\
@inproceedings{papineni2002bleu,
  title={BLEU: a Method for Automatic Evaluation of Machine Translation},
  author={Papineni, Kishore and Roukos, Salim and Ward, Todd and Zhu, Wei-Jing},
  booktitle={ACL}, year={2002}
}
@inproceedings{denkowski2014meteor,
  title={Meteor Universal: Language Specific Translation Evaluation for Any Target Language},
  author={Denkowski, Michael and Lavie, Alon},
  booktitle={WMT}, year={2014}
}
@inproceedings{lin2004rouge,
  title={ROUGE: A Package for Automatic Evaluation of Summaries},
  author={Lin, Chin-Yew}, booktitle={Text Summarization Branches Out}, year={2004}
}
@inproceedings{vedantam2015cider,
  title={CIDEr: Consensus-based Image Description Evaluation},
  author={Vedantam, Ramakrishna and Zitnick, C. Lawrence and Parikh, Devi},
  booktitle={CVPR}, year={2015}
}
@article{chen2015microsoft,
  title={Microsoft COCO Captions: Data Collection and Evaluation Server},
  author={Chen, Xinlei and Fang, Hao and Lin, Tsung-Yi and Vedantam, Ramakrishna and Gupta, Saurabh
          and Doll{\\'a}r, Piotr and Zitnick, C. Lawrence},
  journal={arXiv:1504.00325}, year={2015}
}
"""

_DESCRIPTION = """\
The COCO caption metrics that captioning papers report (the T2T traffic-captioning paper included):
corpus BLEU-1..4, METEOR 1.5, ROUGE-L and CIDEr-D, computed with pycocoevalcap on text tokenised by the
Stanford PTB tokenizer with punctuation removed. Every score is multiplied by 100 (the paper's scale:
BLEU-4 58.1, METEOR 38.3, ROUGE-L 70.5, CIDEr 108.7). Several references per prediction are accepted.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): N predicted captions; an empty string scores 0.
    references (list of str, or list of list of str): N references, one caption or a non-empty list
        of captions per prediction.
    meteor (bool, default True): False skips METEOR (saves the start of its Java VM, seconds).
    groups (list of str, optional): N group names (e.g. app types). When given, the result is
        {"overall": {...}, "groups": {name: {..., "count": n}}}.
    timeout (float, optional): seconds allowed to each Java subprocess.
Returns:
    dict with "BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr" (floats, times 100).
Examples:
    >>> metric = evaluate.load("t2t_hf/metrics/caption_metrics")
    >>> metric.compute(predictions=["the user watches a video on tiktok"],
    ...                references=[["the user watches a video on tiktok", "someone is on tiktok"]])["BLEU-4"]
    99.99999997...
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class CaptionMetrics(evaluate.Metric):
    """BLEU-1..4, METEOR, ROUGE-L and CIDEr-D (pycocoevalcap, PTB-tokenised, times 100)."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features({
                    "predictions": datasets.Value("string", id="sequence"),
                    "references": datasets.Sequence(datasets.Value("string", id="sequence"), id="references"),
                }),
                datasets.Features({
                    "predictions": datasets.Value("string", id="sequence"),
                    "references": datasets.Value("string", id="sequence"),
                }),
            ],
            codebase_urls=["https://github.com/salaniz/pycocoevalcap"],
            reference_urls=["https://arxiv.org/abs/1504.00325", "https://arxiv.org/abs/1411.5726"],
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Validate with the project's error type (T2TInputError) before `evaluate` stores the batch."""
        if predictions is not None or references is not None:
            predictions, references, _ = validate_caption_inputs(predictions, references)
        return super().add_batch(predictions=predictions, references=references, **kwargs)

    def compute(self, *, predictions=None, references=None, **kwargs):
        """Validate with the project's error type (T2TInputError), then compute as `evaluate` does."""
        if predictions is not None or references is not None:
            predictions, references, _ = validate_caption_inputs(predictions, references, kwargs.get("groups"))
        return super().compute(predictions=predictions, references=references, **kwargs)

    def _compute(self, predictions, references, meteor=True, groups=None, timeout=None):
        if groups is not None:
            return compute_caption_metrics_by_group(predictions, references, groups, meteor=meteor, timeout=timeout)
        return compute_caption_metrics(predictions, references, meteor=meteor, timeout=timeout)
