#!/usr/bin/env python3
"""PyTorch peer for `cargo bench --bench engine`: the identical TabDDPM denoiser (MLPDiffusion:
input 107, time embedding 128, label embedding, [Linear -> ReLU] blocks, AdamW), timed on the
same machine in the same run; with Opacus installed, also a DP-SGD step with ghost clipping
(Opacus's fastest per-sample clipping). Prints a table, or JSON with --json (read by the Rust
bench).

Run: python3 benches/torch_peer.py [--json] [--quick]   (needs torch; uses 2 threads or
$SYNTHVOL_TORCH_THREADS)."""
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

D_IN, DIM_T, N_CLASSES = 107, 128, 2


def timestep_embedding(t, dim, max_period=10000):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class MLPDiffusion(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.proj = nn.Linear(D_IN, DIM_T)
        self.time_embed = nn.Sequential(nn.Linear(DIM_T, DIM_T), nn.SiLU(), nn.Linear(DIM_T, DIM_T))
        self.label_emb = nn.Embedding(N_CLASSES, DIM_T)
        blocks, prev = [], DIM_T
        for w in layers:
            blocks += [nn.Linear(prev, w), nn.ReLU()]
            prev = w
        self.mlp = nn.Sequential(*blocks, nn.Linear(prev, D_IN))

    def forward(self, x, t, y):
        emb = self.time_embed(timestep_embedding(t, DIM_T)) + F.silu(self.label_emb(y))
        return self.mlp(self.proj(x) + emb)


class RowMSE(nn.Module):
    """Mean squared error per row; Opacus's ghost clipping sets `reduction` to get per-row losses."""

    def __init__(self):
        super().__init__()
        self.reduction = "mean"

    def forward(self, a, b):
        d = ((a - b) ** 2).mean(dim=1)
        if self.reduction == "mean":
            return d.mean()
        if self.reduction == "sum":
            return d.sum()
        return d


def setup(layers, batch):
    """A seeded model, its AdamW optimiser, and one random batch (x, target, t, y)."""
    torch.manual_seed(0)
    model = MLPDiffusion(layers)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    x = torch.randn(batch, D_IN)
    target = torch.randn(batch, D_IN)
    t = torch.randint(0, 1000, (batch,))
    y = torch.randint(0, N_CLASSES, (batch,))
    return model, opt, x, target, t, y


def opacus_ghost_step(layers, batch, reps):
    """Median DP-SGD step with Opacus ghost clipping (sigma = 1, C = 1), or None without Opacus."""
    try:
        from opacus import PrivacyEngine
    except ImportError:
        return None
    import warnings

    warnings.filterwarnings("ignore")
    model, opt, x, target, t, y = setup(layers, batch)
    data = torch.utils.data.TensorDataset(x, t, y, target)
    loader = torch.utils.data.DataLoader(data, batch_size=batch)
    engine = PrivacyEngine(accountant="rdp")
    model, opt, criterion, loader = engine.make_private(
        module=model, optimizer=opt, data_loader=loader, criterion=RowMSE(),
        noise_multiplier=1.0, max_grad_norm=1.0, grad_sample_mode="ghost", poisson_sampling=False,
    )

    def step():
        opt.zero_grad(set_to_none=True)
        loss = criterion(model(x, t, y), target)
        loss.backward()
        opt.step()

    return time_steps(step, reps)


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def time_steps(step, reps):
    """Median time of `step` over `reps` calls after one warm-up call."""
    step()
    times = []
    for _ in range(reps):
        s = time.perf_counter()
        step()
        times.append(time.perf_counter() - s)
    return median(times)


def bench(layers, batch, train_reps, fwd_reps):
    model, opt, x, target, t, y = setup(layers, batch)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(model(x, t, y), target)
        loss.backward()
        opt.step()

    train_s = time_steps(step, train_reps)
    xs, ts, ys = torch.randn(10_000, D_IN), torch.full((10_000,), 500), torch.randint(0, N_CLASSES, (10_000,))
    with torch.no_grad():
        forward_s = time_steps(lambda: model(xs, ts, ys), fwd_reps)
    ghost = opacus_ghost_step(layers, batch, max(2, train_reps // 2))
    return {"train_s": train_s, "sample_forward_s": forward_s, "opacus_ghost_s": ghost, "params": sum(p.numel() for p in model.parameters())}


def main():
    torch.set_num_threads(int(os.environ.get("SYNTHVOL_TORCH_THREADS", "2")))
    quick = "--quick" in sys.argv
    out = {
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "big": bench([256, 1024, 1024, 1024, 1024, 256], 1024, 3 if quick else 10, 2 if quick else 5),
        "small": bench([256, 256], 256, 50 if quick else 300, 5 if quick else 20),
    }
    if "--json" in sys.argv:
        print(json.dumps(out))
    else:
        for k in ("big", "small"):
            r = out[k]
            ghost = f", Opacus ghost-clipping DP step {r['opacus_ghost_s']*1e3:.2f} ms" if r["opacus_ghost_s"] else ""
            print(f"{k}: {r['params']} params, train step {r['train_s']*1e3:.2f} ms, forward@10k {r['sample_forward_s']*1e3:.1f} ms{ghost}")


if __name__ == "__main__":
    main()
