"""A tiny character-level language model on a built-in text (LSTM or Transformer).

Trains for a few hundred steps on random windows of the text, prints the loss,
and greedily generates a continuation of a prompt.
"""

import argparse
import math

import ember as torch
import ember.nn as nn
import ember.nn.functional as F

TEXT = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, "
    "it was the age of foolishness, it was the epoch of belief, it was the epoch of "
    "incredulity, it was the season of Light, it was the season of Darkness, it was the "
    "spring of hope, it was the winter of despair, we had everything before us, we had "
    "nothing before us, we were all going direct to Heaven, we were all going direct the "
    "other way. "
)


class LSTMModel(nn.Module):
    def __init__(self, vocab, dim=64, hidden=128, layers=1):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.rnn = nn.LSTM(dim, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, idx):
        out, _ = self.rnn(self.embed(idx))
        return self.head(out)


class TransformerModel(nn.Module):
    def __init__(self, vocab, dim=64, heads=4, layers=2, context=64):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.zeros(context, dim))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=4 * dim, dropout=0.0, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.embed(idx) + self.pos[:t]
        mask = nn.Transformer.generate_square_subsequent_mask(t)
        x = self.encoder(x, mask=mask, is_causal=True)
        return self.head(self.norm(x))


def batches(data, batch_size, context):
    starts = torch.randint(0, len(data) - context - 1, (batch_size,)).tolist()
    x = torch.stack([data[s : s + context] for s in starts])
    y = torch.stack([data[s + 1 : s + context + 1] for s in starts])
    return x, y


def generate(model, stoi, itos, prompt, n, context):
    model.eval()
    idx = [stoi[c] for c in prompt]
    with torch.no_grad():
        for _ in range(n):
            x = torch.tensor([idx[-context:]], dtype=torch.long)
            logits = model(x)[0, -1]
            idx.append(int(logits.argmax().item()))
    model.train()
    return "".join(itos[i] for i in idx)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", choices=["lstm", "transformer"], default="lstm")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--context", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    torch.manual_seed(args.seed)
    chars = sorted(set(TEXT))
    stoi = {c: i for i, c in enumerate(chars)}
    itos = dict(enumerate(chars))
    data = torch.tensor([stoi[c] for c in TEXT], dtype=torch.long)
    vocab = len(chars)
    if args.arch == "lstm":
        model = LSTMModel(vocab)
    else:
        model = TransformerModel(vocab, context=args.context)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    first = last = None
    for step in range(args.steps):
        x, y = batches(data, args.batch_size, args.context)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if first is None:
            first = loss.item()
        last = loss.item()
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {last:.3f}  (uniform: {math.log(vocab):.3f})")
    sample = generate(model, stoi, itos, "it was the ", 60, args.context)
    print("sample:", repr(sample))
    return first, last, sample


if __name__ == "__main__":
    main()
