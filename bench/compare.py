#!/usr/bin/env python3
"""Time wakesleep's training steps against PyTorch's, side by side.

    python3 bench/compare.py --rounds 3              # the whole grid (see BENCHMARKS.md)
    python3 bench/compare.py --models mnist-global --batch 512 --threads 2
    python3 bench/compare.py --smoke                 # every path once, tiny sizes: a check, not a measurement

The grid: MNIST (mnist-global, mnist-local, mnist-combined; the paper's
model) at every --batch, and whole steps of the CIFAR-10 and Moving MNIST
models at every --presets size (quick: the experiments' QuickConfig, batch
64 and 8; paper: PaperConfig, batch 512 and 32), each on every --threads
count. Implementations: ours built twice by this script (pure Go and -tags
openblas, bench/gostep), and PyTorch (bench/torch_mnist.py for MNIST,
bench/torch_steps.py for the others, which builds its model from the
config.json gostep -print-config writes, so both run one architecture;
the smoke run checks their parameter counts agree).

Processes run one at a time, alternating: each round visits every setting
and runs every implementation on it, the order rotating round by round, so
that load changes spread over all. Each process does --warmup untimed steps
and --steps timed ones. Per setting: the median step time over all rounds,
the ratio to PyTorch's, GFLOP/s, the median CPU time per step (all threads)
and the peak resident memory (VmHWM, the largest over the rounds).

Threads: for a setting of T threads, ours runs with GOMAXPROCS=T and
PyTorch with torch.set_num_threads(T). OPENBLAS_NUM_THREADS is 1 for every
step process (ours and PyTorch's, whose products then run on one OpenBLAS
thread while its elementwise kernels use T OpenMP threads, as in earlier
tables); --go-openblas-threads changes it for ours ('auto' leaves it unset,
so that gostep sets it to GOMAXPROCS as the wakesleep command does).

sgemm peak: before the steps, and again after them, each implementation
times an --sgemm-size square product on T threads (ours: tensor.MatMul,
GOMAXPROCS=T and OPENBLAS_NUM_THREADS=T; PyTorch: torch.mm,
OPENBLAS_NUM_THREADS=T). The machine's peak for T threads is the best
median of these; GFLOP/s of each step are also given as a share of it.

FLOPs of a step are those of its matrix products (and convolutions, which
are im2col + sgemm), as counted by our build (blas.Flops32: 2·m·n·k of
every product gostep's step asks for); the same count is used for PyTorch's
time, as the work of the step. For MNIST it equals matmul_flops below,
which the smoke run checks. PyTorch itself does 7-10% more on MNIST (its
double backward of leaky_relu multiplies zero gradients through the critic).

OpenBLAS core: OpenBLAS 0.3.21 (Debian's, which PyTorch's BLAS calls also
go through) does not know newer CPUs and falls back to its generic
"Prescott" (SSE3) kernels, 2-4x below the hardware's sgemm speed: this
machine's Xeon (family 6, model 207) is one. --openblas-coretype auto (the
default) asks the library which core it picked and, if that is Prescott
on a CPU with AVX-512 or AVX2, sets OPENBLAS_CORETYPE=SkylakeX or Haswell
for every process (PyTorch's and our OpenBLAS build's alike), so that
neither is timed on a crippled BLAS; the header prints the core in use.
--openblas-coretype none leaves the library's own choice.

Load average (1 minute) is sampled after every process; each table gives
the range seen while its settings ran.
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
X, Z, H, CW, CD = 784, 64, 512, 512, 3
MNIST_MODELS = ("mnist-global", "mnist-local", "mnist-combined")
CONV_MODELS = ("cifar10", "movingmnist")
IMPLS = ("openblas", "purego", "torch")
NAMES = {"torch": "PyTorch 1.13", "openblas": "ours, OpenBLAS", "purego": "ours, pure Go"}


def matmul_flops(algo, b):
    """Multiply-adds ×2 of every matrix product of one training step.

    u(i, o) = 2·B·i·o is one pass of a dense layer i → o (forward, input
    adjoint or weight adjoint alike). With F_I, F_G the forward cost of
    inference and generation, D_c = Σ_layers u of critic c, C1 its first and
    C4 its last layer:

      global: 3F_I + 3F_G + 14D − 2C1 − C4 − u(784,512) − u(64,512)
      local:  3F_I + 6F_G + 22D_x − 3C1_x − 2C4_x + 13D_z − 2C1_z − C4_z
              − u(784,512) − u(64,512)

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


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def openblas_core(env):
    """The kernel family OpenBLAS picks under env (None: no libopenblas)."""
    code = ("import ctypes, ctypes.util\n"
            "n = ctypes.util.find_library('openblas') or 'libopenblas.so.0'\n"
            "l = ctypes.CDLL(n); l.openblas_get_corename.restype = ctypes.c_char_p\n"
            "print(l.openblas_get_corename().decode())")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return p.stdout.strip() if p.returncode == 0 else None


