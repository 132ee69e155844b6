"""COCO caption metrics: BLEU-1..4, METEOR, ROUGE-L and CIDEr-D, as captioning papers report them.

The scores are those of ``pycocoevalcap`` (the COCO caption evaluation toolkit that the T2T paper
and nearly every captioning paper use), computed the way its ``COCOEvalCap`` computes them:

1. every prediction and reference is tokenised by the Stanford PTB tokenizer (``-preserveLines
   -lowerCase``, the jar shipped in the pycocoevalcap wheel) and the tokens in pycocoevalcap's
   ``PUNCTUATIONS`` list are dropped;
2. BLEU-n is the corpus BLEU of ``BleuScorer`` (``option="closest"`` reference length);
   METEOR is METEOR 1.5 (``-l en -norm``, the jar in the wheel; the corpus score is the jar's
   aggregate over summed statistics, not a mean of sentence scores); ROUGE-L is the mean of the
   sentence ROUGE-L (LCS F-measure, beta = 1.2, best reference); CIDEr is pycocoevalcap's ``Cider``,
   which is CIDEr-D (clipped n-gram counts, Gaussian length penalty with sigma = 6, times 10) with
   IDF computed from the references of the evaluated corpus.

Every score is reported **times 100**, as the T2T paper reports them (BLEU-4 58.1, METEOR 38.3,
ROUGE-L 70.5, CIDEr 108.7): BLEU, METEOR and ROUGE-L lie in [0, 100]; CIDEr is 100 times
pycocoevalcap's value, so usually in [0, 1000].

What this module adds to calling pycocoevalcap directly: input validation with one error type
(:class:`~t2t_hf.errors.T2TInputError`), empty predictions scored as 0 instead of crashing, one
JVM per scorer per call (METEOR's JVM spends seconds loading its 60 MB paraphrase table, so it is
started first and loads while the text is tokenised), timeouts on both Java subprocesses, no
temporary files (pycocoevalcap's tokenizer writes one into its own package folder), and a
per-group breakdown (for example per app type) from the same single pass.

Java is required (both jars are Java): ``apt-get install default-jre-headless``.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from t2t_hf.errors import T2TInputError

__all__ = [
    "METRIC_NAMES",
    "CaptionMetricsError",
    "compute_caption_metrics",
    "compute_caption_metrics_by_group",
    "ptb_tokenize",
    "validate_caption_inputs",
]

#: Keys of the dict returned by :func:`compute_caption_metrics`, in reporting order.
METRIC_NAMES: tuple[str, ...] = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr")

#: Seconds allowed to each Java subprocess: a fixed start-up allowance plus a per-caption allowance
#: (METEOR's start, loading its paraphrase table, takes seconds; scoring and tokenising are far faster
#: than 20 ms per caption).
_BASE_TIMEOUT_S = 300.0
_PER_CAPTION_TIMEOUT_S = 0.02

_PTB_CLASS = "edu.stanford.nlp.process.PTBTokenizer"


class CaptionMetricsError(RuntimeError):
    """A metric backend (the PTB tokenizer or METEOR JVM) failed or timed out on valid input."""


# --------------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------------

def _as_list(obj: object, name: str) -> list:
    """``obj`` as a list, or a T2TInputError when it is not a sequence of items."""
    if isinstance(obj, (str, bytes)):
        raise T2TInputError(f"{name} must be a list of captions, got a single {type(obj).__name__}; "
                            f"wrap it in a list: [{obj!r:.40}]")
    if isinstance(obj, Mapping) or not isinstance(obj, Iterable):
        raise T2TInputError(f"{name} must be a list of captions, got {type(obj).__name__}")
    if hasattr(obj, "tolist"):  # numpy arrays, pandas Series
        obj = obj.tolist()
    return list(obj)


def _check_caption(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise T2TInputError(f"{where} is {type(value).__name__} ({value!r:.60}), expected a caption string")
    return value


def validate_caption_inputs(predictions: object, references: object, groups: object = None
                            ) -> tuple[list[str], list[list[str]], list[str] | None]:
    """Check and normalise metric inputs, raising :class:`~t2t_hf.errors.T2TInputError` on bad ones.

    Args:
        predictions: N caption strings (any non-string iterable: list, tuple, numpy array).
        references: N items, each a non-empty caption string or a non-empty iterable of them.
        groups: None, or N group-name strings.

    Returns:
        (predictions as a list of N str, references as N lists of str, groups as a list or None).
    """
    preds = _as_list(predictions, "predictions")
    refs = _as_list(references, "references")
    if not preds:
        raise T2TInputError("predictions is empty: give at least one predicted caption")
    if len(preds) != len(refs):
        raise T2TInputError(f"got {len(preds)} predictions but {len(refs)} references: give one reference "
                            "caption, or one list of reference captions, per prediction")
    preds = [_check_caption(p, f"predictions[{i}]") for i, p in enumerate(preds)]
    refs_out: list[list[str]] = []
    for i, item in enumerate(refs):
        if isinstance(item, str):
            item_refs = [item]
        elif isinstance(item, bytes) or isinstance(item, Mapping) or not isinstance(item, Iterable):
            raise T2TInputError(f"references[{i}] is {type(item).__name__} ({item!r:.60}), expected a caption "
                                "string or a list of caption strings")
        else:
            item_refs = list(item.tolist() if hasattr(item, "tolist") else item)
        if not item_refs:
            raise T2TInputError(f"references[{i}] is an empty list: every prediction needs at least one "
                                "reference caption")
        for j, ref in enumerate(item_refs):
            _check_caption(ref, f"references[{i}][{j}]")
            if not ref.strip():
                raise T2TInputError(f"references[{i}][{j}] is an empty caption: references must contain words "
                                    "(remove empty references from the list)")
        refs_out.append(item_refs)
    groups_out = None
    if groups is not None:
        groups_out = _as_list(groups, "groups")
        if len(groups_out) != len(preds):
            raise T2TInputError(f"got {len(preds)} predictions but {len(groups_out)} groups: give one group "
                                "name (e.g. the app type) per prediction")
        for i, g in enumerate(groups_out):
            if not isinstance(g, str):
                raise T2TInputError(f"groups[{i}] is {type(g).__name__} ({g!r:.60}), expected a group name string")
    return preds, refs_out, groups_out


# --------------------------------------------------------------------------------------------------
# Java subprocesses
# --------------------------------------------------------------------------------------------------

def _java() -> str:
    """Path of the ``java`` executable ($JAVA_HOME/bin/java first, then PATH)."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    found = shutil.which("java")
    if found is None:
        raise T2TInputError("Java was not found (no $JAVA_HOME/bin/java, no `java` on PATH): the COCO caption "
                            "metrics run the Stanford PTB tokenizer and METEOR 1.5, which are Java programs. "
                            "Install a Java runtime, e.g. `apt-get install default-jre-headless`")
    return found


