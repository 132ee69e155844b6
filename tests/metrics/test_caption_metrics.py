"""Caption metrics: hand-computed values, agreement with pycocoevalcap's own scorers, the evaluate module,
bad inputs, and clean subprocess handling.

One METEOR run (its JVM takes ~11-20 s to start) is shared by the METEOR tests through a module fixture;
every other test skips METEOR and costs one PTB-tokenizer JVM (~0.5 s).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from t2t_hf.errors import T2TInputError
from t2t_hf.metrics import (
    CAPTION_METRICS_PATH,
    METRIC_NAMES,
    CaptionMetricsError,
    compute_caption_metrics,
    compute_caption_metrics_by_group,
    ptb_tokenize,
)
from t2t_hf.metrics import coco

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("java") is None and not os.environ.get("JAVA_HOME"),
                                reason="needs a Java runtime (apt-get install default-jre-headless)")

NO_METEOR = [m for m in METRIC_NAMES if m != "METEOR"]

# A corpus with groups of known character: exact copies, disjoint captions, partial matches.
CORPUS = [
    # (group, prediction, references)
    ("identical", "The user is watching a short video on TikTok.", ["The user is watching a short video on TikTok."]),
    ("identical", "The user sends a message on WhatsApp.", ["The user sends a message on WhatsApp."]),
    ("identical", "Someone scrolls the Instagram feed and likes a post.",
     ["Someone scrolls the Instagram feed and likes a post."]),
    ("disjoint", "a zebra grazes near trees", ["the user streams music on spotify"]),
    ("disjoint", "purple elephants dance quietly", ["video calls drain battery life"]),
    ("mixed", "The user is watching a video on YouTube.",
     ["The user watches a video on YouTube.", "A YouTube video is playing."]),
    ("mixed", "The user types a message.", ["The user is chatting on WhatsApp.", "The user types a message."]),
    ("mixed", "", ["The user browses a news site in Chrome."]),
    ("mixed", "the user plays a game", ["The user is playing a game on the phone.", "A mobile game is running.",
                                        "The user plays a racing game."]),
]


@pytest.fixture(scope="module")
def meteor_run():
    """One METEOR-enabled run over CORPUS with groups, and pycocoevalcap's own Meteor on the same text."""
    from pycocoevalcap.meteor.meteor import Meteor

    groups = [g for g, _, _ in CORPUS]
    preds = [p for _, p, _ in CORPUS]
    refs = [r for _, _, r in CORPUS]
    reference_meteor = Meteor()  # its JVM loads while ours runs
    try:
        ours = compute_caption_metrics_by_group(preds, refs, groups, meteor=True)
        toks = ptb_tokenize(preds + [r for rs in refs for r in rs])
        hyps, rest = toks[:len(preds)], toks[len(preds):]
        tok_refs = []
        for rs in refs:
            tok_refs.append(rest[:len(rs)])
            rest = rest[len(rs):]
        theirs = {}
        for name in ["all", *sorted(set(groups))]:
            idx = [i for i, g in enumerate(groups) if name in ("all", g)]
            score, _ = reference_meteor.compute_score({i: tok_refs[i] for i in idx}, {i: [hyps[i]] for i in idx})
            theirs[name] = 100.0 * score
    finally:
        del reference_meteor
    return ours, theirs, hyps, tok_refs, groups


# ------------------------------------------------------------------------------------------------ METEOR

def test_meteor_equals_pycocoevalcap_meteor_overall_and_per_group(meteor_run):
    ours, theirs, *_ = meteor_run
    assert ours["overall"]["METEOR"] == pytest.approx(theirs["all"], abs=1e-9)
    for group, metrics in ours["groups"].items():
        assert metrics["METEOR"] == pytest.approx(theirs[group], abs=1e-9), group


