"""The CIFAR-10 and Moving MNIST training steps of wakesleep, in PyTorch, for timing.

    go run ./bench/gostep -model cifar10 -preset quick -print-config > /tmp/c.json
    /usr/bin/python3 bench/torch_steps.py --config /tmp/c.json --steps 3
    /usr/bin/python3 bench/torch_steps.py --sgemm 2048 --threads 2   # torch.mm's rate

The model is the one a wakesleep config.json describes (what bench/gostep
-print-config writes, or any run folder's config.json), built by
interop/wakesleep_torch.py (describe_config, then build: the networks with
wakesleep's parameter names, tested against Go in experiment/interop_test.go).
This file adds the objectives and the update, op for op as Go's
train.Trainer.TrainStep with objective/cifar10.go, objective/movingmnist.go
and objective/penalty.go:

  1. phases, recorded (gradients reach the networks);
  2. critic loss on the detached phases, WGAN-GP penalties with double
     backprop, finiteness checks, Adam step of the critics;
  3. network loss against the updated critics through the recorded phases,
     checks, Adam step of the networks.

CIFAR-10 (objective.RunHierPhases, CIFAR10CriticLoss, CIFAR10NetworkLoss):
each layer critic sees its layer's wake, sleep and top-down samples in one
batch (criticOn); the penalty is GradientPenalty's, per term. Moving MNIST
(RunVideoPhases, VideoCriticLoss, VideoNetworkLoss): closed-loop rollout of
context + horizon frames, a sleep dream of sleep_steps, and each critic run
once, in training mode (batch norm), on every phase's samples plus the
penalty's interpolates (penalisedCritic). The weights are drawn by PyTorch's
default initialisation, which does not change the work.

OPENBLAS_NUM_THREADS is set to 1 (before torch loads OpenBLAS) unless it is
already set, and torch.set_num_threads(--threads), as bench/torch_mnist.py.
Prints one JSON object in the format of bench/gostep.
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402  (after the environment is set)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_mnist as tm  # noqa: E402  (its objective helpers; it puts interop/ on the path)
import wakesleep_torch as ws  # noqa: E402

ws_value = tm.ws_value  # Eq. 4 and Eq. 7: E[D(a)] − E[D(b)]
combined = tm.combined  # Eq. 8


def feature_reconstruction(truth, recon):
    """objective.FeatureReconstruction: mean of the squared differences."""
    return (truth - recon).square().mean()


def alpha_like(x):
    """objective.InterpolationWeights [B, 1], reshaped to broadcast over x's trailing axes."""
    return torch.rand(x.shape[0], *([1] * (x.dim() - 1)))


def adam(params, c):
    return torch.optim.Adam(params, lr=c["learning_rate"], betas=(c["beta1"], c["beta2"]), eps=c["eps"],
                            weight_decay=c["weight_decay"])


# ---------------------------------------------------------------------------
# CIFAR-10


def critic_on(c, *zs):
    """objective.criticOn: one call on the concatenation, split back."""
    b = zs[0].shape[0]
    d, f = c.forward_features(torch.cat(zs, 0))
    return [d[k * b:(k + 1) * b] for k in range(len(zs))], [f[k * b:(k + 1) * b] for k in range(len(zs))]


class CIFAR10Step:
    def __init__(self, m, cfg):
        self.m, self.o = m, cfg["objective"]
        self.net_params = list(m.inference.parameters()) + list(m.generation.parameters())
        self.critic_params = list(m.critic.parameters())

    def phases(self, x):
        """objective.RunHierPhases."""
        m, L = self.m, self.m.layers
        p = {"wake": m.infer(x)}
        p["sleep"] = m.generate(m.prior(x.shape[0]))
        p["top"] = [m.generate_step(i, p["wake"][i + 1]) for i in range(L)] + [p["sleep"][L]]
        return p

    def critic_loss(self, ph):
        """objective.CIFAR10CriticLoss."""
        p = {k: [v.detach() for v in vs] for k, vs in ph.items()}
        g, lam, L = self.o["gamma"], self.o["lambda"], self.m.layers
        total, t = None, {}
        for i in range(L + 1):
            c, name = self.m.critic[i], f"critic_{i}"
            w = p["wake"][i]
            if i == L:
                ds, _ = critic_on(c, w, p["sleep"][i])
                osc = ws_value(ds[0], ds[1])
                gp = tm.gradient_penalty(lambda ins: c(ins[0]), [w], [p["sleep"][i]], alpha_like(w))
                loss = -osc + gp * lam
                t[name + "/osc"], t[name + "/gp"] = osc.item(), gp.item()
            else:
                ds, _ = critic_on(c, w, p["sleep"][i], p["top"][i])
                wsv, osc = ws_value(ds[0], ds[1]), ws_value(ds[0], ds[2])
                gp_ws = tm.gradient_penalty(lambda ins: c(ins[0]), [w], [p["sleep"][i]], alpha_like(w))
                gp_o = tm.gradient_penalty(lambda ins: c(ins[0]), [w], [p["top"][i]], alpha_like(w))
                loss = -combined(g, wsv, osc) + combined(g, gp_ws, gp_o) * lam
                t[name + "/ws"], t[name + "/osc"] = wsv.item(), osc.item()
                t[name + "/gp"] = g * gp_ws.item() + (1 - g) * gp_o.item()
            total = loss if total is None else total + loss
        return total, t

    def network_loss(self, p):
        """objective.CIFAR10NetworkLoss."""
        g, w, L = self.o["gamma"], self.o["recon_weight"], self.m.layers
        total, t = None, {}
        for i in range(L + 1):
            c = self.m.critic[i]
            if i == L:
                ds, _ = critic_on(c, p["wake"][i], p["sleep"][i])
                osc = ws_value(ds[0], ds[1])
                loss = combined(g, osc, osc)
                t[f"net/osc_{i}"] = osc.item()
            else:
                ds, fs = critic_on(c, p["wake"][i], p["sleep"][i], p["top"][i])
                wsv, osc = ws_value(ds[0], ds[1]), ws_value(ds[0], ds[2])
                recon = feature_reconstruction(fs[0].detach(), fs[2]) * w
                loss = combined(g, wsv, osc, recon)
                t[f"net/ws_{i}"], t[f"net/osc_{i}"], t[f"net/recon_{i}"] = wsv.item(), osc.item(), recon.item()
            total = loss if total is None else total + loss
        return total, t


