#!/usr/bin/python3
"""Golden values of torch.optim.Adam for optim/adam_test.go.

Regenerate (from the repository root; needs PyTorch, tested with 1.13):

    /usr/bin/python3 scripts/golden_adam.py

Deterministic. Writes optim/testdata/adam.json: the paper's Adam (A.1.2:
β1 = 0.5, β2 = 0.99, weight decay 2e-5, as L2 added to the gradient, which is
what torch.optim.Adam's weight_decay does) with lr 1e-3 and eps 1e-8, run for
5 steps on two small parameters with fixed gradients given here (one of them
exactly zero in places, so that weight decay alone moves those entries). For
each dtype (float64, float32) it records the parameters after every step and
the moments (exp_avg, exp_avg_sq) after the last. A second run ("lr_change")
lowers the learning rate to 5e-4 before step 4, as a schedule would.

All inputs are float32 values, so both dtypes start from the same numbers.
"""

import json
import os

import torch

STEPS = 5
CONFIG = {"lr": 1e-3, "betas": [0.5, 0.99], "eps": 1e-8, "weight_decay": 2e-5}
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "optim", "testdata", "adam.json")


def run(init, grads, dtype, lr_change):
    params = [torch.tensor(v, dtype=dtype).requires_grad_(True) for v in init]
    opt = torch.optim.Adam(params, lr=CONFIG["lr"], betas=tuple(CONFIG["betas"]), eps=CONFIG["eps"],
                           weight_decay=CONFIG["weight_decay"])
    after = []
    for step in range(STEPS):
        if lr_change and step == 3:
            for group in opt.param_groups:
                group["lr"] = 5e-4
        for p, g in zip(params, grads[step]):
            p.grad = torch.tensor(g, dtype=dtype)
        opt.step()
        after.append([p.detach().tolist() for p in params])
    st = [opt.state[p] for p in params]
    return {
        "params_after_step": after,
        "exp_avg": [s["exp_avg"].tolist() for s in st],
        "exp_avg_sq": [s["exp_avg_sq"].tolist() for s in st],
        "step": int(st[0]["step"]),
    }


def main():
    torch.manual_seed(7)
    shapes = [[2, 3], [3]]
    init = [torch.randn(s).tolist() for s in shapes]
    grads = []
    for step in range(STEPS):
        gs = []
        for s in shapes:
            g = torch.randn(s) * (0.1 if step % 2 else 2.0)
            gs.append(g)
        gs[1][1] = 0.0  # decay alone moves this entry
        grads.append([g.tolist() for g in gs])
    out = {
        "description": "torch.optim.Adam, paper hyperparameters (A.1.2), 5 steps on fixed gradients",
        "regenerate": "/usr/bin/python3 scripts/golden_adam.py",
        "torch_version": torch.__version__,
        "config": CONFIG,
        "lr_change": {"before_step": 4, "lr": 5e-4},
        "shapes": shapes,
        "init": init,
        "grads": grads,
    }
    for name, dtype in (("float64", torch.float64), ("float32", torch.float32)):
        out[name] = run(init, grads, dtype, False)
        out[name + "_lr_change"] = run(init, grads, dtype, True)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