def test_meteor_known_extremes(meteor_run):
    ours, *_ = meteor_run
    assert ours["groups"]["identical"]["METEOR"] == pytest.approx(100.0, abs=1e-9)
    assert ours["groups"]["disjoint"]["METEOR"] == pytest.approx(0.0, abs=1e-9)
    assert 0.0 < ours["groups"]["mixed"]["METEOR"] < 100.0
    assert set(ours["overall"]) == set(METRIC_NAMES)


def test_other_metrics_equal_pycocoevalcap_scorers(meteor_run):
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    ours, _, hyps, tok_refs, groups = meteor_run
    gts = {i: r for i, r in enumerate(tok_refs)}
    res = {i: [h] for i, h in enumerate(hyps)}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, _ = Rouge().compute_score(gts, res)
    cider, cider_items = Cider().compute_score(gts, res)
    for k in range(4):
        assert ours["overall"][f"BLEU-{k + 1}"] == pytest.approx(100 * bleu[k], rel=1e-12)
    assert ours["overall"]["ROUGE-L"] == pytest.approx(100 * rouge, rel=1e-12)
    assert ours["overall"]["CIDEr"] == pytest.approx(100 * cider, rel=1e-12)
    # per group: BLEU is the subset's corpus BLEU, CIDEr the subset's mean with whole-corpus IDF
    idx = [i for i, g in enumerate(groups) if g == "mixed"]
    bleu_mixed, _ = Bleu(4).compute_score({i: gts[i] for i in idx}, {i: res[i] for i in idx}, verbose=0)
    assert ours["groups"]["mixed"]["BLEU-4"] == pytest.approx(100 * bleu_mixed[3], rel=1e-12)
    assert ours["groups"]["mixed"]["CIDEr"] == pytest.approx(100 * sum(cider_items[i] for i in idx) / len(idx))
    counts = {g: m["count"] for g, m in ours["groups"].items()}
    assert counts == {"disjoint": 2, "identical": 3, "mixed": 4}
    for metric in ("ROUGE-L", "CIDEr"):  # group means weighted by counts give the overall mean
        weighted = sum(m[metric] * m["count"] for m in ours["groups"].values()) / len(groups)
        assert weighted == pytest.approx(ours["overall"][metric])


# ------------------------------------------------------------------------------------------------ known values

def test_identical_predictions_score_100():
    preds = ["The user is watching a short video on TikTok.", "The user sends a message on WhatsApp."]
    m = compute_caption_metrics(preds, [[p] for p in preds], meteor=False)
    assert set(m) == set(NO_METEOR)
    for k in range(1, 5):
        assert m[f"BLEU-{k}"] == pytest.approx(100.0, abs=1e-5)
    assert m["ROUGE-L"] == 100.0
    # identical single references: each n-gram order's cosine is 1, no length penalty -> 10 per caption
    assert m["CIDEr"] == pytest.approx(1000.0)


def test_disjoint_predictions_score_zero():
    m = compute_caption_metrics(["a zebra grazes near trees", "purple elephants dance quietly"],
                                ["the user streams music on spotify", "video calls drain battery life"],
                                meteor=False)
    for name in NO_METEOR:
        assert m[name] == pytest.approx(0.0, abs=1e-6), name


def _coco_bleu(correct: list[int], guess: list[int], testlen: int, reflen: int) -> list[float]:
    """BLEU-1..4 x 100 from n-gram counts, with pycocoevalcap's constants (1e-15 and 1e-9 keep the
    logarithm finite: a BLEU-n with no matching n-gram is tiny but not exactly 0)."""
    tiny, small = 1e-15, 1e-9
    ratio = (testlen + tiny) / (reflen + small)
    bp = math.exp(1 - 1 / ratio) if ratio < 1 else 1.0
    out, prod = [], 1.0
    for n in range(4):
        prod *= (correct[n] + tiny) / (guess[n] + small)
        out.append(100 * bp * prod ** (1 / (n + 1)))
    return out


