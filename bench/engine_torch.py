"""The tiny VLM of src/backend/engine/model.ts in PyTorch eager (CPU), timed the same way as bench/engine.ts:
forward (scoring: log-probs + entropy) and the training step (forward, the ALGORITHMS.md §5 loss, backward,
gradient clipping, AdamW). Driven over stdin by bench/engine.ts (see main).
Install on Debian: apt-get install -y python3-torch python3-numpy libopenblas0-openmp (run with /usr/bin/python3).
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["dModel"]
        self.h = c["nHeads"]
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.fc_proj = nn.Linear(d, c["dFF"]), nn.Linear(c["dFF"], d)

    def forward(self, x, bias):
        B, S, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (t.view(B, S, self.h, d // self.h).transpose(1, 2) for t in (q, k, v))
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d // self.h) + bias, dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(B, S, d))
        return x + self.fc_proj(quick_gelu(self.fc(self.ln2(x))))


class TinyVLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        d = c["dModel"]
        self.n_img = (c["imageSize"] // c["patchSize"]) ** 2
        self.patch = nn.Linear(c["channels"] * c["patchSize"] ** 2, d)
        self.tok = nn.Embedding(c["vocabSize"], d)
        self.pos = nn.Parameter(torch.randn(self.n_img + c["maxText"], d) * 0.02)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c["nLayers"]))
        self.lnf = nn.LayerNorm(d)
        self.head = nn.Linear(d, c["vocabSize"], bias=False)

    def forward(self, patches, text, blind):
        B, Tt = text.shape
        S = self.n_img + Tt
        x = torch.cat([self.patch(patches), self.tok(text)], 1) + self.pos[:S]
        causal = torch.full((S, S), -1e9).triu(1)
        img_keys = torch.zeros(S, S)
        img_keys[self.n_img:, : self.n_img] = -1e9
        bias = causal + blind.view(B, 1, 1, 1) * img_keys
        for blk in self.blocks:
            x = blk(x, bias)
        h = x[:, self.n_img - 1 : self.n_img - 1 + Tt]
        return torch.log_softmax(self.head(self.lnf(h)), -1)


def policy_loss(lp, text, mask, adv, old, n_tokens, clip_low=0.2, clip_high=0.28, dual=3.0, ent_coef=0.0):
    logp = lp.gather(-1, text.unsqueeze(-1)).squeeze(-1)
    ratio = torch.exp(torch.clamp((logp - old) * mask, -20, 20))
    pg1 = -adv * ratio
    pg2 = -adv * torch.clamp(ratio, 1 - clip_low, 1 + clip_high)
    pg = torch.maximum(pg1, pg2)
    pg = torch.where(adv < 0, torch.minimum(pg, -dual * adv), pg)
    return (pg * mask).sum() / n_tokens + ent_coef * (-logp * mask).sum() / n_tokens


def time_ms(fn, reps):
    """Wall and CPU (all threads of the process) milliseconds of each call."""
    ts, cpu = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return ts, cpu


def build(c, B, Tt):
    model = TinyVLM(c)
    n_img = model.n_img
    patches = torch.rand(B, n_img, c["channels"] * c["patchSize"] ** 2)
    text = torch.randint(0, c["vocabSize"], (B, Tt))
    blind = torch.zeros(B)
    mask = torch.zeros(B, Tt)
    mask[:, Tt // 4 :] = 1
    adv = torch.randn(B, Tt) * mask
    old = torch.full((B, Tt), -math.log(c["vocabSize"])) * mask
    n_tokens = float(mask.sum())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.01)

    def fwd():
        with torch.no_grad():
            lp = model(patches, text, blind)
            (lp.exp() * lp).sum(-1)

    def fwdbwd():
        opt.zero_grad(set_to_none=True)
        policy_loss(model(patches, text, blind), text, mask, adv, old, n_tokens).backward()

    def step():
        fwdbwd()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    return {"fwd": fwd, "fwdbwd": fwdbwd, "step": step}


def main():
    """Serves timing requests on stdin, one JSON line each, so the caller can interleave its own runs:
    {"threads": n} first, then {"name", "config", "batch", "text"} to build a model and
    {"name", "what": "fwd" | "fwdbwd" | "step", "reps"} to time it; every request is answered with one JSON line."""
    torch.manual_seed(0)
    models = {}
    for line in sys.stdin:
        req = json.loads(line)
        if "threads" in req:
            torch.set_num_threads(req["threads"])
            out = {"ok": True, "torch": torch.__version__}
        elif "config" in req:
            models[req["name"]] = build(req["config"], req["batch"], req["text"])
            for fn in models[req["name"]].values():
                fn()
            out = {"ok": True}
        else:
            ms, cpu = time_ms(models[req["name"]][req["what"]], req.get("reps", 1))
            out = {"ms": ms, "cpu": cpu}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
