"""The MNIST training step of wakesleep, written in PyTorch, for timing.

This mirrors train.Trainer.TrainStep (train/trainer.go) with the objectives of
objective/mnist.go and objective/penalty.go, op for op:

  1. phases, recorded (gradients reach the networks): wake x → z ~ q(z|x);
     sleep z ~ N(0, I) → x ~ p(x|z); for the local critics also the top-down
     reconstruction x̂ ~ p(x|z_wake).
  2. critic loss on the detached phases: −(weighted adversarial values) +
     λ·(WGAN-GP penalties weighted like their terms), with double backprop;
     gradients w.r.t. the critic parameters, finiteness checks, Adam step.
  3. network loss against the updated critics, reusing the recorded phases;
     gradients w.r.t. inference and generation parameters, checks, Adam step.

Shapes are the paper's (A.1.3): inference 784→512→2·64 and 64→512→2·64,
generation 64→512→2·784 and 784→512→2·784, one recurrent step, mean merge,
softplus standard deviations; critics of 3 hidden layers of 512, LeakyReLU 0.2.
Adam (β = 0.5, 0.99, L2 weight decay 2e-5; lr 1e-4 networks, 4e-4 critics),
λ = 1, one critic update per network update, batch 512. The weights are drawn
by PyTorch's default initialisation (not the Go model's), which does not
change the work.

Run with the python that has torch (Debian's python3-torch 1.13):

    /usr/bin/python3 bench/torch_mnist.py --algo global --steps 10

OPENBLAS_NUM_THREADS is set to 1 (before torch loads OpenBLAS) unless it is
already set, and torch.set_num_threads(2): matrix products on one OpenBLAS
thread, elementwise kernels on torch's two OpenMP threads. Prints one JSON
object in the format of bench/gostep.
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402  (after the environment is set)
from torch import nn  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
import wakesleep_torch as ws  # noqa: E402

XDIM, ZDIM, HIDDEN, STEPS = 784, 64, 512, 1  # model.DefaultMNISTConfig
CRITIC_WIDTH, CRITIC_DEPTH, SLOPE = 512, 3, 0.2
PENALTY_EPS = 1e-12  # objective/penalty.go penaltyEps


# The networks are interop/wakesleep_torch.py's, the module that loads trained
# models: model.RecurrentStochastic (a sample, then Steps mean-merged
# recurrent samples, softplus standard deviations) and model.MLPCritic.
Recurrent = ws.RecurrentStochastic


def Critic(d_in, width, depth):
    return ws.MLPCritic(d_in, width, depth, SLOPE)


def ws_value(d_wake, d_sleep):  # Eq. 4 (and Eq. 7, same form)
    return d_wake.mean() - d_sleep.mean()


def combined(gamma, ws, osc, recon=None):  # Eq. 8
    local = osc if recon is None else osc + recon
    return ws * gamma + local * (1 - gamma)


def gradient_penalty(critic, wake, sleep, alpha):
    """objective.GradientPenalty: joint ‖∇D‖ over all inputs, (‖∇‖ − 1)² mean."""
    b = wake[0].shape[0]
    hats = [(alpha * w + (1 - alpha) * s).requires_grad_() for w, s in zip(wake, sleep)]
    d = critic(hats)
    grads = torch.autograd.grad(d.sum(), hats, create_graph=True)
    sq = None
    for g in grads:
        s = g.square().reshape(b, -1).sum(1)
        sq = s if sq is None else sq + s
    norm = torch.sqrt(sq + PENALTY_EPS)
    return (norm - 1).square().mean()


class Model(nn.Module):
    def __init__(self, algo):
        super().__init__()
        self.algo = algo
        self.inference = Recurrent(XDIM, HIDDEN, ZDIM, STEPS)
        self.generator = Recurrent(ZDIM, HIDDEN, XDIM, STEPS)
        if algo == "global":
            self.joint = Critic(XDIM + ZDIM, CRITIC_WIDTH, CRITIC_DEPTH)
        else:
            self.critic_x = Critic(XDIM, CRITIC_WIDTH, CRITIC_DEPTH)
            self.critic_z = Critic(ZDIM, CRITIC_WIDTH, CRITIC_DEPTH)

    def network_parameters(self):
        return list(self.inference.parameters()) + list(self.generator.parameters())

    def critic_parameters(self):
        if self.algo == "global":
            return list(self.joint.parameters())
        return list(self.critic_x.parameters()) + list(self.critic_z.parameters())


def run_phases(m, x):
    """objective.RunPhases."""
    p = {"wx": x, "wz": m.inference(x)}
    p["sz"] = torch.randn(x.shape[0], ZDIM)
    p["sx"] = m.generator(p["sz"])
    if m.algo != "global":
        p["tx"] = m.generator(p["wz"])
    return p


def critic_loss(m, ph, gamma, lam):
    """objective.CriticLoss, on detached phases."""
    p = {k: v.detach() for k, v in ph.items()}
    b = p["wx"].shape[0]
    t = {}
    if m.algo == "global":
        joint = lambda ins: m.joint(torch.cat(ins, 1))  # noqa: E731
        ws = ws_value(joint([p["wx"], p["wz"]]), joint([p["sx"], p["sz"]]))
        gp = gradient_penalty(joint, [p["wx"], p["wz"]], [p["sx"], p["sz"]], torch.rand(b, 1))
        t["critic_xz/ws"], t["critic_xz/gp"] = ws.item(), gp.item()
        return -ws + gp * lam, t
    cx = lambda ins: m.critic_x(ins[0])  # noqa: E731
    cz = lambda ins: m.critic_z(ins[0])  # noqa: E731
    dx = m.critic_x(p["wx"])
    ws_x = ws_value(dx, m.critic_x(p["sx"]))
    o_x = ws_value(dx, m.critic_x(p["tx"]))
    gp_ws_x = gradient_penalty(cx, [p["wx"]], [p["sx"]], torch.rand(b, 1))
    gp_o_x = gradient_penalty(cx, [p["wx"]], [p["tx"]], torch.rand(b, 1))
    loss_x = -combined(gamma, ws_x, o_x) + combined(gamma, gp_ws_x, gp_o_x) * lam
    o_z = ws_value(m.critic_z(p["wz"]), m.critic_z(p["sz"]))
    gp_z = gradient_penalty(cz, [p["wz"]], [p["sz"]], torch.rand(b, 1))
    loss_z = -o_z + gp_z * lam
    t["critic_x/ws"], t["critic_x/osc"] = ws_x.item(), o_x.item()
    t["critic_x/gp"] = gamma * gp_ws_x.item() + (1 - gamma) * gp_o_x.item()
    t["critic_z/osc"], t["critic_z/gp"] = o_z.item(), gp_z.item()
    return loss_x + loss_z, t


def network_loss(m, p, gamma, recon_weight):
    """objective.NetworkLoss, through the recorded phases."""
    t = {}
    if m.algo == "global":
        ws = ws_value(m.joint(torch.cat([p["wx"], p["wz"]], 1)), m.joint(torch.cat([p["sx"], p["sz"]], 1)))
        t["net/ws"] = ws.item()
        return ws, t
    dx, fx = m.critic_x.forward_features(p["wx"])
    dr, fr = m.critic_x.forward_features(p["tx"])
    ws_x = ws_value(dx, m.critic_x(p["sx"]))
    o_x = ws_value(dx, dr)
    recon = (fx.detach() - fr).square().mean() * recon_weight
    o_z = ws_value(m.critic_z(p["wz"]), m.critic_z(p["sz"]))
    loss = combined(gamma, ws_x, o_x, recon) + combined(gamma, o_z, o_z)
    t["net/ws_x"], t["net/osc_x"], t["net/recon_x"], t["net/osc_z"] = ws_x.item(), o_x.item(), recon.item(), o_z.item()
    return loss, t


def update(loss, params, opt, what):
    """train.Trainer.grads + Adam.Update + checkParams."""
    v = loss.item()
    if v != v or abs(v) == float("inf"):
        raise FloatingPointError(what + " is not finite")
    grads = torch.autograd.grad(loss, params)
    for g in grads:
        if not torch.isfinite(g).all():
            raise FloatingPointError("gradient of " + what)
    for p, g in zip(params, grads):
        p.grad = g
    opt.step()
    for p in params:
        if not torch.isfinite(p).all():
            raise FloatingPointError(what + " parameter after the update")


class Trainer:
    def __init__(self, algo):
        self.m = Model(algo)
        self.gamma = {"global": 1.0, "local": 0.0, "combined": 0.1}[algo]
        self.lam, self.recon_weight = 1.0, 1.0
        self.net_params, self.critic_params = self.m.network_parameters(), self.m.critic_parameters()
        self.net_opt = torch.optim.Adam(self.net_params, lr=1e-4, betas=(0.5, 0.99), eps=1e-8, weight_decay=2e-5)
        self.critic_opt = torch.optim.Adam(self.critic_params, lr=4e-4, betas=(0.5, 0.99), eps=1e-8, weight_decay=2e-5)

    def step(self, x):
        terms = {}
        phases = run_phases(self.m, x)
        closs, ct = critic_loss(self.m, phases, self.gamma, self.lam)
        update(closs, self.critic_params, self.critic_opt, "critic loss")
        terms.update(ct)
        terms["critic/loss"] = closs.item()
        nloss, nt = network_loss(self.m, phases, self.gamma, self.recon_weight)
        update(nloss, self.net_params, self.net_opt, "network loss")
        terms.update(nt)
        terms["net/loss"] = nloss.item()
        return terms


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024
    return 0.0


def matmul_flops(trainer, x):
    """Sums the FLOPs torch's profiler counts for the matrix products of one step."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        trainer.step(x)
    total = 0
    for e in prof.key_averages():
        if e.key in ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul"):
            total += e.flops
    return total