def _jar(subpackage: str, name: str) -> Path:
    try:
        import importlib.util
        spec = importlib.util.find_spec(f"pycocoevalcap.{subpackage}")
    except ImportError:  # pragma: no cover - depends on the environment
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise T2TInputError("pycocoevalcap is not installed: `pip install pycocoevalcap`")
    path = Path(next(iter(spec.submodule_search_locations))) / name
    if not path.is_file():
        raise T2TInputError(f"{path} is missing: reinstall pycocoevalcap (`pip install --force-reinstall "
                            "pycocoevalcap`), whose wheel ships the jar")
    return path


def _timeout(n_captions: int, timeout: float | None) -> float:
    if timeout is None:
        return _BASE_TIMEOUT_S + _PER_CAPTION_TIMEOUT_S * n_captions
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise T2TInputError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


#: Unicode categories Cc (control characters, line breaks included), Zl and Zp (line/paragraph separators).
_BREAKS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _one_line(text: str) -> str:
    """``text`` on one line: every line break, other control character or separator becomes a space
    (the PTB tokenizer would split a caption at one and shift every later caption)."""
    return _BREAKS.sub(" ", text).strip()


def ptb_tokenize(texts: Sequence[str], *, timeout: float | None = None) -> list[str]:
    """PTB-tokenise captions exactly as pycocoevalcap's ``PTBTokenizer`` does, in one JVM call.

    Lower-cases, splits with the Stanford PTB tokenizer (``-preserveLines -lowerCase``) and drops
    the tokens in ``pycocoevalcap.tokenizer.ptbtokenizer.PUNCTUATIONS``.

    Args:
        texts: N caption strings.
        timeout: seconds allowed to the JVM (default: 300 s + 20 ms per caption).

    Returns:
        N strings of space-separated tokens ("" for a caption without words).

    Raises:
        T2TInputError: Java or the jar is missing, or an item is not a string.
        CaptionMetricsError: the tokenizer failed or timed out.
    """
    from pycocoevalcap.tokenizer.ptbtokenizer import PUNCTUATIONS

    texts = [_check_caption(t, f"texts[{i}]") for i, t in enumerate(_as_list(texts, "texts"))]
    lines = [_one_line(t) for t in texts]
    unique = sorted({line for line in lines if line})
    tokenised: dict[str, str] = {"": ""}
    if unique:
        limit = _timeout(len(unique), timeout)
        cmd = [_java(), "-XX:-UsePerfData", "-cp", str(_jar("tokenizer", "stanford-corenlp-3.4.1.jar")), _PTB_CLASS,
               "-preserveLines", "-lowerCase", "-encoding", "utf-8"]
        try:
            done = subprocess.run(cmd, input="\n".join(unique).encode("utf-8", "replace"), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=limit, check=False)
        except subprocess.TimeoutExpired as exc:
            raise CaptionMetricsError(f"the PTB tokenizer did not finish {len(unique)} captions within "
                                      f"{limit:.0f} s; pass a larger timeout=") from exc
        if done.returncode != 0:
            raise CaptionMetricsError(f"the PTB tokenizer failed (exit code {done.returncode}): "
                                      f"{done.stderr.decode('utf-8', 'replace')[-2000:]}")
        out = done.stdout.decode("utf-8", "replace").split("\n")
        if out and out[-1] == "" and len(out) == len(unique) + 1:
            out.pop()
        if len(out) != len(unique):
            raise CaptionMetricsError(f"the PTB tokenizer returned {len(out)} lines for {len(unique)} captions")
        for line, toks in zip(unique, out):
            tokenised[line] = " ".join(w for w in toks.rstrip().split(" ") if w not in PUNCTUATIONS)
    return [tokenised[line] for line in lines]


