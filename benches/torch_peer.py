#!/usr/bin/env python3
"""PyTorch peer for `cargo bench --bench engine`: the identical TabDDPM denoiser (MLPDiffusion:
input 107, time embedding 128, label embedding, [Linear -> ReLU] blocks, AdamW), timed on the
same machine in the same run; with Opacus installed, also a DP-SGD step with ghost clipping
(Opacus's fastest per-sample clipping). Prints a table, or JSON with --json (read by the Rust
bench).

Three kinds of step are timed. TabDDPM's sampling step (`sample_s`) runs the network on
10,000 rows and takes the Gaussian and multinomial posterior updates (TabDDPMSampler); the bare
forward pass is kept as `sample_forward_s`. Two kinds of training step: the full TabDDPM
step does the work synthvol's step does: draw the batch (a shuffled slice, or Poisson rows
with rate q = 1/4 of 4 batches' rows under DP), draw t, noise the numeric columns and resample
the one-hot blocks (the forward process), run the network, and take the mixed loss (MSE on the noise + per-block KL to the true posterior, or the
decoder NLL at t = 0) and its gradient. The network-only step (`*_mse_*` keys) runs the network
on one fixed batch with an MSE loss: a lower bound on what a user's PyTorch step costs.

Run: python3 benches/torch_peer.py [--json] [--quick] [--serve]   (needs torch; uses 2 threads or
$SYNTHVOL_TORCH_THREADS).

`--gpu` (benches/gpu.rs) times the same steps on CUDA (eager mode, every step waited for):
the Adult network's training step at batch 4096, the small network's at batch 256, and
sampling 1,000,000 rows of [512, 512] with T = 200 (TabDDPM's sampling step at 32,768 rows a
step, scaled), as JSON."""
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

D_IN, DIM_T, N_CLASSES = 107, 128, 2
# The benchmark's Adult-like layout (benches/engine.rs): 6 numeric columns, then one-hot blocks.
N_NUM, BLOCKS = 6, [9, 16, 7, 15, 6, 5, 2, 41]
T_STEPS = 1000


def generator(seed):
    """A seeded generator on the default device (CUDA under --gpu)."""
    dev = torch.get_default_device() if hasattr(torch, "get_default_device") else "cpu"
    return torch.Generator(device=dev).manual_seed(seed)


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


class TabDDPM:
    """Cosine schedule, forward process and mixed loss of TabDDPM, vectorised over the one-hot
    blocks by padding each block to the widest one (padding masked out of every sum)."""

    def __init__(self):
        s = 0.008
        f = lambda t: math.cos(((t / T_STEPS + s) / (1 + s)) * math.pi / 2) ** 2
        beta = [min(1 - f(i + 1) / f(i), 0.999) for i in range(T_STEPS)]
        ab, acc = [], 1.0
        for b in beta:
            acc *= 1 - b
            ab.append(acc)
        self.alpha = torch.tensor([1 - b for b in beta], dtype=torch.float32)
        self.ab = torch.tensor(ab, dtype=torch.float32)
        self.ab_prev = torch.cat([torch.ones(1), self.ab[:-1]])
        nb, kmax = len(BLOCKS), max(BLOCKS)
        self.kmax = kmax
        self.mask = torch.zeros(nb, kmax)
        idx = torch.zeros(nb, kmax, dtype=torch.long)
        flat, off = [], N_NUM
        for b, k in enumerate(BLOCKS):
            self.mask[b, :k] = 1
            idx[b, :k] = torch.arange(off, off + k)
            flat += [b * kmax + i for i in range(k)]
            off += k
        self.col = idx  # model-output column of each padded slot
        self.flat = torch.tensor(flat)  # padded slot of each one-hot column
        self.k = torch.tensor(BLOCKS, dtype=torch.float32)[:, None]

    def one_hot(self, cats):
        return torch.zeros(cats.shape[0], len(BLOCKS), self.kmax).scatter_(2, cats[..., None], 1.0)

    def forward_process(self, x_num, cats):
        """Draws t, noises the rows; returns the model inputs and the loss's per-row targets."""
        n = x_num.shape[0]
        t = torch.randint(0, T_STEPS, (n,))
        ab = self.ab[t][:, None]
        eps = torch.randn(n, N_NUM)
        xt_num = ab.sqrt() * x_num + (1 - ab).sqrt() * eps
        x0 = self.one_hot(cats)
        probs = (ab[..., None] * x0 + (1 - ab[..., None]) / self.k) * self.mask
        cdf = probs.cumsum(-1)
        u = torch.rand(n, len(BLOCKS), 1) * cdf[..., -1:]
        xt_cat = (cdf <= u).sum(-1).clamp_max(self.k[:, 0].long() - 1)
        xt = self.one_hot(xt_cat)
        flat = lambda h: h.reshape(n, -1)[:, self.flat]
        x_in = torch.cat([xt_num, flat(xt)], 1)
        coef = torch.stack([self.alpha[t], self.ab_prev[t], (t == 0).float()], 1)
        return x_in, t, torch.cat([eps, flat(x0), flat(xt), coef], 1)

    def row_loss(self, out, aux):
        """Per-row loss: mean squared noise error + mean over blocks of the multinomial term."""
        n, w = out.shape[0], D_IN - N_NUM
        eps, x0f, xtf = aux[:, :N_NUM], aux[:, N_NUM:N_NUM + w], aux[:, N_NUM + w:N_NUM + 2 * w]
        a, wp, t0 = (aux[:, -3 + i][:, None, None] for i in range(3))
        lg = ((out[:, :N_NUM] - eps) ** 2).mean(1)
        pad = lambda f: torch.zeros(n, len(BLOCKS) * self.kmax).index_copy_(1, self.flat, f).view(n, len(BLOCKS), self.kmax)
        x0, xt = pad(x0f), pad(xtf)
        z = out[:, self.col].masked_fill(self.mask == 0, float("-inf"))
        p = torch.softmax(z, -1)
        b = (a * xt + (1 - a) / self.k) * self.mask
        un = (wp * p + (1 - wp) / self.k) * self.mask * b
        log_pi = (un / un.sum(-1, keepdim=True)).clamp_min(1e-30).log()
        th = (wp * x0 + (1 - wp) / self.k) * self.mask * b
        th = th / th.sum(-1, keepdim=True)
        kl = (torch.xlogy(th, th) - th * log_pi).sum(-1)
        nll = -(x0 * log_pi).sum(-1)
        lm = torch.where(t0[:, :, 0] > 0, nll, kl).mean(1)
        return lg + lm