def time_steps(step, x, warmup, steps):
    """Runs step(x) warmup times untimed, then steps times; returns the wall
    and CPU milliseconds of each timed step."""
    for _ in range(warmup):
        step(x)
    times, cpu = [], []
    for _ in range(steps):
        c0, t0 = time.process_time(), time.perf_counter()
        step(x)
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    return times, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--algo", default="global", choices=["global", "local", "combined"])
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--count-flops", action="store_true", help="print the profiler's matmul FLOPs of one step and exit")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    tr = Trainer(args.algo)
    x = torch.rand(args.batch, XDIM)
    if args.count_flops:
        tr.step(x)
        print(json.dumps({"algo": args.algo, "batch": args.batch, "matmul_flops": matmul_flops(tr, x)}))
        return
    times, cpu = time_steps(tr.step, x, args.warmup, args.steps)
    res = {
        "impl": f"torch {torch.__version__} (OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, {torch.get_num_threads()} threads)",
        "algo": args.algo,
        "batch": args.batch,
        "times_ms": [round(t, 3) for t in times],
        "cpu_ms": [round(t, 3) for t in cpu],
        "median_ms": statistics.median(times),
        "median_cpu_ms": statistics.median(cpu),
        "peak_rss_mib": peak_rss_mib(),
        "network_params": sum(p.numel() for p in tr.net_params),
        "critic_params": sum(p.numel() for p in tr.critic_params),
    }
    json.dump(res, sys.stdout)
    print()


if __name__ == "__main__":
    main()