class _Meteor:
    """One METEOR 1.5 JVM (``-stdio -l en -norm``, as pycocoevalcap runs it), started at construction
    so that it loads its paraphrase table while the caller does other work.

    ``score(hyps, refs, subsets)`` returns the corpus METEOR (in [0, 1]) of each subset of item indices.
    A watchdog kills the JVM after ``timeout`` seconds; ``close()`` always ends it.
    """

    def __init__(self, timeout: float) -> None:
        jar = _jar("meteor", "meteor-1.5.jar")
        self._stderr = tempfile.TemporaryFile()  # unlinked at once: nothing left behind
        cmd = [_java(), "-XX:-UsePerfData", "-Xmx2G", "-jar", str(jar), "-", "-", "-stdio", "-l", "en", "-norm"]
        self._proc = subprocess.Popen(cmd, cwd=str(jar.parent), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=self._stderr)
        self._timed_out = threading.Event()
        self._finished = False
        self._timeout = timeout
        self._watchdog = threading.Timer(timeout, self._kill_on_timeout)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _kill_on_timeout(self) -> None:
        self._timed_out.set()
        self._proc.kill()

    def _write_all(self, lines: list[str], close: bool) -> threading.Thread:
        """Write lines from a thread (the JVM answers as it reads: writing and reading in one thread
        would deadlock once both pipes fill)."""
        def run() -> None:
            try:
                for line in lines:
                    self._proc.stdin.write(line.encode("utf-8") + b"\n")
                self._proc.stdin.flush()
                if close:
                    self._proc.stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass  # the JVM died; the reader reports why
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def _readline(self) -> str:
        line = self._proc.stdout.readline()
        if not line:
            if self._timed_out.is_set():
                raise CaptionMetricsError(f"METEOR did not finish within {self._timeout:.0f} s; pass a larger timeout=")
            self._proc.wait()
            self._stderr.seek(0)
            err = self._stderr.read().decode("utf-8", "replace")[-2000:]
            raise CaptionMetricsError(f"METEOR exited unexpectedly (exit code {self._proc.returncode}): {err}")
        return line.decode("utf-8", "replace").strip()

    def score(self, hyps: list[str], refs: list[list[str]], subsets: list[list[int]]) -> list[float]:
        clean = lambda s: " ".join(s.replace("|||", "").split())  # noqa: E731 - '|||' is the field separator
        score_lines = ["SCORE ||| " + " ||| ".join(clean(r) for r in rs) + " ||| " + clean(h)
                       for h, rs in zip(hyps, refs)]
        writer = self._write_all(score_lines, close=False)
        stats = [self._readline() for _ in hyps]
        writer.join()
        eval_lines = ["EVAL ||| " + " ||| ".join(stats[i] for i in subset) for subset in subsets]
        writer = self._write_all(eval_lines, close=True)
        scores = []
        for subset in subsets:
            for _ in subset:  # per-segment scores: not needed
                self._readline()
            value = self._readline()
            try:
                scores.append(float(value))
            except ValueError as exc:
                raise CaptionMetricsError(f"METEOR answered {value!r} where a score was expected") from exc
        writer.join()
        self._finished = True
        return scores

    def close(self) -> None:
        self._watchdog.cancel()
        try:  # after a complete run stdin is closed and the JVM exits by itself at once
            self._proc.wait(timeout=5.0 if self._finished else 0.0)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for pipe in (self._proc.stdin, self._proc.stdout):
            try:
                pipe.close()
            except (OSError, ValueError):
                pass
        self._stderr.close()