def choose_coretype(want):
    """OPENBLAS_CORETYPE to set for every process ('' for none), and why."""
    if want == "none":
        return "", f"OPENBLAS_CORETYPE left as is; OpenBLAS picks {openblas_core(dict(os.environ))}"
    if want != "auto":
        return want, f"OPENBLAS_CORETYPE={want} (--openblas-coretype); OpenBLAS picks {openblas_core(dict(os.environ, OPENBLAS_CORETYPE=want))}"
    if os.environ.get("OPENBLAS_CORETYPE"):
        return os.environ["OPENBLAS_CORETYPE"], f"OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} from the environment"
    e = dict(os.environ)
    own = openblas_core(e)
    flags = cpu_flags()
    if own == "Prescott" and ("avx512f" in flags or "avx2" in flags):
        ct = "SkylakeX" if "avx512f" in flags else "Haswell"
        return ct, (f"OpenBLAS's own pick is its generic Prescott core on a CPU with "
                    f"{'AVX-512' if ct == 'SkylakeX' else 'AVX2'}: OPENBLAS_CORETYPE={ct} for every process "
                    f"(picks {openblas_core(dict(e, OPENBLAS_CORETYPE=ct))})")
    return "", f"OpenBLAS picks {own}"


def load1():
    return os.getloadavg()[0]


