#!/usr/bin/env python3
"""train_pytorch.py -- the model l1b-train trains, written in PyTorch, to time
training steps side by side with l1b (see tests/bench/train-vs-pytorch.sh).

usage: train_pytorch.py [--quant f32|absmean] [-j N] [--blas-threads N] [--warmup-steps W]
                        [--steps N] [--total-steps S] [--eval-batches K] [--ddp N]
                        [shape and optimiser options] CORPUS

The model is l1b-train's (man/l1b-train.1), at its default shape, which is
nanoGPT's CPU shape: byte tokens (vocabulary 257: the 256 byte values plus
l1b's end-of-document id, which this corpus never contains, kept so that the
embedding and head have l1b's exact shape), width 128, 4 layers, 4 heads,
SwiGLU feed-forward of width 352 (8*128/3 rounded up to a multiple of 32),
context 64, batch 12.  Each block is pre-norm:

    x = x + Wo . attention(rmsnorm(x))     causal, RoPE on q and k
    x = x + Wdown . (silu(Wgate . n) * Wup . n),   n = rmsnorm(x)

then a last RMSNorm and an untied float head.  RMSNorm: x / sqrt(mean(x^2) +
1e-5) * gain.  RoPE: LLaMA's adjacent pairs (2j, 2j+1) of each head, angle
p * 10000^(-2j/head_size).  No biases.  Initialisation: normal(0, 0.02), Wo
and Wdown 0.02/sqrt(2L); gains 1.

--quant absmean (the default, as in l1b): the seven block matrices are
BitLinear layers.  Forward: gamma = mean|W| per matrix, Wq = clip(round(W /
(gamma + 1e-8)), -1, 1) * gamma; activations per token s = 127 /
max(max|x|, 1e-5), xq = clip(round(x * s), -128, 127) / s; y = xq . Wq^T.
Backward: straight-through estimator (both quantisers count as the identity).
--quant f32: ordinary float linear layers.  Embedding, norms and head stay
float either way.  Layers that read the same input (q, k, v; gate, up) are
run as one matrix multiply (each matrix still quantised on its own), which
is the same arithmetic and the faster way in PyTorch.

Optimiser as in l1b-train: AdamW (betas 0.9, 0.95, eps 1e-8, weight decay 0.1
on the block matrices and the head only), global gradient-norm clipping at 1,
linear warm-up over 100 steps then cosine decay from 1e-3 to 1e-4 at the end
of a schedule of --total-steps steps.

Data: CORPUS is read as bytes; the first 90% is trained on, in random windows
of ctx+1 bytes (ctx inputs, ctx targets shifted by one).  With
--eval-batches K (K > 0, or -1 for all) the model is evaluated after training
on consecutive windows from the start of the last 10% (l1b-train's
evaluation) and the mean validation loss in nats per byte is printed.

Threads: torch.set_num_threads(N) and OMP_NUM_THREADS=N for -j N, and
OPENBLAS_NUM_THREADS set before torch is imported to --blas-threads (default
N): Debian's OpenBLAS (pthread build) keeps a thread pool of its own next to
torch's OpenMP one.

Timing: every step (drawing the batch, forward, backward, clipping, AdamW
update) is timed with a monotonic clock; the first --warmup-steps are
dropped and the median of the next --steps is reported as ms/step, with
tokens/s = batch * ctx / median.  Stdlib and torch only.

--ddp N: data-parallel training with DistributedDataParallel over N processes
on this machine (see tests/bench/mpi-vs-ddp.sh), as l1b-train under `mpirun
-np N`.  The script starts the N ranks itself (torch.multiprocessing.spawn),
backend gloo over the loopback interface (MASTER_ADDR 127.0.0.1, a free
MASTER_PORT, GLOO_SOCKET_IFNAME lo, unless set in the environment).  Each
rank builds the same model (same seed; DDP also broadcasts rank 0's weights),
draws its own --batch windows a step (its own random stream, seed + rank) and
has -j / --blas-threads threads of its own; DDP averages the gradients in the
backward (its bucketed all-reduce), then every rank clips and updates its
copy.  broadcast_buffers is off: the only buffers are the constant RoPE
tables and mask.  Each rank times its steps as above; a step's time is the
longest of the ranks' (gathered at the end), ms/step the median of those,
and tokens/s counts every rank's tokens: N * batch * ctx / median.  Only rank
0 prints; evaluation (--eval-batches) runs on rank 0 after training.
"""