class DiffusionLoss(nn.Module):
    """TabDDPM's loss as a criterion; Opacus's ghost clipping sets `reduction` to get per-row losses."""

    def __init__(self, diff):
        super().__init__()
        self.diff = diff
        self.reduction = "mean"

    def forward(self, out, aux):
        d = self.diff.row_loss(out, aux)
        if self.reduction == "mean":
            return d.mean()
        if self.reduction == "sum":
            return d.sum()
        return d


class TabDDPMSampler:
    """TabDDPM's own sampling step (GaussianMultinomialDiffusion.p_sample and its multinomial
    counterpart) on `rows` rows at once: the network's forward pass, the Gaussian posterior mean
    from the predicted noise with TabDDPM's variance (the posterior variance at t = 1, beta_t
    after) and its noise, and for every one-hot block the log-space posterior
    q(x_{t-1} | x_t, x0 = softmax of the network's logits), normalised per block, sampled with
    Gumbel noise and turned back into one-hot log probabilities. The element-wise work runs on
    the 101 one-hot columns as TabDDPM's does; only the per-block log-sum-exp and argmax go
    through blocks padded to the widest one (a vectorised form of TabDDPM's sliced logsumexp and
    its loop over blocks)."""

    def __init__(self, diff, model, rows):
        self.d, self.model, self.rows = diff, model, rows
        ab, ab_prev, alpha = diff.ab, diff.ab_prev, diff.alpha
        beta = 1 - alpha
        post_var = beta * (1 - ab_prev) / (1 - ab)
        self.log_var = torch.cat([post_var[1:2], beta[1:]]).log()
        self.c0 = ab_prev.sqrt() * beta / (1 - ab)  # posterior mean coefficient of x0
        self.ct = alpha.sqrt() * (1 - ab_prev) / (1 - ab)  # and of x_t
        self.log_alpha, self.log_1m_alpha = alpha.log(), (1 - alpha).clamp_min(1e-30).log()
        self.log_ab, self.log_1m_ab = ab.log(), (1 - ab).clamp_min(1e-30).log()
        self.block = torch.repeat_interleave(torch.arange(len(BLOCKS)), torch.tensor(BLOCKS))
        self.log_k = torch.tensor(BLOCKS, dtype=torch.float32).log()[self.block]
        self.offsets = torch.tensor([sum(BLOCKS[:b]) for b in range(len(BLOCKS))])
        self.width = sum(BLOCKS)
        g = generator(2)
        self.x_num = torch.randn(rows, N_NUM, generator=g)
        cats = torch.stack([torch.randint(0, k, (rows,), generator=g) for k in BLOCKS], 1)
        self.log_x = self.to_log(cats)
        self.y = torch.randint(0, N_CLASSES, (rows,), generator=g)
        self.t = T_STEPS - 1

    def to_log(self, cats):
        """TabDDPM's index_to_log_onehot: log(one-hot clamped at 1e-30), on the flat columns."""
        out = torch.full((cats.shape[0], self.width), math.log(1e-30))
        return out.scatter_(1, cats + self.offsets, 0.0)

    def padded(self, z):
        out = torch.full((z.shape[0], len(BLOCKS) * self.d.kmax), float("-inf"))
        return out.index_copy_(1, self.d.flat, z).view(z.shape[0], len(BLOCKS), self.d.kmax)

    def normalise(self, z):
        """z minus its block's log-sum-exp, column by column."""
        return z - torch.logsumexp(self.padded(z), -1)[:, self.block]

    def step(self):
        t = self.t
        n, d = self.rows, self.d
        out = self.model(torch.cat([self.x_num, self.log_x.exp()], 1), torch.full((n,), t), self.y)
        # Gaussian part: x0 from the predicted noise, the posterior mean, TabDDPM's variance.
        eps = out[:, :N_NUM]
        x0 = (self.x_num - (1 - d.ab[t]).sqrt() * eps) / d.ab[t].sqrt()
        mean = self.c0[t] * x0 + self.ct[t] * self.x_num
        noise = torch.randn(n, N_NUM) if t > 0 else torch.zeros(n, N_NUM)
        self.x_num = mean + (0.5 * self.log_var[t]).exp() * noise
        # Multinomial part, in log space.
        log_x0 = self.normalise(out[:, N_NUM:])
        if t > 0:
            ev = torch.logaddexp(log_x0 + self.log_ab[t - 1], self.log_1m_ab[t - 1] - self.log_k)
        else:
            ev = log_x0
        one = torch.logaddexp(self.log_x + self.log_alpha[t], self.log_1m_alpha[t] - self.log_k)
        log_post = self.normalise(ev + one)
        u = torch.rand_like(log_post)
        gumbel = -torch.log(-torch.log(u + 1e-30) + 1e-30)
        cats = self.padded(log_post + gumbel).argmax(-1)
        self.log_x = self.to_log(cats)
        self.t = t - 1 if t > 0 else T_STEPS - 1