# ---------------------------------------------------------------------------
# Moving MNIST


def joint_critic(c, *xs):
    """objective.jointCritic: D in training mode on the concatenation, split back."""
    d, f = c.forward_features(torch.cat(xs, 0), training=True)
    ds, fs, off = [], [], 0
    for x in xs:
        n = x.shape[0]
        ds.append(d[off:off + n])
        fs.append(f[off:off + n])
        off += n
    return ds, fs


def penalised_critic(c, samples, pairs):
    """objective.penalisedCritic: D once on the samples and one interpolate
    set per pair; the penalty of each pair from one double backward."""
    hats = []
    for a, b in pairs:
        al = alpha_like(a)
        hats.append((al * a.detach() + (1 - al) * b.detach()).detach().requires_grad_())
    alls, _ = joint_critic(c, *samples, *hats)
    ds = alls[:len(samples)]
    d_hat = None
    for d in alls[len(samples):]:
        d_hat = d.sum() if d_hat is None else d_hat + d.sum()
    grads = torch.autograd.grad(d_hat, hats, create_graph=True)
    gps = []
    for h, gr in zip(hats, grads):
        norm = torch.sqrt(gr.square().reshape(h.shape[0], -1).sum(1) + tm.PENALTY_EPS)
        gps.append((norm - 1).square().mean())
    return ds, gps


class MovingMNISTStep:
    def __init__(self, m, cfg):
        self.m, self.o = m, cfg["objective"]
        self.net_params = [p for mod in (m.encoder, m.decoder, m.readout1, m.readout2) for p in mod.parameters()]
        self.critic_params = list(m.critic_x.parameters()) + list(m.critic_z.parameters())

    def phases(self, frames):
        """objective.RunVideoPhases."""
        o = self.o
        c, p, k = o["context"], o["horizon"], o["sleep_steps"]
        zs, preds = self.m.rollout(frames, c, p, o.get("teacher_forcing", False))
        ph = {"true_x": torch.cat(frames[c:c + p], 0), "pred_x": torch.cat(preds[c:c + p], 0),
              "wake_z": torch.cat(zs[c - k:c], 0)}
        sx, sz = self.m.dream(frames[0].shape[0], k)
        ph["sleep_x"], ph["sleep_z"] = torch.cat(sx, 0), torch.cat(sz, 0)
        return ph

    def critic_loss(self, ph):
        """objective.VideoCriticLoss."""
        p = {k: v.detach() for k, v in ph.items()}
        g, lam = self.o["gamma"], self.o["lambda"]
        ds, gp_x = penalised_critic(self.m.critic_x, [p["true_x"], p["sleep_x"], p["pred_x"]],
                                    [(p["true_x"], p["sleep_x"]), (p["true_x"], p["pred_x"])])
        ws_x, o_x = ws_value(ds[0], ds[1]), ws_value(ds[0], ds[2])
        loss_x = -combined(g, ws_x, o_x) + combined(g, gp_x[0], gp_x[1]) * lam
        dz, gp_z = penalised_critic(self.m.critic_z, [p["wake_z"], p["sleep_z"]], [(p["wake_z"], p["sleep_z"])])
        ws_z = ws_value(dz[0], dz[1])
        loss_z = (-ws_z + gp_z[0] * lam) * g
        t = {"critic_x/ws": ws_x.item(), "critic_x/osc": o_x.item(),
             "critic_x/gp": g * gp_x[0].item() + (1 - g) * gp_x[1].item(),
             "critic_z/ws": ws_z.item(), "critic_z/gp": gp_z[0].item()}
        return loss_x + loss_z, t

    def network_loss(self, p):
        """objective.VideoNetworkLoss."""
        g = self.o["gamma"]
        ds, fs = joint_critic(self.m.critic_x, p["true_x"], p["sleep_x"], p["pred_x"])
        ws_x, o_x = ws_value(ds[0], ds[1]), ws_value(ds[0], ds[2])
        recon = feature_reconstruction(fs[0], fs[2]) * self.o["recon_weight"]
        dz, _ = joint_critic(self.m.critic_z, p["wake_z"], p["sleep_z"])
        ws_z = ws_value(dz[0], dz[1])
        loss = combined(g, ws_x + ws_z, o_x, recon)
        with torch.no_grad():
            mse = (p["pred_x"] - p["true_x"]).square().mean().item()
        t = {"net/ws_x": ws_x.item(), "net/ws_z": ws_z.item(), "net/osc_x": o_x.item(),
             "net/recon_x": recon.item(), "pred/mse": mse}
        return loss, t