def run_json(cmd, env):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if p.returncode != 0:
        raise SystemExit(f"compare.py: {' '.join(cmd)} failed (exit {p.returncode}):\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def csv(s, allowed=None, conv=str):
    out = [conv(v) for v in s.split(",") if v]
    if allowed is not None:
        bad = [v for v in out if v not in allowed]
        if bad:
            raise SystemExit(f"compare.py: unknown {bad} (choose from {', '.join(map(str, allowed))})")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(MNIST_MODELS + CONV_MODELS))
    ap.add_argument("--batch", default="128,512", help="MNIST batch sizes")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--presets", default="quick,paper", help="sizes of the CIFAR-10 and Moving MNIST steps")
    ap.add_argument("--conv-batch", type=int, default=0, help="override the presets' batch size (0: theirs)")
    ap.add_argument("--rounds", type=int, default=3, help="processes per implementation and setting")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps per process")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per process")
    ap.add_argument("--impls", default=",".join(IMPLS))
    ap.add_argument("--go-openblas-threads", default="1",
                    help="OPENBLAS_NUM_THREADS for our OpenBLAS build's steps ('auto': unset, gostep sets GOMAXPROCS)")
    ap.add_argument("--torch-openblas-threads", default="1",
                    help="OPENBLAS_NUM_THREADS for PyTorch's steps ('T': the setting's thread count)")
    ap.add_argument("--openblas-coretype", default="auto",
                    help="OPENBLAS_CORETYPE for every process: auto (fix OpenBLAS's generic fallback), none, or a core name")
    ap.add_argument("--sgemm-size", type=int, default=2048, help="side of the square product of the peak (0: skip)")
    ap.add_argument("--sgemm-reps", type=int, default=10)
    ap.add_argument("--smoke", action="store_true",
                    help="every setting once at tiny sizes (1 round, 1 warm-up + 1 step), checking that the "
                         "implementations agree on parameter counts and FLOPs; no timing worth reading")
    ap.add_argument("--json", help="also write every measurement to this file")
    args = ap.parse_args()
    if args.smoke:
        args.batch, args.conv_batch, args.rounds, args.warmup, args.steps = "8", 2, 1, 1, 1
        args.sgemm_size, args.sgemm_reps = 256, 2
    models = csv(args.models, MNIST_MODELS + CONV_MODELS)
    impls = csv(args.impls, IMPLS)
    threads = csv(args.threads, conv=int)
    batches = csv(args.batch, conv=int)
    presets = csv(args.presets, ("quick", "paper"))
    if args.torch_openblas_threads not in ("1", "T"):
        raise SystemExit("compare.py: --torch-openblas-threads is 1 or T")
    if min(threads + batches) < 1 or args.rounds < 1 or args.steps < 1 or args.warmup < 0:
        raise SystemExit("compare.py: threads, batch sizes, rounds and steps must be ≥ 1, warm-up ≥ 0")

    tmp = tempfile.mkdtemp(prefix="wsbench")
    try:
        bins = {}
        for impl, tags in (("openblas", ["-tags", "openblas"]), ("purego", [])):
            if impl in impls or impl == "purego":  # pure Go also writes the configs
                bins[impl] = os.path.join(tmp, "gostep-" + impl)
                sh(["go", "build", *tags, "-o", bins[impl], "./bench/gostep"], cwd=ROOT)

        # Settings: (threads, model, preset, batch); batch 0 = the preset's.
        settings = []
        for t in threads:
            for m in models:
                if m in MNIST_MODELS:
                    settings += [(t, m, "paper", b) for b in batches]
                else:
                    settings += [(t, m, p, args.conv_batch) for p in presets]

        configs = {}  # (model, preset, batch) → config.json path for torch_steps.py

        def config_path(m, p, b):
            key = (m, p, b)
            if key not in configs:
                path = os.path.join(tmp, f"{m}-{p}-{b}.json")
                cmd = [bins["purego"], "-model", m, "-preset", p, "-print-config"] + (["-batch", str(b)] if b else [])
                with open(path, "w") as f:
                    f.write(sh(cmd, cwd=ROOT))
                configs[key] = path
            return configs[key]

        coretype, core_note = choose_coretype(args.openblas_coretype)

        def env(impl, t, sgemm=False):
            e = dict(os.environ, OPENBLAS_NUM_THREADS="1", GOMAXPROCS=str(t))
            if coretype:
                e["OPENBLAS_CORETYPE"] = coretype
            if sgemm:
                e["OPENBLAS_NUM_THREADS"] = str(t)
            elif impl == "openblas":
                if args.go_openblas_threads == "auto":
                    e.pop("OPENBLAS_NUM_THREADS")
                else:
                    e["OPENBLAS_NUM_THREADS"] = args.go_openblas_threads
            elif impl == "torch" and args.torch_openblas_threads == "T":
                e["OPENBLAS_NUM_THREADS"] = str(t)
            return e

        def command(impl, s):
            t, m, p, b = s
            common = ["--warmup", str(args.warmup), "--steps", str(args.steps)]
            if impl == "torch":
                if m in MNIST_MODELS:
                    return [TORCH_PYTHON, os.path.join(ROOT, "bench", "torch_mnist.py"), "--algo", m[len("mnist-"):],
                            "--batch", str(b), "--threads", str(t), *common]
                return [TORCH_PYTHON, os.path.join(ROOT, "bench", "torch_steps.py"), "--config", config_path(m, p, b),
                        "--threads", str(t), *common]
            return [bins[impl], "-model", m, "-preset", p, *(["-batch", str(b)] if b else []), *common]

        def sgemm(impl, t):
            reps = ["--warmup", "2", "--steps", str(args.sgemm_reps)]
            if impl == "torch":
                cmd = [TORCH_PYTHON, os.path.join(ROOT, "bench", "torch_steps.py"), "--sgemm", str(args.sgemm_size),
                       "--threads", str(t), *reps]
            else:
                cmd = [bins[impl], "-sgemm", str(args.sgemm_size), *reps]
            return run_json(cmd, env(impl, t, sgemm=True))

        cpu, ncpu = machine()
        print(f"machine: {cpu}, {ncpu} CPUs, {platform.platform()}")
        print(f"go: {sh(['go', 'version']).strip()}")
        print(f"torch: {sh([TORCH_PYTHON, '-c', 'import torch; print(torch.__version__)']).strip()} ({TORCH_PYTHON}), "
              f"OPENBLAS_NUM_THREADS={args.torch_openblas_threads} for its steps")
        print(f"openblas: {core_note}")
        print(f"ours: OPENBLAS_NUM_THREADS={args.go_openblas_threads} for the OpenBLAS build's steps")
        print(f"{len(settings)} settings; {args.rounds} rounds × ({args.warmup} warm-up + {args.steps} timed steps) "
              f"per implementation and setting{'  [SMOKE: tiny sizes, not a measurement]' if args.smoke else ''}")
        print(f"load average before: {'%.1f %.1f %.1f' % os.getloadavg()}", flush=True)
        t_start = time.time()

        peaks = {t: {} for t in threads}  # t → impl → [median GFLOP/s]

        def measure_peaks(when):
            if args.sgemm_size <= 0:
                return
            for t in threads:
                for impl in impls:
                    out = sgemm(impl, t)
                    peaks[t].setdefault(impl, []).append(out["median_gflops"])
                    print(f"  sgemm {args.sgemm_size} {when:6s} {t} thr {impl:8s} {out['median_gflops']:7.1f} GFLOP/s "
                          f"(best {out['best_gflops']:.1f})  load {load1():.1f}", flush=True)

        measure_peaks("before")
        res = {s: {i: {"times": [], "cpu": [], "peak": 0.0, "impl": "", "flops": 0, "params": None} for i in impls}
               for s in settings}
        loads = {t: [] for t in threads}
        for r in range(args.rounds):
            for s in settings:
                order = impls[r % len(impls):] + impls[:r % len(impls)]
                for impl in order:
                    out = run_json(command(impl, s), env(impl, s[0]))
                    d = res[s][impl]
                    d["times"] += out["times_ms"]
                    d["cpu"] += out.get("cpu_ms", [])
                    d["peak"] = max(d["peak"], out["peak_rss_mib"])
                    d["impl"], d["batch"] = out["impl"], out["batch"]
                    d["flops"] = out.get("gemm_flops_per_step", 0)
                    if "network_params" in out:
                        d["params"] = (out["network_params"], out["critic_params"])
                    loads[s[0]].append(load1())
                    print(f"  round {r + 1} {s[0]} thr {s[1]:15s} {s[2]:5s} batch {out['batch']:4d} {impl:8s} "
                          f"median {out['median_ms']:9.1f} ms  load {loads[s[0]][-1]:.1f}", flush=True)
        measure_peaks("after")
        print(f"load average after: {'%.1f %.1f %.1f' % os.getloadavg()} ({time.time() - t_start:.0f} s)")

        problems = []
        for s in settings:
            got = {i: res[s][i]["params"] for i in impls if res[s][i]["params"] is not None}
            if len(set(got.values())) > 1:
                problems.append(f"{s}: parameter counts (network, critic) differ: {got}")
            for i in ("openblas", "purego"):
                if i in impls and s[1] in MNIST_MODELS:
                    want = matmul_flops(s[1][len("mnist-"):], res[s][i]["batch"])
                    if res[s][i]["flops"] != want:
                        problems.append(f"{s} {i}: counted {res[s][i]['flops']} FLOPs, matmul_flops says {want}")

        for t in threads:
            peak = max((med(v) for v in peaks[t].values()), default=float("nan"))
            each = ", ".join(f"{NAMES[i]} {med(v):.1f}" for i, v in peaks[t].items())
            ls = loads[t]
            print(f"\n### {t} thread{'s' if t > 1 else ''}\n")
            print(f"1-minute load average {min(ls):.1f}–{max(ls):.1f} during these rounds; sgemm {args.sgemm_size}² peak "
                  f"{peak:.1f} GFLOP/s (medians before and after: {each})\n")
            print("| model | preset | batch | GFLOP/step | implementation | median step ms | ÷ PyTorch | GFLOP/s | % of peak "
                  "| CPU ms/step | peak RSS MiB |")
            print("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
            for s in settings:
                if s[0] != t:
                    continue
                flops = next((res[s][i]["flops"] for i in ("openblas", "purego") if i in impls and res[s][i]["flops"]), 0)
                m = {i: med(res[s][i]["times"]) for i in impls}
                for i in impls:
                    ratio = f"{m[i] / m['torch']:.2f}" if "torch" in m else "–"
                    if i == "purego" and "openblas" in m:
                        ratio += f" ({m[i] / m['openblas']:.2f}× OpenBLAS)"
                    rate = flops / (m[i] / 1e3) / 1e9 if flops else float("nan")
                    print(f"| {s[1]} | {s[2]} | {res[s][i]['batch']} | {flops / 1e9:.2f} | {NAMES[i]} | {m[i]:.0f} | {ratio} | "
                          f"{rate:.1f} | {100 * rate / peak:.0f}% | {med(res[s][i]['cpu']):.0f} | {res[s][i]['peak']:.0f} |")
        print(f"\n(medians over {args.rounds * args.steps} steps each)")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"settings": [list(s) for s in settings], "peaks": peaks, "loads": loads,
                           "results": [{"setting": list(s), **{i: res[s][i] for i in impls}} for s in settings]},
                          f, indent=1)
        if problems:
            raise SystemExit("compare.py: the implementations disagree:\n  " + "\n  ".join(problems))
        if args.smoke:
            print(f"smoke: all {len(settings)} settings ran on {', '.join(impls)}; parameter counts and FLOPs agree")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