def sample_step_fn(layers, rows=10_000):
    """One TabDDPM sampling step of `rows` rows per call, walking t down from T - 1."""
    model, *_ = setup(layers, 1)
    sampler = TabDDPMSampler(TabDDPM(), model, rows)

    def step():
        with torch.no_grad():
            sampler.step()

    return step


def tab_data(n):
    """n rows: numeric columns, category codes per block, labels."""
    g = generator(1)
    x_num = torch.rand(n, N_NUM, generator=g) * 2 - 1
    cats = torch.stack([torch.randint(0, k, (n,), generator=g) for k in BLOCKS], 1)
    return x_num, cats, torch.randint(0, N_CLASSES, (n,), generator=g)


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


def tabddpm_step_fns(layers, batch):
    """The full TabDDPM step, non-private and (with Opacus) DP with ghost clipping (None
    without Opacus), as functions that each run one step."""
    diff = TabDDPM()
    n = 4 * batch
    x_num, cats, y = tab_data(n)
    model, opt, *_ = setup(layers, batch)
    crit = DiffusionLoss(diff)
    perm, cursor = torch.randperm(n), 0

    def step():
        nonlocal perm, cursor
        if cursor + batch > n:
            perm, cursor = torch.randperm(n), 0
        idx = perm[cursor:cursor + batch]
        cursor += batch
        x_in, t, aux = diff.forward_process(x_num[idx], cats[idx])
        opt.zero_grad(set_to_none=True)
        crit(model(x_in, t, y[idx]), aux).backward()
        opt.step()

    try:
        from opacus import PrivacyEngine
    except ImportError:
        return step, None
    import warnings

    warnings.filterwarnings("ignore")
    dp_model, dp_opt, *_ = setup(layers, batch)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_num, cats, y), batch_size=batch)
    dp_model, dp_opt, dp_crit, _ = PrivacyEngine(accountant="rdp").make_private(
        module=dp_model, optimizer=dp_opt, data_loader=loader, criterion=DiffusionLoss(diff),
        noise_multiplier=1.0, max_grad_norm=1.0, grad_sample_mode="ghost", poisson_sampling=False,
    )

    def dp_step():
        idx = (torch.rand(n) < 0.25).nonzero().squeeze(1)  # Poisson rows, as synthvol's DP step
        x_in, t, aux = diff.forward_process(x_num[idx], cats[idx])
        dp_opt.zero_grad(set_to_none=True)
        dp_crit(dp_model(x_in, t, y[idx]), aux).backward()
        dp_opt.step()

    return step, dp_step


