#!/usr/bin/python3
"""Golden values of the WGAN-GP gradient penalty (Gulrajani et al. 2017) from PyTorch.

objective/golden_test.go builds the same two critics with wakesleep's nn package
in float32 and compares its penalty and the penalty's gradient with respect to
every critic weight with the values written here.

Regenerate (from the repository root; needs PyTorch, tested with 1.13):

    /usr/bin/python3 scripts/golden_wgangp.py

It is deterministic: the same PyTorch version writes the same bytes. It writes,
for each case NAME in {wgangp_mlp, wgangp_conv}:

    objective/testdata/NAME.json   metadata, scalars and a directory of tensors
    objective/testdata/NAME.bin    the tensors, little-endian, concatenated

Each directory entry is {"name", "dtype" ("float32" or "float64"), "shape",
"offset" (bytes into the .bin)}.

Cases (batch 8):
  mlp:  the global critic of the paper's Fig. 3B on concat(x, z), x 784-dim,
        z 128-dim: Linear(912,512), LeakyReLU(0.2), Linear(512,512),
        LeakyReLU(0.2), Linear(512,512), LeakyReLU(0.2), Linear(512,1).
  conv: a critic of the CIFAR-10 experiment's form on [B,1,28,28]:
        Conv2d(1,16,k4,s2,p1), LeakyReLU(0.2), PixelNorm, Conv2d(16,32,k4,s2,p1),
        LeakyReLU(0.2), PixelNorm, flatten, Linear(1568,1),
        PixelNorm(h) = h / sqrt(mean_c h² + 1e-8).

Precision: inputs and weights are float32 values (what the Go side trains in);
the reference is computed from them in float64, so that the Go test measures
its own float32 error. The same computation in float32 PyTorch is compared
with the reference too and its error is recorded ("torch_float32_rel_err") as
the floor any float32 implementation can be expected to reach.

Keeping the files small (< 2 MB together):
  * The MLP's weights (994k values, 4 MB in float32) are not stored. They come
    from a counter-based generator that is ten lines in any language
    (SplitMix64, below; goldenWeights in golden_test.go), with power-of-two
    scales so that every value is exact in float32; the JSON holds the seed,
    the scale and float64 checksums the Go side verifies first.
  * The MLP's critic is piecewise linear in its input, so ∇ₓD does not depend
    on the biases and, for each hidden weight matrix W_l [out, in], the
    penalty reaches W_l only through the product g_l·W_l, where g_l [B, out]
    is the adjoint of layer l's pre-activation: dP/dW_l = g_lᵀ·M_l has rank at
    most B = 8. Those gradients are stored as exact rank-8 factors L [out, 8],
    R [8, in] from a float64 SVD of PyTorch's gradient, with the reconstruction
    error ‖L·R − G‖/‖G‖ recorded ("lowrank_residual", ~1e-16) and asserted.
    The bias gradients are then exactly zero (or unused), stored as "zero".
  * The conv critic's gradients are stored in full.
"""

import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

BATCH = 8
SLOPE = 0.2
PIXELNORM_EPS = 1e-8
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "objective", "testdata")

# SplitMix64 (Steele, Lea & Flood 2014), counter-based: element i of a stream
# with seed s is mix(s + (i+1)·γ) mod 2⁶⁴.
GAMMA = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)


