"""The caption tokenizer: trained offline with ``tokenizers`` on the caption corpus, loaded as
``PreTrainedTokenizerFast``.

Two kinds:
- ``"word"`` (default): one token per lower-cased word, punctuation marks as tokens of their own. Captions are
  short, templated English sentences, so a word vocabulary of a few hundred to a few thousand entries covers them
  and keeps decoding steps to one per word (about 15 per caption).
- ``"bpe"``: byte-pair merges over characters (no unknown words, more steps per caption).

Both lower-case (NFKC first), split on whitespace with a SentencePiece-style ``▁`` word marker, so ``decode``
gives back the lower-cased caption with its original spacing. Special tokens, in this order, get the ids the
model config expects: ``<pad>`` 0, ``<s>`` 1 (decoder start), ``</s>`` 2 (end of caption, appended when
encoding), ``<unk>`` 3.
"""

from __future__ import annotations

from typing import Iterable

from transformers import PreTrainedTokenizerFast

from t2t_hf.errors import T2TInputError

SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]


def train_caption_tokenizer(captions: Iterable[str], vocab_size: int = 2000, kind: str = "word",
                            min_frequency: int = 1, model_max_length: int = 40) -> PreTrainedTokenizerFast:
    """Train a caption tokenizer offline.

    Args:
        captions: caption strings (the training split's references).
        vocab_size: the largest vocabulary, special tokens included (word: the most frequent words are kept).
        kind: "word" or "bpe".
        min_frequency: words (or merges) seen fewer times are left out (word: they become ``<unk>``).
        model_max_length: longest caption in tokens, ``</s>`` included (match ``T2TConfig.max_target_positions``).

    Returns:
        A ``PreTrainedTokenizerFast`` with ``pad/bos/eos/unk`` set; ``tokenizer("a caption")["input_ids"]`` ends
        with the ``</s>`` id 2.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    if kind not in ("word", "bpe"):
        raise T2TInputError(f"kind must be 'word' or 'bpe', got {kind!r}")
    if not isinstance(vocab_size, int) or vocab_size <= len(SPECIAL_TOKENS):
        raise T2TInputError(f"vocab_size must be an integer > {len(SPECIAL_TOKENS)}, got {vocab_size!r}")
    captions = [c for c in captions]
    bad = [i for i, c in enumerate(captions) if not isinstance(c, str)]
    if bad:
        raise T2TInputError(f"captions must be strings; item {bad[0]} is a {type(captions[bad[0]]).__name__}")
    captions = [c for c in captions if c.strip()]
    if not captions:
        raise T2TInputError("no non-empty caption to train the tokenizer on")

    if kind == "word":
        tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
        trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                            special_tokens=SPECIAL_TOKENS)
    else:
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL_TOKENS)
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(),
                                           normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
                                                 pre_tokenizers.Punctuation(behavior="isolated")])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.train_from_iterator(captions, trainer=trainer)
    for i, special in enumerate(SPECIAL_TOKENS):
        if tok.token_to_id(special) != i:
            raise RuntimeError(f"tokenizer training put {special} at id {tok.token_to_id(special)}, expected {i}")
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                       special_tokens=[("</s>", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", model_max_length=model_max_length, padding_side="right",
                                   clean_up_tokenization_spaces=False)


__all__ = ["train_caption_tokenizer", "SPECIAL_TOKENS"]
