"""The caption tokenizer trained offline: special ids, round trips, save/load as PreTrainedTokenizerFast."""

from __future__ import annotations

import pytest
from _t2t_helpers import CAPTIONS
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from t2t_hf.errors import T2TInputError
from t2t_hf.tokenization_t2t import SPECIAL_TOKENS, train_caption_tokenizer


@pytest.mark.parametrize("kind", ["word", "bpe"])
def test_train_round_trip_and_reload(kind, tmp_path):
    tok = train_caption_tokenizer(CAPTIONS, vocab_size=60 if kind == "word" else 120, kind=kind)
    assert isinstance(tok, PreTrainedTokenizerFast)
    assert [tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3]
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    ids = tok(CAPTIONS[0])["input_ids"]
    assert ids[-1] == 2 and 1 not in ids
    assert tok.decode(ids, skip_special_tokens=True) == CAPTIONS[0].lower()
    if kind == "word":
        assert len(ids) == 17  # 15 words + "." + </s>: one token per word
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again(CAPTIONS[1])["input_ids"] == tok(CAPTIONS[1])["input_ids"]
    batch = again(CAPTIONS[:3], padding=True)["input_ids"]
    assert len({len(r) for r in batch}) == 1 and batch[0][-1] in (0, 2)


def test_unknown_words_and_vocab_limit():
    tok = train_caption_tokenizer(CAPTIONS, vocab_size=20, kind="word")
    assert len(tok) == 20
    assert tok.unk_token_id in tok("zebra quokka")["input_ids"]


@pytest.mark.parametrize("kwargs", [dict(captions=[]), dict(captions=["  ", ""]), dict(captions=["ok", 3]),
                                    dict(captions=CAPTIONS, kind="chars"), dict(captions=CAPTIONS, vocab_size=3)])
def test_bad_input(kwargs):
    with pytest.raises(T2TInputError):
        train_caption_tokenizer(**kwargs)