def test_bleu_by_hand():
    preds = ["the cat sat on the mat", "the cat on the mat", "a man rides a brown horse"]
    refs = ["the cat is on the mat", "the cat is on the mat", "a man rides a horse"]
    # clipped n-gram matches / hypothesis n-grams, summed over the corpus:
    #   1-grams (5+5+5)/(6+5+6), 2-grams (3+3+3)/(5+4+5), 3-grams (1+1+2)/(4+3+4), 4-grams (0+0+1)/(3+2+3);
    # hypothesis length 17, closest reference lengths 6+6+5 = 17: brevity penalty 1
    m = compute_caption_metrics(preds, refs, meteor=False)
    p = [15 / 17, 9 / 14, 4 / 11, 1 / 8]
    for n in range(1, 5):
        assert m[f"BLEU-{n}"] == pytest.approx(100 * math.prod(p[:n]) ** (1 / n), rel=1e-7)
    assert [m[f"BLEU-{n}"] for n in range(1, 5)] == pytest.approx(
        _coco_bleu([15, 9, 4, 1], [17, 14, 11, 8], 17, 17), rel=1e-12)

    # the short second sentence alone: n-gram precisions 5/5, 3/4, 1/3 (of its 3-grams "the cat on",
    # "cat on the", "on the mat" only the last is in the reference), 0/2; brevity penalty exp(1 - 6/5)
    m = compute_caption_metrics(["the cat on the mat"], ["The cat is on the mat."], meteor=False)
    bp = math.exp(1 - 6 / 5)
    assert m["BLEU-1"] == pytest.approx(100 * bp, rel=1e-7)
    assert m["BLEU-2"] == pytest.approx(100 * bp * (3 / 4) ** 0.5, rel=1e-7)
    assert m["BLEU-3"] == pytest.approx(100 * bp * (1 * 3 / 4 * 1 / 3) ** (1 / 3), rel=1e-7)
    assert [m[f"BLEU-{n}"] for n in range(1, 5)] == pytest.approx(_coco_bleu([5, 3, 1, 0], [5, 4, 3, 2], 5, 6),
                                                                 rel=1e-12)
    assert m["BLEU-4"] < 0.01  # no matching 4-gram
    # ROUGE-L: LCS 5, precision 1, recall 5/6, F with beta = 1.2
    prec, rec, beta2 = 1.0, 5 / 6, 1.2 ** 2
    assert m["ROUGE-L"] == pytest.approx(100 * (1 + beta2) * prec * rec / (rec + beta2 * prec))
    assert m["CIDEr"] == 0.0  # a one-caption corpus gives every n-gram zero IDF


def test_multi_reference():
    pred = ["the user types a message"]
    # the prediction equals the second reference: BLEU takes clipped counts over all references and the
    # closest length, ROUGE-L the best reference
    m = compute_caption_metrics(pred, [["the user is chatting on whatsapp", "The user types a message."]],
                                meteor=False)
    assert m["BLEU-4"] == pytest.approx(100.0, abs=1e-5)
    assert m["ROUGE-L"] == pytest.approx(100.0)
    single = compute_caption_metrics(pred, [["the user is chatting on whatsapp"]], meteor=False)
    assert single["BLEU-1"] < m["BLEU-1"] and single["ROUGE-L"] < m["ROUGE-L"]
    # a plain string reference is the same as a one-element list
    assert compute_caption_metrics(pred, ["the user is chatting on whatsapp"], meteor=False) == single


def test_cider_positive_and_ordered():
    refs = [["the user is watching a short video on tiktok", "a tiktok video is playing"],
            ["the user sends a message on whatsapp", "the user is chatting on whatsapp"],
            ["the user listens to music on spotify", "music is streaming from spotify"],
            ["the user browses a news site in chrome", "a web page is loading in chrome"]]
    exact = [r[0] for r in refs]
    close = ["the user watches a video on tiktok", "the user sends a message",
             "the user listens to music", "the user browses a site in chrome"]
    generic = ["the user is using the phone"] * 4
    scores = [compute_caption_metrics(p, refs, meteor=False) for p in (exact, close, generic)]
    assert scores[0]["CIDEr"] > scores[1]["CIDEr"] > scores[2]["CIDEr"] >= 0.0
    assert scores[0]["CIDEr"] > 0.0
    for name in ("BLEU-4", "ROUGE-L"):
        assert scores[0][name] > scores[1][name] > scores[2][name]


