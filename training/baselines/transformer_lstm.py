"""The paper's Transformer-LSTM baseline: a transformer traffic encoder and an LSTM caption decoder.

Encoder: the same input features as T2T (packet sequence [B, P, 8] and time bins [B, NB, 6]), a linear packet
embedding pooled by ``packet_downsample`` with a strided convolution, a time-bin MLP, learned positions, and a
plain transformer encoder (no FiLM modulation, no prototypes, no auxiliary losses). Decoder: a single-layer LSTM
whose state starts from the mean-pooled encoder output and which attends (dot-product) over the encoder states
at every step (Show-Attend-Tell style). Trained with teacher forcing (cross-entropy), decoded greedily.

    python training/baselines/transformer_lstm.py --corpus sim --steps 600   # trains, evaluates, prints JSON
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from training.common import SplitData  # noqa: E402


class TransformerLSTM(nn.Module):
    """Transformer traffic encoder + attentive LSTM decoder.

    forward(inputs, labels [B, L]) -> logits [B, L, V]; ``generate(inputs, max_len)`` -> ids [B, <= max_len]."""

    def __init__(self, vocab_size: int, d_model: int = 128, layers: int = 2, heads: int = 4, ffn: int = 256,
                 downsample: int = 8, max_packets: int = 256, num_time_bins: int = 20, dropout: float = 0.1,
                 bos: int = 1, eos: int = 2, pad: int = 0):
        super().__init__()
        self.bos, self.eos, self.pad, self.stride = bos, eos, pad, downsample
        self.packet = nn.Linear(8, d_model)
        self.pool = nn.Conv1d(d_model, d_model, downsample, downsample)
        self.bins = nn.Sequential(nn.Linear(6, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.pos = nn.Embedding(max_packets // downsample + num_time_bins, d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, ffn, dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=pad)
        self.init_h = nn.Linear(d_model, d_model)
        self.init_c = nn.Linear(d_model, d_model)
        self.lstm = nn.LSTMCell(2 * d_model, d_model)
        self.attn_q = nn.Linear(d_model, d_model)
        self.out = nn.Linear(2 * d_model, vocab_size)
        self.drop = nn.Dropout(dropout)

    def encode(self, input_features, attention_mask, time_bin_features, **_):
        """-> memory [B, T, d], mask [B, T] bool (True = real)."""
        b, p, _ = input_features.shape
        pad = (-p) % self.stride
        x = F.pad(input_features, (0, 0, 0, pad))
        m = F.pad(attention_mask, (0, pad)).float()
        x = self.packet(x) * m.unsqueeze(-1)
        x = F.gelu(self.pool(x.transpose(1, 2)).transpose(1, 2))
        gm = m.view(b, -1, self.stride).amax(-1) > 0
        t = torch.cat([self.bins(time_bin_features), x], 1)
        mask = torch.cat([torch.ones(b, time_bin_features.shape[1], dtype=torch.bool, device=x.device), gm], 1)
        t = t + self.pos(torch.arange(t.shape[1], device=t.device))
        return self.encoder(t, src_key_padding_mask=~mask), mask

    def _init_state(self, memory, mask):
        mf = mask.float().unsqueeze(-1)
        pooled = (memory * mf).sum(1) / mf.sum(1).clamp_min(1)
        return torch.tanh(self.init_h(pooled)), torch.tanh(self.init_c(pooled))

    def _step(self, tok, h, c, memory, mask):
        ctx_prev = self._attend(h, memory, mask)
        h, c = self.lstm(torch.cat([self.drop(self.embed(tok)), ctx_prev], -1), (h, c))
        ctx = self._attend(h, memory, mask)
        return self.out(self.drop(torch.cat([h, ctx], -1))), h, c

    def _attend(self, h, memory, mask):
        score = (memory @ self.attn_q(h).unsqueeze(-1)).squeeze(-1) / memory.shape[-1] ** 0.5
        score = score.masked_fill(~mask, float("-inf"))
        return (torch.softmax(score, -1).unsqueeze(-1) * memory).sum(1)

    def forward(self, inputs: dict, labels: torch.Tensor) -> torch.Tensor:
        memory, mask = self.encode(**inputs)
        h, c = self._init_state(memory, mask)
        dec_in = torch.cat([torch.full_like(labels[:, :1], self.bos), labels[:, :-1]], 1).masked_fill(
            torch.cat([torch.zeros_like(labels[:, :1]), labels[:, :-1]], 1) == -100, self.pad)
        logits = []
        for t in range(labels.shape[1]):
            lo, h, c = self._step(dec_in[:, t], h, c, memory, mask)
            logits.append(lo)
        return torch.stack(logits, 1)

    @torch.no_grad()
    def generate(self, inputs: dict, max_len: int = 30) -> torch.Tensor:
        memory, mask = self.encode(**inputs)
        h, c = self._init_state(memory, mask)
        tok = torch.full((memory.shape[0],), self.bos, dtype=torch.long, device=memory.device)
        out, done = [], torch.zeros_like(tok, dtype=torch.bool)
        for _ in range(max_len):
            lo, h, c = self._step(tok, h, c, memory, mask)
            tok = lo.argmax(-1).masked_fill(done, self.pad)
            out.append(tok)
            done |= tok == self.eos
            if bool(done.all()):
                break
        return torch.stack(out, 1)


def train_and_predict(train: SplitData, test: SplitData, tokenizer, *, steps: int = 600, batch_size: int = 32,
                      lr: float = 1e-3, seed: int = 0, max_len: int = 40, log=print) -> dict:
    """Train on ``train`` (a random reference per window per step) and caption ``test`` greedily.

    Returns ``{"predictions": [str], "train_seconds": float, "steps": int}``."""
    from training.train import batch_indices, encode_references

    torch.manual_seed(seed)
    refs = encode_references(tokenizer, train.meta, max_len)
    model = TransformerLSTM(len(tokenizer), max_packets=train.input_features.shape[1],
                            num_time_bins=train.time_bin_features.shape[1])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    t0 = time.time()
    model.train()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * step / steps)))
        idx = batch_indices(len(train), batch_size, seed, 0, step)
        pick = np.random.default_rng([seed, step]).integers(0, refs.shape[1], len(idx))
        labels = torch.from_numpy(refs[idx, pick])
        labels = labels[:, : int((labels != -100).sum(1).max())]
        logits = model(train.model_inputs(idx), labels)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"transformer_lstm step {step}/{steps} loss {float(loss.detach()):.3f}")
    seconds = time.time() - t0
    model.eval()
    preds = []
    for i in range(0, len(test), 128):
        idx = np.arange(i, min(len(test), i + 128))
        ids = model.generate(test.model_inputs(idx), max_len=max_len - 1)
        preds.extend(c.strip() for c in tokenizer.batch_decode(ids, skip_special_tokens=True))
    return {"predictions": preds, "train_seconds": seconds, "steps": steps}


def main(argv=None) -> int:
    from training.common import load_corpus_features, score_predictions
    from training.train import build_tokenizer

    ap = argparse.ArgumentParser(description="Train and evaluate the Transformer-LSTM baseline")
    ap.add_argument("--corpus", default="sim")
    ap.add_argument("--num_windows", type=int, default=3840)
    ap.add_argument("--steps", type=int, default=600)
    args = ap.parse_args(argv)
    splits, _ = load_corpus_features(args.corpus, num_windows=args.num_windows)
    tok = build_tokenizer(splits["train"].column("references"), {}, 40)
    res = train_and_predict(splits["train"], splits["test"], tok, steps=args.steps)
    print(json.dumps(score_predictions(res["predictions"], splits["test"])["overall"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