# --------------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------------

def _python_metrics(hyps: list[str], refs: list[list[str]], subsets: list[list[int]]) -> list[dict[str, float]]:
    """BLEU-1..4 (corpus BLEU per subset), ROUGE-L and CIDEr-D (means of per-caption scores per subset;
    CIDEr's IDF always comes from the whole corpus), all on the 0-1 scale (CIDEr on pycocoevalcap's)."""
    from pycocoevalcap.bleu.bleu_scorer import BleuScorer
    from pycocoevalcap.cider.cider_scorer import CiderScorer
    from pycocoevalcap.rouge.rouge import Rouge

    cider = CiderScorer(n=4, sigma=6.0)
    for h, rs in zip(hyps, refs):
        cider += (h, rs)
    _, cider_items = cider.compute_score()
    rouge = Rouge()
    rouge_items = [rouge.calc_score([h], rs) for h, rs in zip(hyps, refs)]

    results = []
    for subset in subsets:
        bleu = BleuScorer(n=4)
        for i in subset:
            bleu += (hyps[i], refs[i])
        bleus, _ = bleu.compute_score(option="closest", verbose=0)
        row = {f"BLEU-{k + 1}": float(bleus[k]) for k in range(4)}
        row["ROUGE-L"] = math.fsum(rouge_items[i] for i in subset) / len(subset)
        row["CIDEr"] = math.fsum(float(cider_items[i]) for i in subset) / len(subset)
        results.append(row)
    return results