def test_empty_and_punctuation_only_predictions_score_zero():
    refs = ["the user sends a message on whatsapp", "the user watches a video on youtube"]
    good = compute_caption_metrics(["the user sends a message on whatsapp", "the user watches a video"], refs,
                                   meteor=False)
    for empty in ("", "   ", "...", "\n"):
        m = compute_caption_metrics([empty, "the user watches a video"], refs, meteor=False)
        assert set(m) == set(NO_METEOR)
        assert all(math.isfinite(v) for v in m.values())
        assert m["ROUGE-L"] == pytest.approx(good["ROUGE-L"] - 50.0)  # the empty one scores 0 of the mean
        assert m["BLEU-1"] < good["BLEU-1"]
    all_empty = compute_caption_metrics(["", ""], refs, meteor=False)
    assert all(v == pytest.approx(0.0, abs=1e-6) for v in all_empty.values())


def test_ptb_tokenisation_is_pycocoevalcaps():
    texts = ["The user is watching a video, on TikTok!", "Café (au lait) -- naïve \"quoted\" text?",
             "two\nlines", "line\u2028separator", "3.5 MB/s isn't much", "...", "", "  spaced   out  ",
             "tab\tand\x0bvertical tab"]
    ours = ptb_tokenize(texts)
    assert ours[0] == "the user is watching a video on tiktok"
    assert ours[2] == "two lines" and ours[3] == "line separator"
    assert ours[5] == "" and ours[6] == ""
    assert ours[8] == "tab and vertical tab"
    assert len(ours) == len(texts)
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    if not os.access(Path(sys.modules[PTBTokenizer.__module__].__file__).parent, os.W_OK):
        pytest.skip("pycocoevalcap's tokenizer writes its temp file into its package folder, read-only here")
    # theirs mis-aligns every later caption after an empty one or one holding a line separator
    keep = [0, 1, 2, 4, 7]
    theirs = PTBTokenizer().tokenize({i: [{"caption": texts[i]}] for i in keep})
    assert [theirs[i][0] for i in keep] == [ours[i] for i in keep]


# ------------------------------------------------------------------------------------------------ evaluate module