# ---------------------------------------------------------------------------


class Trainer:
    """train.Trainer.TrainStep with one critic update per network update."""

    def __init__(self, cfg):
        if cfg.get("critic_steps", 1) != 1:
            raise ValueError(f"critic_steps {cfg['critic_steps']}: this mirror does one critic update per step")
        self.m = ws.build(ws.describe_config(cfg))
        exp = cfg["experiment"]
        self.obj = {"cifar10": CIFAR10Step, "movingmnist": MovingMNISTStep}[exp](self.m, cfg)
        self.net_opt = adam(self.obj.net_params, cfg["network_adam"])
        self.critic_opt = adam(self.obj.critic_params, cfg["critic_adam"])

    def step(self, x):
        phases = self.obj.phases(x)
        closs, terms = self.obj.critic_loss(phases)
        tm.update(closs, self.obj.critic_params, self.critic_opt, "critic loss")
        terms["critic/loss"] = closs.item()
        nloss, nt = self.obj.network_loss(phases)
        tm.update(nloss, self.obj.net_params, self.net_opt, "network loss")
        terms.update(nt)
        terms["net/loss"] = nloss.item()
        return terms


def batch_of(cfg):
    b = cfg["batch_size"]
    m = cfg["model"]
    if cfg["experiment"] == "cifar10":
        return torch.rand(b, m["image_channels"], m["image_size"], m["image_size"]) * 2 - 1
    s = m["frame_size"]
    return [torch.rand(b, 1, s, s) for _ in range(cfg["data"]["frames"])]


def time_sgemm(n, warmup, steps):
    """torch.mm of two n×n float32 matrices: median and best GFLOP/s."""
    a, b = torch.rand(n, n) * 2 - 1, torch.rand(n, n) * 2 - 1
    for _ in range(warmup):
        torch.mm(a, b)
    ms = []
    for _ in range(max(steps, 1)):
        t0 = time.perf_counter()
        torch.mm(a, b)
        ms.append((time.perf_counter() - t0) * 1e3)
    flops = 2.0 * n ** 3
    return {"impl": f"torch {torch.__version__}", "n": n, "threads": torch.get_num_threads(),
            "openblas_threads": os.environ["OPENBLAS_NUM_THREADS"], "times_ms": ms,
            "median_gflops": flops / statistics.median(ms) / 1e6, "best_gflops": flops / min(ms) / 1e6}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", help="a wakesleep config.json of a cifar10 or movingmnist run")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--sgemm", type=int, default=0, help="time torch.mm of two N×N matrices instead")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.sgemm > 0:
        print(json.dumps(time_sgemm(args.sgemm, args.warmup, args.steps)))
        return
    if not args.config:
        ap.error("--config (or --sgemm) is required")
    with open(args.config) as f:
        cfg = json.load(f)
    if cfg.get("experiment") not in ("cifar10", "movingmnist"):
        ap.error(f"{args.config}: experiment {cfg.get('experiment')!r}: this mirror has cifar10 and movingmnist "
                 "(MNIST is bench/torch_mnist.py)")
    torch.manual_seed(1)
    tr = Trainer(cfg)
    x = batch_of(cfg)
    times, cpu = tm.time_steps(tr.step, x, args.warmup, args.steps)
    res = {
        "impl": f"torch {torch.__version__} (OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, "
                f"{torch.get_num_threads()} threads)",
        "model": cfg["experiment"],
        "batch": cfg["batch_size"],
        "times_ms": [round(t, 3) for t in times],
        "cpu_ms": [round(t, 3) for t in cpu],
        "median_ms": statistics.median(times),
        "median_cpu_ms": statistics.median(cpu),
        "peak_rss_mib": tm.peak_rss_mib(),
        "network_params": sum(p.numel() for p in tr.obj.net_params),
        "critic_params": sum(p.numel() for p in tr.obj.critic_params),
    }
    json.dump(res, sys.stdout)
    print()


if __name__ == "__main__":
    main()