def _compute(predictions: object, references: object, groups: object, meteor: bool,
             timeout: float | None) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    if not isinstance(meteor, bool):
        raise T2TInputError(f"meteor must be True or False, got {meteor!r}")
    preds, refs, group_list = validate_caption_inputs(predictions, references, groups)
    n_captions = len(preds) + sum(len(r) for r in refs)
    limit = _timeout(n_captions, timeout)
    _java()  # fail fast, before any work, when Java is missing

    subsets = [list(range(len(preds)))]
    names: list[str] = []
    if group_list is not None:
        members: dict[str, list[int]] = {}
        for i, g in enumerate(group_list):
            members.setdefault(g, []).append(i)
        names = sorted(members)
        subsets += [members[g] for g in names]

    meteor_jvm = _Meteor(limit) if meteor else None  # loads its paraphrase table while we tokenise
    try:
        flat = ptb_tokenize(preds + [r for rs in refs for r in rs], timeout=limit)
        hyps, pos = flat[:len(preds)], len(preds)
        tok_refs: list[list[str]] = []
        for i, rs in enumerate(refs):
            tok_refs.append(flat[pos:pos + len(rs)])
            pos += len(rs)
            for j, t in enumerate(tok_refs[-1]):
                if not t:
                    raise T2TInputError(f"references[{i}][{j}] ({rs[j]!r:.60}) has no words after PTB "
                                        "tokenisation (only punctuation): remove it")

        meteor_scores: list[float] = []
        if meteor_jvm is not None:
            box: dict[str, object] = {}

            def run_meteor() -> None:
                try:
                    box["scores"] = meteor_jvm.score(hyps, tok_refs, subsets)
                except BaseException as exc:  # re-raised in the caller's thread
                    box["error"] = exc

            thread = threading.Thread(target=run_meteor, daemon=True)
            thread.start()  # METEOR works in its JVM while Python computes the other metrics
        rows = _python_metrics(hyps, tok_refs, subsets)
        if meteor_jvm is not None:
            thread.join()
            if "error" in box:
                raise box["error"]  # type: ignore[misc]
            meteor_scores = box["scores"]  # type: ignore[assignment]
    finally:
        if meteor_jvm is not None:
            meteor_jvm.close()

    out = []
    for k, row in enumerate(rows):
        scaled = {name: 100.0 * row[name] for name in ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4")}
        if meteor:
            scaled["METEOR"] = 100.0 * meteor_scores[k]
        scaled["ROUGE-L"] = 100.0 * row["ROUGE-L"]
        scaled["CIDEr"] = 100.0 * row["CIDEr"]
        out.append(scaled)
    by_group = {}
    for name, subset, row in zip(names, subsets[1:], out[1:]):
        by_group[name] = {**row, "count": len(subset)}
    return out[0], by_group


def compute_caption_metrics(predictions: Sequence[str], references: Sequence[Sequence[str]] | Sequence[str], *,
                            meteor: bool = True, timeout: float | None = None) -> dict[str, float]:
    """Corpus BLEU-1..4, METEOR, ROUGE-L and CIDEr-D of predicted captions, times 100.

    Computed with pycocoevalcap on PTB-tokenised text, as in the T2T paper and COCO captioning (see the
    module docstring for the exact definitions). One JVM per scorer per call: call it once per corpus,
    not once per caption. CIDEr's IDF comes from the references of this corpus, so CIDEr of a single
    caption is always 0 and CIDEr is only comparable between evaluations of the same reference set.

    Args:
        predictions: N predicted captions (str). An empty prediction is allowed and scores 0.
        references: N items, each one reference caption (str) or a non-empty list of reference
            captions (several references per prediction are used by every metric).
        meteor: False skips METEOR (saves the start of its JVM, seconds); the key is then absent.
        timeout: seconds allowed to each Java subprocess (default: 300 s + 20 ms per caption,
            references included).

    Returns:
        ``{"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr": float}``, each times 100
        (BLEU, METEOR, ROUGE-L in [0, 100]; e.g. the paper's BLEU-4 58.1, CIDEr 108.7).

    Raises:
        T2TInputError: mismatched lengths, empty inputs, non-strings, empty or punctuation-only
            references, Java or pycocoevalcap missing.
        CaptionMetricsError: a Java scorer failed or timed out.
    """
    overall, _ = _compute(predictions, references, None, meteor, timeout)
    return overall


def compute_caption_metrics_by_group(predictions: Sequence[str],
                                     references: Sequence[Sequence[str]] | Sequence[str],
                                     groups: Sequence[str], *, meteor: bool = True,
                                     timeout: float | None = None) -> dict[str, dict]:
    """The metrics of :func:`compute_caption_metrics`, overall and per group (e.g. per app type), in one pass.

    Per group, BLEU and METEOR are the corpus scores of the group's captions and ROUGE-L the mean over
    them; CIDEr is the mean of the group's per-caption CIDEr-D with IDF from the *whole* corpus, so
    group CIDEr values are on the same footing as the overall one (and their count-weighted mean equals
    it; the same holds for ROUGE-L).

    Args:
        predictions: N predicted captions.
        references: N references (str or non-empty list of str), as in :func:`compute_caption_metrics`.
        groups: N group names (str), e.g. the ``app_type`` column of the corpus.
        meteor, timeout: as in :func:`compute_caption_metrics`.

    Returns:
        ``{"overall": {metric: float}, "groups": {group: {metric: float, "count": int}}}``, groups
        sorted by name, metrics times 100.
    """
    if groups is None:
        raise T2TInputError("groups is required: give one group name per prediction")
    overall, by_group = _compute(predictions, references, groups, meteor, timeout)
    return {"overall": overall, "groups": by_group}