def test_evaluate_load_offline_matches_plain_api(tmp_path, meteor_run):
    """evaluate.load(path) in a fresh offline process gives what the plain API gave (METEOR aside)."""
    ours = meteor_run[0]
    preds = [p for _, p, _ in CORPUS]
    refs = [r for _, _, r in CORPUS]
    groups = [g for g, _, _ in CORPUS]
    script = (
        "import json, sys, evaluate\n"
        "m = evaluate.load(sys.argv[1])\n"
        "d = json.load(open(sys.argv[2]))\n"
        "out = {'plain': m.compute(predictions=d['p'], references=d['r'], meteor=False),\n"
        "       'groups': m.compute(predictions=d['p'], references=d['r'], groups=d['g'], meteor=False)}\n"
        "try:\n"
        "    m.compute(predictions=d['p'], references=d['r'][:-1])\n"
        "except Exception as e:\n"
        "    out['error'] = type(e).__name__\n"
        "print(json.dumps(out))\n"
    )
    data = tmp_path / "inputs.json"
    data.write_text(json.dumps({"p": preds, "r": refs, "g": groups}))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_EVALUATE_OFFLINE": "1",
           "HF_HOME": str(tmp_path / "hf"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", script, str(CAPTION_METRICS_PATH), str(data)], env=env,
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    expected = {k: v for k, v in ours["overall"].items() if k != "METEOR"}
    assert out["plain"] == pytest.approx(expected, rel=1e-12)
    assert out["groups"]["overall"] == pytest.approx(expected, rel=1e-12)
    for group, metrics in ours["groups"].items():
        assert out["groups"]["groups"][group] == pytest.approx(
            {k: v for k, v in metrics.items() if k != "METEOR"}, rel=1e-12)
    assert out["error"] == "T2TInputError"


# ------------------------------------------------------------------------------------------------ bad inputs

GOOD_P = ["the user sends a message"]
GOOD_R = [["the user is chatting"]]


@pytest.mark.parametrize("kwargs, match", [
    (dict(predictions=[], references=[]), "predictions is empty"),
    (dict(predictions=["a b", "c d"], references=[["a b"]]), "2 predictions but 1 references"),
    (dict(predictions="the user sends a message", references=GOOD_R), "single str"),
    (dict(predictions={"a": "b"}, references=GOOD_R), "must be a list"),
    (dict(predictions=[3], references=GOOD_R), r"predictions\[0\] is int"),
    (dict(predictions=[None], references=GOOD_R), r"predictions\[0\] is NoneType"),
    (dict(predictions=GOOD_P, references=[[]]), r"references\[0\] is an empty list"),
    (dict(predictions=GOOD_P, references=[[""]]), r"references\[0\]\[0\] is an empty caption"),
    (dict(predictions=GOOD_P, references=[["  "]]), r"references\[0\]\[0\] is an empty caption"),
    (dict(predictions=GOOD_P, references=[[1.5]]), r"references\[0\]\[0\] is float"),
    (dict(predictions=GOOD_P, references=[5]), r"references\[0\] is int"),
    (dict(predictions=GOOD_P, references=GOOD_R, meteor="yes"), "meteor must be True or False"),
    (dict(predictions=GOOD_P, references=GOOD_R, timeout=-1), "timeout must be a positive"),
])
def test_bad_inputs_raise_t2t_input_error(kwargs, match):
    with pytest.raises(T2TInputError, match=match):
        compute_caption_metrics(**kwargs)


@pytest.mark.parametrize("groups, match", [
    (["video", "social"], "1 predictions but 2 groups"),
    ([7], r"groups\[0\] is int"),
    (None, "groups is required"),
])
def test_bad_groups_raise_t2t_input_error(groups, match):
    with pytest.raises(T2TInputError, match=match):
        compute_caption_metrics_by_group(GOOD_P, GOOD_R, groups)


def test_punctuation_only_reference_is_rejected():
    with pytest.raises(T2TInputError, match=r"references\[0\]\[1\].*no words"):
        compute_caption_metrics(GOOD_P, [["the user is chatting", "..."]], meteor=False)


def test_missing_java_gives_clear_error(monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(T2TInputError, match="default-jre-headless"):
        compute_caption_metrics(GOOD_P, GOOD_R)


# ------------------------------------------------------------------------------------------------ subprocess hygiene

def test_timeouts_raise_instead_of_hanging():
    with pytest.raises(CaptionMetricsError, match="PTB tokenizer did not finish"):
        ptb_tokenize(["the user sends a message"], timeout=0.001)
    jvm = coco._Meteor(timeout=0.5)  # killed by its watchdog while still loading the paraphrase table
    try:
        with pytest.raises(CaptionMetricsError, match="METEOR did not finish"):
            jvm.score(["a b"], [["a b"]], [[0]])
    finally:
        jvm.close()
    assert jvm._proc.poll() is not None


def test_no_temporary_files_left(tmp_path, monkeypatch):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    jvm = coco._Meteor(timeout=0.5)
    with pytest.raises(CaptionMetricsError):
        jvm.score(["a b"], [["a b"]], [[0]])
    jvm.close()
    compute_caption_metrics(GOOD_P * 3, GOOD_R * 3, meteor=False)
    assert list(tmp.iterdir()) == []