def tabddpm_steps(layers, batch, reps, ghost_reps):
    """Median full TabDDPM step, non-private and (with Opacus) DP with ghost clipping."""
    step, dp_step = tabddpm_step_fns(layers, batch)
    return time_steps(step, reps), (time_steps(dp_step, ghost_reps) if dp_step else None)


NETS = {"big": ([256, 1024, 1024, 1024, 1024, 256], 1024), "small": ([256, 256], 256)}


def serve():
    """Times blocks of steps on request, so that the Rust bench can alternate its blocks with
    ours (the machine's speed drifts within a run). Reads lines `NET train|ghost|sample N`,
    answers with the mean seconds per step over N steps (after 0.1 s of untimed steps: steps
    right after a pause run slower), or `none` when Opacus is missing. `sample` is TabDDPM's
    sampling step of 10,000 rows."""
    fns = {}
    print("ready", flush=True)
    for line in sys.stdin:
        net, kind, reps = line.split()
        if (net, kind) not in fns:
            if kind == "sample":
                fns[net, kind] = sample_step_fn(NETS[net][0])
            else:
                train, ghost = tabddpm_step_fns(*NETS[net])
                fns[net, "train"], fns[net, "ghost"] = train, ghost
        f = fns[net, kind]
        if f is None:
            print("none", flush=True)
            continue
        warm = time.perf_counter()
        while time.perf_counter() - warm < 0.1:  # the Rust side's WARM_UP
            f()
        s = time.perf_counter()
        for _ in range(int(reps)):
            f()
        print((time.perf_counter() - s) / int(reps), flush=True)


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
    sample_s = time_steps(sample_step_fn(layers), fwd_reps)
    ghost_mse = opacus_ghost_step(layers, batch, max(2, train_reps // 2))
    full, full_ghost = tabddpm_steps(layers, batch, train_reps, max(2, train_reps // 2))
    return {
        "sample_s": sample_s,
        "train_s": full,
        "opacus_ghost_s": full_ghost,
        "train_mse_s": train_s,
        "opacus_ghost_mse_s": ghost_mse,
        "sample_forward_s": forward_s,
        "params": sum(p.numel() for p in model.parameters()),
    }


def gpu_figures(quick):
    """PyTorch eager on CUDA: seconds per training step, and per million sampled rows."""
    torch.set_default_device("cuda")

    def timed(f, reps):
        f()
        torch.cuda.synchronize()
        s = time.perf_counter()
        for _ in range(reps):
            f()
        torch.cuda.synchronize()
        return (time.perf_counter() - s) / reps

    out = {"version": torch.__version__, "device": torch.cuda.get_device_name()}
    for key, layers, batch in (("big", NETS["big"][0], 4096), ("small", NETS["small"][0], 256)):
        train, _ = tabddpm_step_fns(layers, batch)
        out[key] = {"train_s": timed(train, 10 if quick else 50)}
    rows = 32_768
    step = sample_step_fn([512, 512], rows)
    per_step = timed(step, 10 if quick else 40)
    out["sample"] = {"step_s": per_step, "million_s": per_step * 200 * 1_000_000 / rows}
    return out


def main():
    torch.set_num_threads(int(os.environ.get("SYNTHVOL_TORCH_THREADS", "2")))
    if "--serve" in sys.argv:
        return serve()
    if "--gpu" in sys.argv:
        print(json.dumps(gpu_figures("--quick" in sys.argv)))
        return
    quick = "--quick" in sys.argv
    out = {
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "big": bench(*NETS["big"], 3 if quick else 10, 2 if quick else 5),
        "small": bench(*NETS["small"], 50 if quick else 300, 5 if quick else 20),
    }
    if "--json" in sys.argv:
        print(json.dumps(out))
    else:
        for k in ("big", "small"):
            r = out[k]
            ms = lambda key: f"{r[key] * 1e3:.2f} ms" if r[key] else "(no Opacus)"
            print(f"{k}: {r['params']} params, at 10,000 rows: sampling step {r['sample_s']*1e3:.1f} ms, forward pass {r['sample_forward_s']*1e3:.1f} ms")
            print(f"  full TabDDPM step: train {ms('train_s')}, Opacus ghost-clipping DP {ms('opacus_ghost_s')}")
            print(f"  network only (MSE, fixed batch): train {ms('train_mse_s')}, Opacus ghost-clipping DP {ms('opacus_ghost_mse_s')}")


if __name__ == "__main__":
    main()
