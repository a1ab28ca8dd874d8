#!/usr/bin/env python3
"""Time wakesleep's MNIST training step against PyTorch's, side by side.

    python3 bench/compare.py                      # all three algorithms, batch 512
    python3 bench/compare.py --algos global --rounds 5

Builds bench/gostep twice (pure Go, and -tags openblas), then runs the three
implementations -- Go+OpenBLAS, pure Go, and bench/torch_mnist.py -- one
process at a time, alternating, for --rounds rounds per algorithm (the order
rotates each round), each process doing --warmup untimed steps and --steps
timed ones. Alternating spreads the machine's load changes over all three.
Prints, per algorithm, the median step time of each over all rounds, the
ratios, the achieved GFLOP/s, the median CPU time per step (all threads), and
the peak resident memory (VmHWM, the largest over the rounds).

Environment of every run: OPENBLAS_NUM_THREADS=1 (PyTorch's setting in the
benchmark, and the one BENCHMARKS.md recommends for ours: tensor.MatMul then
cuts large products into row blocks on GOMAXPROCS goroutines, and a backward
step runs its two products concurrently), torch with torch.set_num_threads(2).
--go-openblas-threads changes it for ours only.

FLOPs are counted analytically (matrix products only, which are all but a
fraction of a percent of the arithmetic): see matmul_flops below and
BENCHMARKS.md. The count is the work our engine does; PyTorch's profiler
counts 7-10% more for torch, which also multiplies the zero gradients of
leaky_relu_backward's double backward through the critic.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCH_PYTHON = "/usr/bin/python3"  # Debian's python3-torch

# The paper's MNIST model (model.DefaultMNISTConfig).
X, Z, H, CW, CD = 784, 128, 512, 512, 3


def matmul_flops(algo, b):
    """Multiply-adds ×2 of every matrix product of one training step.

    u(i, o) = 2·B·i·o is one pass of a dense layer i → o (forward, input
    adjoint or weight adjoint alike). With F_I, F_G the forward cost of
    inference and generation, D_c = Σ_layers u of critic c, C1 its first and
    C4 its last layer:

      global: 3F_I + 3F_G + 14D − 2C1 − C4 − u(784,512) − u(128,512)
      local:  3F_I + 6F_G + 22D_x − 3C1_x − 2C4_x + 13D_z − 2C1_z − C4_z
              − u(784,512) − u(128,512)

    (phases forward; critic step: forward passes, WGAN-GP input gradient,
    then its double backward, which needs the adjoints of the recorded
    backward's products but never those of the critic's forward; network
    step: forward through the updated critics, backward to φ and θ only;
    first-layer input adjoints of data and prior inputs are skipped.) It is
    exactly what tensor.MatMul is asked to compute (checked by counting).
    """

    def u(i, o):
        return 2 * b * i * o

    fi = u(X, H) + u(H, 2 * Z) + u(Z, H) + u(H, 2 * Z)
    fg = u(Z, H) + u(H, 2 * X) + u(X, H) + u(H, 2 * X)

    def critic(d_in):
        layers = [u(d_in, CW)] + [u(CW, CW)] * (CD - 1) + [u(CW, 1)]
        return sum(layers), layers[0], layers[-1]

    skip = u(X, H) + u(Z, H)
    if algo == "global":
        d, c1, c4 = critic(X + Z)
        return 3 * fi + 3 * fg + 14 * d - 2 * c1 - c4 - skip
    dx, c1x, c4x = critic(X)
    dz, c1z, c4z = critic(Z)
    return 3 * fi + 6 * fg + 22 * dx - 3 * c1x - 2 * c4x + 13 * dz - 2 * c1z - c4z - skip


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return cpu, os.cpu_count()


def load():
    return "%.1f %.1f %.1f" % os.getloadavg()


def run_json(cmd, env):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--algos", default="global,local,combined")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=3, help="processes per implementation and algorithm")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps per process")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per process")
    ap.add_argument("--impls", default="openblas,purego,torch",
                    help="comma-separated: openblas, purego, torch (2 threads, the benchmark's), torch1 (1 thread, a reference)")
    ap.add_argument("--go-openblas-threads", default="1", help="OPENBLAS_NUM_THREADS for our OpenBLAS build ('' leaves it unset)")
    ap.add_argument("--json", help="also write every measurement to this file")
    args = ap.parse_args()
    algos = args.algos.split(",")
    impls = args.impls.split(",")

    tmp = tempfile.mkdtemp(prefix="wsbench")
    try:
        bins = {}
        for impl, tags in (("openblas", ["-tags", "openblas"]), ("purego", [])):
            if impl in impls:
                bins[impl] = os.path.join(tmp, "gostep-" + impl)
                sh(["go", "build", *tags, "-o", bins[impl], "./bench/gostep"], cwd=ROOT)

        base = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        envs = {"torch": base, "torch1": base, "purego": base, "openblas": dict(base)}
        if args.go_openblas_threads:
            envs["openblas"]["OPENBLAS_NUM_THREADS"] = args.go_openblas_threads
        else:
            envs["openblas"].pop("OPENBLAS_NUM_THREADS")

        def command(impl, algo):
            common = ["--warmup", str(args.warmup), "--steps", str(args.steps)]
            if impl in ("torch", "torch1"):
                threads = "2" if impl == "torch" else "1"
                return [TORCH_PYTHON, os.path.join(ROOT, "bench", "torch_mnist.py"), "--algo", algo, "--batch", str(args.batch),
                        "--threads", threads, *common]
            return [bins[impl], "-algo", algo, "-batch", str(args.batch), *common]  # Go's flag package takes --name too

        cpu, ncpu = machine()
        print(f"machine: {cpu}, {ncpu} CPUs, {platform.platform()}")
        print(f"go: {sh(['go', 'version']).strip()}")
        print(f"torch: {sh([TORCH_PYTHON, '-c', 'import torch; print(torch.__version__)']).strip()} ({TORCH_PYTHON}), threads 2, OPENBLAS_NUM_THREADS=1")
        print(f"ours: OPENBLAS_NUM_THREADS={args.go_openblas_threads or '(unset)'} for the OpenBLAS build")
        print(f"batch {args.batch}; {args.rounds} rounds × ({args.warmup} warm-up + {args.steps} timed steps) per implementation and algorithm")
        load_before = load()
        print(f"load average before: {load_before}")
        sys.stdout.flush()

        res = {a: {i: {"times": [], "cpu": [], "peak": 0.0, "impl": ""} for i in impls} for a in algos}
        t_start = time.time()
        for r in range(args.rounds):
            for algo in algos:
                order = impls[r % len(impls):] + impls[:r % len(impls)]
                for impl in order:
                    out = run_json(command(impl, algo), envs[impl])
                    d = res[algo][impl]
                    d["times"] += out["times_ms"]
                    d["cpu"] += out.get("cpu_ms", [])
                    d["peak"] = max(d["peak"], out["peak_rss_mib"])
                    d["impl"] = out["impl"]
                    print(f"  round {r + 1} {algo:8s} {impl:8s} median {out['median_ms']:8.1f} ms  load {load()}", flush=True)
        load_after = load()
        print(f"load average after: {load_after} ({time.time() - t_start:.0f} s)")

        def med(xs):
            return statistics.median(xs) if xs else float("nan")

        names = {"torch": "PyTorch 1.13", "torch1": "PyTorch, 1 thread (reference)", "openblas": "ours, OpenBLAS", "purego": "ours, pure Go"}
        print()
        print("| algorithm | implementation | median step ms | ÷ PyTorch | GFLOP/s | CPU ms/step | peak RSS MiB |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for algo in algos:
            flops = matmul_flops(algo, args.batch)
            m = {i: med(res[algo][i]["times"]) for i in impls}
            for i in sorted(impls, key=["torch", "torch1", "openblas", "purego"].index):
                ratio = f"{m[i] / m['torch']:.2f}" if "torch" in m else "–"
                if i == "purego" and "openblas" in m:
                    ratio += f" ({m[i] / m['openblas']:.2f}× OpenBLAS)"
                print(f"| {algo} ({flops / 1e9:.1f} GFLOP) | {names[i]} | {m[i]:.0f} | {ratio} | "
                      f"{flops / (m[i] / 1e3) / 1e9:.1f} | {med(res[algo][i]['cpu']):.0f} | {res[algo][i]['peak']:.0f} |")
        print(f"\n(load average {load_before} before, {load_after} after; medians over {args.rounds * args.steps} steps each)")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"load_before": load_before, "load_after": load_after, "results": res}, f, indent=1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