def splitmix_uniform(seed, n):
    """n values in [-1, 1): (2·u − 1) with u = (bits >> 40)/2²⁴, exact in float32."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, n + 1, dtype=np.uint64) * GAMMA
        z = (z ^ (z >> np.uint64(30))) * M1
        z = (z ^ (z >> np.uint64(27))) * M2
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    return 2.0 * u - 1.0


def generated(seed, scale, shape):
    n = int(np.prod(shape))
    v = (splitmix_uniform(seed, n) * scale).astype(np.float32)
    assert np.all(v.astype(np.float64) == splitmix_uniform(seed, n) * scale), "generated weights not exact in float32"
    return v.reshape(shape)


class Writer:
    """Collects tensors into one .bin and a directory for the .json."""

    def __init__(self):
        self.buf = bytearray()
        self.dir = []

    def add(self, name, t, dtype):
        a = np.ascontiguousarray(t.detach().cpu().numpy() if torch.is_tensor(t) else t)
        a = a.astype("<f4" if dtype == "float32" else "<f8")
        self.dir.append({"name": name, "dtype": dtype, "shape": list(a.shape), "offset": len(self.buf)})
        self.buf += a.tobytes()

    def write(self, case, meta):
        meta["tensors"] = self.dir
        meta["bin"] = case + ".bin"
        with open(os.path.join(OUT_DIR, case + ".bin"), "wb") as f:
            f.write(bytes(self.buf))
        with open(os.path.join(OUT_DIR, case + ".json"), "w") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
            f.write("\n")


def penalty(critic, params, wake, sleep, alpha):
    """WGAN-GP penalty without λ, returning (P, D(x̂), ‖∇‖ per sample, dP/dparams)."""
    hats = []
    for w, s in zip(wake, sleep):
        a = alpha.reshape([alpha.shape[0]] + [1] * (w.dim() - 1))
        hats.append((a * w.detach() + (1 - a) * s.detach()).requires_grad_(True))
    d = critic(hats)
    grads = torch.autograd.grad(d.sum(), hats, create_graph=True)
    sq = sum(g.reshape(g.shape[0], -1).pow(2).sum(1) for g in grads)
    norm = sq.sqrt()
    p = (norm - 1).pow(2).mean()
    pg = torch.autograd.grad(p, params, allow_unused=True)
    return p, d, norm, pg


def rel(a, b):
    a, b = a.double(), b.double()
    nb = b.norm().item()
    return (a - b).norm().item() / nb if nb > 0 else (a - b).norm().item()


def run_case(case, critic_fn, named_params, wake, sleep, alpha, meta, writer, lowrank=()):
    """Computes the reference in float64, checks float32 PyTorch against it, stores."""
    names = [n for n, _ in named_params]
    p64 = [v.double().clone().requires_grad_(True) for _, v in named_params]
    P, dhat, norm, pg = penalty(lambda h: critic_fn(p64, h), p64, [w.double() for w in wake],
                                [s.double() for s in sleep], alpha.double())
    with torch.no_grad():
        dwake = critic_fn(p64, [w.double() for w in wake])
        dsleep = critic_fn(p64, [s.double() for s in sleep])
    # The same in float32 PyTorch, as the floor a float32 implementation can reach.
    p32 = [v.float().clone().requires_grad_(True) for _, v in named_params]
    P32, dhat32, _, pg32 = penalty(lambda h: critic_fn(p32, h), p32, wake, sleep, alpha)
    errs = {"penalty": rel(P32, P), "d_hat": rel(dhat32, dhat)}
    for n, g32, g in zip(names, pg32, pg):
        if g is not None:
            errs["grad." + n] = rel(g32, g)
    meta["torch_float32_rel_err"] = errs
    meta["torch_float32_max_rel_err"] = max(errs.values())
    meta["penalty"] = P.item()
    meta["grad_norm"] = norm.tolist()

    for n, w in zip(["x", "z"], wake):
        writer.add("wake." + n, w, "float32")
    for n, s in zip(["x", "z"], sleep):
        writer.add("sleep." + n, s, "float32")
    writer.add("alpha", alpha, "float32")
    writer.add("d_wake", dwake, "float64")
    writer.add("d_sleep", dsleep, "float64")
    writer.add("d_hat", dhat, "float64")
    writer.add("grad_norm", norm, "float64")
    grads = {}
    for n, (_, v), g in zip(names, named_params, pg):
        if g is None or g.abs().max().item() == 0:
            # Unused by the penalty (PyTorch returns None) or exactly zero.
            grads[n] = {"zero": True, "unused": g is None}
            continue
        if n in lowrank:
            u, s, vh = torch.linalg.svd(g.detach(), full_matrices=False)
            r = BATCH
            left, right = u[:, :r] * s[:r], vh[:r]
            resid = rel(left @ right, g)
            assert resid < 1e-12, f"{case} {n}: rank-{r} residual {resid}"
            writer.add("grad." + n + ".left", left, "float64")
            writer.add("grad." + n + ".right", right, "float64")
            grads[n] = {"lowrank": r, "lowrank_residual": resid,
                        "singular_values_ratio": (s[r].item() / s[0].item()) if len(s) > r else 0.0}
        else:
            writer.add("grad." + n, g, "float64")
            grads[n] = {}
    meta["grads"] = grads
    meta["params"] = names
    writer.write(case, meta)
    print(f"{case}: penalty {P.item():.6g}, grad norms {[round(x, 4) for x in norm.tolist()]}, "
          f"torch float32 max rel err {meta['torch_float32_max_rel_err']:.3g}")


def kink_margin(pre):
    """Smallest |pre-activation| at the interpolates: LeakyReLU's kink must be
    far from every unit, or float32 rounding could flip a slope."""
    return min(h.abs().min().item() for h in pre)


def mlp_case():
    torch.manual_seed(20240601)
    dims = [912, 512, 512, 512, 1]
    # Power-of-two scales near PyTorch's 1/√fan_in (so values are exact in
    # float32); 1/16 on the hidden layers keeps ‖∇ₓD‖ well away from 1.
    scales = [2.0 ** -5, 2.0 ** -4, 2.0 ** -4, 2.0 ** -4]
    named, gen = [], {}
    for l in range(4):
        for kind, shape in (("weight", [dims[l + 1], dims[l]]), ("bias", [dims[l + 1]])):
            name = f"fc{l + 1}.{kind}"
            seed = 1000 + 2 * l + (kind == "bias")
            v = generated(seed, scales[l], shape)
            named.append((name, torch.from_numpy(v)))
            gen[name] = {"seed": seed, "scale": scales[l], "shape": shape,
                         "sum": float(v.astype(np.float64).sum()),
                         "sumsq": float((v.astype(np.float64) ** 2).sum())}
    wake = [torch.rand(BATCH, 784), torch.randn(BATCH, 128)]
    sleep = [torch.rand(BATCH, 784), torch.randn(BATCH, 128)]
    alpha = torch.rand(BATCH, 1)

    pre = []

    def critic(ps, inputs):
        h = torch.cat(inputs, 1)
        for l in range(4):
            h = F.linear(h, ps[2 * l], ps[2 * l + 1])
            if l < 3:
                pre.append(h.detach())
                h = F.leaky_relu(h, SLOPE)
        return h

    with torch.no_grad():
        a = alpha.double()
        critic([v.double() for _, v in named],
               [a * w.double() + (1 - a) * s.double() for w, s in zip(wake, sleep)])
    margin = kink_margin(pre)
    assert margin > 1e-5, f"mlp: a pre-activation {margin} is at LeakyReLU's kink; change the seed"
    meta = {
        "case": "mlp",
        "description": "WGAN-GP penalty of the Fig. 3B global critic on concat(x, z), batch 8",
        "architecture": "cat(x[B,784], z[B,128]) -> Linear(912,512) -> LeakyReLU(0.2) -> Linear(512,512) -> "
                        "LeakyReLU(0.2) -> Linear(512,512) -> LeakyReLU(0.2) -> Linear(512,1)",
        "regenerate": "/usr/bin/python3 scripts/golden_wgangp.py",
        "torch_version": torch.__version__,
        "batch": BATCH,
        "slope": SLOPE,
        "generated_weights": gen,
        "generator": "SplitMix64: w_i = scale * (2 * (mix(seed + (i+1)*0x9E3779B97F4A7C15) >> 40) / 2^24 - 1), "
                     "i over the row-major elements",
        "kink_margin": margin,
    }
    run_case("wgangp_mlp", critic, named, wake, sleep, alpha, meta, Writer(),
             lowrank=("fc1.weight", "fc2.weight", "fc3.weight"))


def pixel_norm(h):
    return h / (h.pow(2).mean(1, keepdim=True) + PIXELNORM_EPS).sqrt()


def conv_case():
    torch.manual_seed(20240602)
    conv1 = torch.nn.Conv2d(1, 16, 4, 2, 1)
    conv2 = torch.nn.Conv2d(16, 32, 4, 2, 1)
    fc = torch.nn.Linear(32 * 7 * 7, 1)
    named = [("conv1.weight", conv1.weight), ("conv1.bias", conv1.bias),
             ("conv2.weight", conv2.weight), ("conv2.bias", conv2.bias),
             ("fc.weight", fc.weight), ("fc.bias", fc.bias)]
    named = [(n, v.detach().float().clone()) for n, v in named]
    wake = [torch.rand(BATCH, 1, 28, 28)]
    sleep = [torch.rand(BATCH, 1, 28, 28)]
    alpha = torch.rand(BATCH, 1)

    pre = []

    def critic(ps, inputs):
        h = inputs[0]
        h = F.conv2d(h, ps[0], ps[1], stride=2, padding=1)  # [B,16,14,14]
        pre.append(h.detach())
        h = pixel_norm(F.leaky_relu(h, SLOPE))
        h = F.conv2d(h, ps[2], ps[3], stride=2, padding=1)  # [B,32,7,7]
        pre.append(h.detach())
        h = pixel_norm(F.leaky_relu(h, SLOPE))
        return F.linear(h.flatten(1), ps[4], ps[5])  # [B,1]

    with torch.no_grad():
        a = alpha.double().reshape(BATCH, 1, 1, 1)
        critic([v.double() for _, v in named], [a * wake[0].double() + (1 - a) * sleep[0].double()])
    margin = kink_margin(pre)
    assert margin > 1e-6, f"conv: a pre-activation {margin} is at LeakyReLU's kink; change the seed"
    writer = Writer()
    for n, v in named:
        writer.add("param." + n, v, "float32")
    meta = {
        "case": "conv",
        "description": "WGAN-GP penalty of a conv critic with pixel norm, batch 8",
        "architecture": "x[B,1,28,28] -> Conv2d(1,16,k4,s2,p1) -> LeakyReLU(0.2) -> PixelNorm -> "
                        "Conv2d(16,32,k4,s2,p1) -> LeakyReLU(0.2) -> PixelNorm -> flatten -> Linear(1568,1)",
        "pixel_norm_eps": PIXELNORM_EPS,
        "regenerate": "/usr/bin/python3 scripts/golden_wgangp.py",
        "torch_version": torch.__version__,
        "batch": BATCH,
        "slope": SLOPE,
        "kink_margin": margin,
    }
    # Only x here: the loader maps the first input to "x".
    run_case("wgangp_conv", critic, named, wake, sleep, alpha, meta, writer)


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT_DIR, exist_ok=True)
    mlp_case()
    conv_case()
    total = sum(os.path.getsize(os.path.join(OUT_DIR, f)) for f in os.listdir(OUT_DIR) if f.startswith("wgangp_"))
    print(f"wrote {OUT_DIR}: {total} bytes")
    assert total < 2 << 20, "golden files exceed 2 MB"


if __name__ == "__main__":
    sys.exit(main())