import argparse
import math
import os
import struct
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(
        description="Train l1b's model in PyTorch and time the steps.")
    p.add_argument("corpus", help="text file, read as bytes")
    p.add_argument("--quant", choices=("absmean", "f32"), default="absmean")
    p.add_argument("-j", "--threads", type=int, default=1)
    p.add_argument("--blas-threads", type=int, default=0,
                   help="OpenBLAS's own threads (default: as -j)")
    p.add_argument("--warmup-steps", type=int, default=10,
                   help="untimed steps first (default 10)")
    p.add_argument("--steps", type=int, default=50,
                   help="timed steps after the warm-up (default 50)")
    p.add_argument("--total-steps", type=int, default=0,
                   help="steps to train in all and length of the lr schedule "
                        "(default and minimum: warmup-steps + steps)")
    p.add_argument("--eval-batches", type=int, default=0,
                   help="validation batches after training (0: none, -1: all)")
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--hidden", type=int, default=0,
                   help="SwiGLU width (default 8*dim/3 rounded up to 32)")
    p.add_argument("--ctx", type=int, default=64)
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--vocab", type=int, default=257)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=100, help="lr warm-up steps")
    p.add_argument("--wd", type=float, default=0.1)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--val-frac", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--ddp", type=int, default=0, metavar="N",
                   help="train with DistributedDataParallel on N local processes "
                        "(gloo; batch, -j and --blas-threads per process)")
    a = p.parse_args()
    if a.threads < 1:
        p.error("-j must be at least 1")
    if a.steps < 1 or a.warmup_steps < 0:
        p.error("--steps must be at least 1 and --warmup-steps at least 0")
    if a.dim % a.heads or (a.dim // a.heads) % 2:
        p.error("dim/heads must be a whole, even number")
    if a.ddp < 0:
        p.error("--ddp must be at least 1 (or 0: no DDP)")
    if a.vocab < 256:
        p.error("--vocab must be at least 256 (byte tokens)")
    if not a.hidden:
        a.hidden = ((8 * a.dim + 2) // 3 + 31) // 32 * 32
    a.total_steps = max(a.total_steps, a.warmup_steps + a.steps)
    return a


args = parse_args()
# Before torch loads: OpenBLAS (pthread build) sizes its pool from these.
os.environ["OMP_NUM_THREADS"] = str(args.threads)
os.environ["OPENBLAS_NUM_THREADS"] = str(args.blas_threads or args.threads)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def blas_in_use():
    """The BLAS/LAPACK libraries mapped into this process."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                name = os.path.basename(path)
                if "blas" in name or "lapack" in name or name.startswith("libmkl"):
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    return " ".join(sorted(libs)) or "unknown"


# ---- quantisers with straight-through gradients ---------------------------

def quant_weight(w):
    g = w.abs().mean()
    wq = (w / (g + 1e-8)).round().clamp(-1, 1) * g
    return w + (wq - w).detach()


def quant_act(x):
    s = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    xq = (x * s).round().clamp(-128, 127) / s
    return x + (xq - x).detach()


class Linears(nn.Module):
    """Several bias-free linear layers reading the same input, run as one
    matrix multiply; with absmean each matrix has its own scale."""

    def __init__(self, n_in, outs, std, ternary):
        super().__init__()
        self.outs = outs
        self.ternary = ternary
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.randn(o, n_in) * std) for o in outs])

    def forward(self, x):
        if self.ternary:
            x = quant_act(x)
            ws = [quant_weight(w) for w in self.weights]
        else:
            ws = list(self.weights)
        w = ws[0] if len(ws) == 1 else torch.cat(ws, 0)
        y = F.linear(x, w)
        return y if len(ws) == 1 else y.split(self.outs, dim=-1)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.gain = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.gain


def rope_tables(ctx, hs):
    inv = 10000.0 ** (-torch.arange(0, hs, 2, dtype=torch.float64) / hs)
    ang = torch.arange(ctx, dtype=torch.float64)[:, None] * inv[None, :]
    return ang.cos().float(), ang.sin().float()        # (ctx, hs/2)


def rope(x, cos, sin):
    """x: (B, NH, T, hs); rotate adjacent pairs (2j, 2j+1)."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, a, ternary):
        super().__init__()
        C, H, L = a.dim, a.hidden, a.layers
        self.nh = a.heads
        self.norm1 = RMSNorm(C)
        self.qkv = Linears(C, [C, C, C], 0.02, ternary)
        self.wo = Linears(C, [C], 0.02 / math.sqrt(2 * L), ternary)
        self.norm2 = RMSNorm(C)
        self.gate_up = Linears(C, [H, H], 0.02, ternary)
        self.down = Linears(H, [C], 0.02 / math.sqrt(2 * L), ternary)

    def forward(self, x, cos, sin, mask):
        B, T, C = x.shape
        hs = C // self.nh
        q, k, v = self.qkv(self.norm1(x))
        q = q.view(B, T, self.nh, hs).transpose(1, 2)
        k = k.view(B, T, self.nh, hs).transpose(1, 2)
        v = v.view(B, T, self.nh, hs).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        att = att.masked_fill(mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.wo(y)
        g, u = self.gate_up(self.norm2(x))
        return x + self.down(F.silu(g) * u)


class Model(nn.Module):
    def __init__(self, a):
        super().__init__()
        ternary = a.quant == "absmean"
        self.emb = nn.Parameter(torch.randn(a.vocab, a.dim) * 0.02)
        self.blocks = nn.ModuleList([Block(a, ternary) for _ in range(a.layers)])
        self.norm = RMSNorm(a.dim)
        self.head = nn.Parameter(torch.randn(a.vocab, a.dim) * 0.02)
        cos, sin = rope_tables(a.ctx, a.dim // a.heads)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        # a plain attribute, not a buffer: DDP broadcasts buffers at start,
        # and gloo has no bool type (the model lives on the CPU either way)
        self.mask = torch.ones(a.ctx, a.ctx, dtype=torch.bool).triu(1)

    def forward(self, idx, targets):
        T = idx.shape[1]
        cos, sin, mask = self.cos[:T], self.sin[:T], self.mask[:T, :T]
        x = self.emb[idx]
        for b in self.blocks:
            x = b(x, cos, sin, mask)
        logits = F.linear(self.norm(x), self.head)
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))


def lr_at(a, s):
    """l1b's schedule (lib/optim.c): linear warm-up, cosine to min-lr."""
    if s < a.warmup:
        return a.lr * (s + 1) / a.warmup
    if a.total_steps <= a.warmup or s >= a.total_steps:
        return a.min_lr
    p = (s - a.warmup) / (a.total_steps - a.warmup)
    return a.min_lr + (a.lr - a.min_lr) * 0.5 * (1.0 + math.cos(math.pi * p))


def run(rank, world):
    """Train and time; world = 0 without DDP, else this is rank `rank` of
    `world` DDP processes (the process group is set up by the caller)."""
    a = args
    lead = rank == 0
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    with open(a.corpus, "rb") as f:
        raw = f.read()
    n = len(raw)
    frac32 = struct.unpack("f", struct.pack("f", a.val_frac))[0]  # l1b keeps a float
    n_val = int(n * frac32)
    n_train = n - n_val
    if n_train < a.ctx + 2:
        sys.exit("train_pytorch.py: %s: too small for ctx %d" % (a.corpus, a.ctx))
    data = torch.frombuffer(bytearray(raw), dtype=torch.uint8).long()
    train, val = data[:n_train], data[n_train:]
    offs = torch.arange(a.ctx + 1)

    model = Model(a)
    decay = [p for name, p in model.named_parameters()
             if name == "head" or ".weights." in name]
    other = [p for name, p in model.named_parameters()
             if not (name == "head" or ".weights." in name)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd},
                             {"params": other, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    params = decay + other
    n_params = sum(p.numel() for p in params)
    gen = None
    net = model
    if world:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model, broadcast_buffers=False)
        gen = torch.Generator().manual_seed(a.seed + rank)
    say = print if lead else (lambda *x, **k: None)    # only rank 0 prints

    if world:
        say("ddp: %d ranks, backend %s, MASTER_ADDR %s, MASTER_PORT %s, GLOO_SOCKET_IFNAME %s; "
            "batch %d per rank"
            % (world, dist.get_backend(), os.environ.get("MASTER_ADDR"),
               os.environ.get("MASTER_PORT"), os.environ.get("GLOO_SOCKET_IFNAME", "unset"), a.batch))
    say("torch: %s (threads %d, interop %d, OPENBLAS_NUM_THREADS %s, OMP_WAIT_POLICY %s)"
        % (torch.__version__, torch.get_num_threads(), torch.get_num_interop_threads(),
           os.environ["OPENBLAS_NUM_THREADS"], os.environ.get("OMP_WAIT_POLICY", "unset")))
    say("blas: %s" % blas_in_use())
    say("model: dim %d, %d layers, %d heads, hidden %d, ctx %d, vocab %d, batch %d, %s; %d parameters"
        % (a.dim, a.layers, a.heads, a.hidden, a.ctx, a.vocab, a.batch, a.quant, n_params))
    sys.stdout.flush()

    times, losses = [], []
    model.train()
    for s in range(a.total_steps):
        t0 = time.perf_counter()
        ix = torch.randint(0, n_train - a.ctx, (a.batch,), generator=gen)
        w = train[ix[:, None] + offs]                  # (B, ctx+1)
        x, y = w[:, :-1], w[:, 1:]
        for g in opt.param_groups:
            g["lr"] = lr_at(a, s)
        loss = net(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if a.clip > 0:
            torch.nn.utils.clip_grad_norm_(params, a.clip)
        opt.step()
        lv = loss.item()
        times.append(time.perf_counter() - t0)
        losses.append(lv)
        if not math.isfinite(lv):
            sys.exit("train_pytorch.py: step %d: loss is not finite" % (s + 1))

    if world:   # a step takes as long as its slowest rank
        mine = torch.tensor(times, dtype=torch.float64)
        every = [torch.empty_like(mine) for _ in range(world)]
        dist.all_gather(every, mine)
        times = torch.stack(every).amax(dim=0).tolist()
    timed = sorted(times[a.warmup_steps:a.warmup_steps + a.steps])
    k = len(timed)
    med = timed[k // 2] if k % 2 else 0.5 * (timed[k // 2 - 1] + timed[k // 2])
    tokens = max(world, 1) * a.batch * a.ctx
    say("steps: %d warm-up + %d timed (%d trained)" % (a.warmup_steps, k, a.total_steps))
    say("ms_per_step: %.4f" % (1e3 * med))
    say("spread: %.4f" % ((timed[-1] - timed[0]) / med))
    say("tok_per_s: %.1f" % (tokens / med))
    say("train_loss_last: %.4f" % losses[-1])

    if a.eval_batches and lead:
        rows = (len(val) - 1) // a.ctx if len(val) > a.ctx else 0
        nb = rows // a.batch
        if a.eval_batches > 0:
            nb = min(nb, a.eval_batches)
        if nb == 0:
            say("val_loss: nan (validation part smaller than one batch)")
            return
        model.eval()
        tot = 0.0
        with torch.no_grad():
            for i in range(nb):
                st = (i * a.batch + torch.arange(a.batch)) * a.ctx
                w = val[st[:, None] + offs]
                tot += model(w[:, :-1], w[:, 1:]).item()
        say("val_batches: %d" % nb)
        say("val_loss: %.4f" % (tot / nb))


def ddp_rank(rank, world):
    import torch.distributed as dist
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        run(rank, world)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def free_port():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    if not args.ddp:
        run(0, 0)
        return
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(free_port()))
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    sys.stdout.flush()
    import torch.multiprocessing as mp
    try:
        mp.spawn(ddp_rank, args=(args.ddp,), nprocs=args.ddp, join=True)
    except Exception as e:     # a rank failed: its traceback, then one line
        lines = str(e).strip().splitlines()
        sys.stderr.write(str(e).rstrip() + "\n")
        sys.exit("train_pytorch.py: --ddp %d: %s" % (args.ddp, lines[-1] if lines else repr(e)))


if __name__ == "__main__":
    main()
