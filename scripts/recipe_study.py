#!/usr/bin/env python3
"""Recipe studies: MNIST (Fig. 3), CIFAR-10 (Fig. 4) and Moving MNIST (Fig. 5).

Trains an experiment under named candidate recipes (settings), for several
seeds, keeping a checkpoint every --every steps, then scores each checkpoint
at the requested step counts with `wakesleep eval` (and, for MNIST,
`wakesleep diagnose`). Writes one CSV row per (setting, seed, step) and a
markdown summary of means over seeds.

The settings live in scripts/recipe_study.json (MNIST) or another
--settings-file (scripts/recipe_study_cifar10.json,
scripts/recipe_study_movingmnist.json): a name, the experiment (default
mnist), for MNIST the algorithm, and the flags added to `wakesleep train` (on
top of --preset, which each setting names). Runs that already finished are
not trained again; an interrupted one resumes from its newest checkpoint;
evaluations already made are reused. CIFAR-10 reads its data from
$WAKESLEEP_DATA or the current folder, as `wakesleep train cifar10` does.

Standard library only. Example (two workers, one core each):

    go build -o wakesleep ./cmd/wakesleep
    python3 scripts/recipe_study.py --bin ./wakesleep --out runs/study \\
        --workers 2 --seeds 1,2 --steps 500,1000,2000 \\
        --settings local-paper,local-rw30 --csv results/mnist/study.csv

Wall times are measured from the start of the train process to the write of
each checkpoint, with --workers trainings sharing the machine, each with
GOMAXPROCS=1 (so a 2-worker study times one core per run).
"""
import argparse
import concurrent.futures as cf
import csv
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def load_settings(path):
    with open(path) as f:
        table = json.load(f)
    out = {}
    for s in table["settings"]:
        out[s["name"]] = s
    return out


def run_dir(out, name, seed):
    return os.path.join(out, f"{name}-s{seed}")


MNIST_LIKE = ("mnist", "fashionmnist")


def experiment(setting):
    return setting.get("experiment", "mnist")


def ckpt_path(d, step):
    return os.path.join(d, f"ckpt-{step:08d}.safetensors")


def train(args, setting, seed, max_step):
    d = run_dir(args.out, setting["name"], seed)
    done = os.path.join(d, "study-train.json")
    if os.path.exists(done):
        with open(done) as f:
            if json.load(f).get("max_steps", 0) >= max_step:
                return d  # trained far enough; a longer study resumes it
    exp = experiment(setting)
    cmd = [args.bin, "train", exp] + (["--algorithm", setting["algorithm"]] if exp in MNIST_LIKE else []) + [
           "--preset", setting.get("preset", "paper"),
           "--seed", str(seed), "--max-steps", str(max_step),
           "--epochs", "1000", "--checkpoint-every", str(args.every),
           "--keep", "100000", "--log-every", str(min(50, args.every)), "--run", d]
    cmd += setting.get("flags", [])
    resume = os.path.exists(os.path.join(d, "config.json"))
    if resume:
        cmd = [args.bin, "train", "--run", d, "--resume", "--max-steps", str(max_step), "--epochs", "1000"]
    env = dict(os.environ, GOMAXPROCS=str(args.threads), OPENBLAS_NUM_THREADS="1")
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    start = os.path.join(args.out, f"{setting['name']}-s{seed}.start")
    if not os.path.exists(start):  # the first launch of this run
        with open(start, "w") as f:
            f.write(f"{t0}\n")
    log = open(os.path.join(args.out, f"{setting['name']}-s{seed}.log"), "a")
    print(" ".join(cmd), file=log, flush=True)
    rc = subprocess.call(cmd, stdout=log, stderr=log, env=env)
    if rc != 0:
        print(f"study: {setting['name']} seed {seed}: train exited {rc} (see its .log)", file=sys.stderr)
        return None
    # Wall time to each checkpoint: from the run's first launch (the .start
    # file beside its log) to the checkpoint's write. A run interrupted and
    # resumed later counts the time in between too; its own log says when.
    with open(start) as f:
        first = float(f.read().strip())
    times = {}
    prev = os.path.join(d, "study-times.json")
    if os.path.exists(prev):
        with open(prev) as f:
            times = {int(k): v for k, v in json.load(f).items()}
    for name in os.listdir(d):
        if name.startswith("ckpt-") and name.endswith(".safetensors"):
            step = int(name[5:13])
            if step not in times:
                times[step] = max(0.0, os.path.getmtime(os.path.join(d, name)) - first)
    with open(prev, "w") as f:
        json.dump(times, f)
    with open(done, "w") as f:
        json.dump({"cmd": cmd, "max_steps": max_step, "wall_s": time.time() - t0, "threads": args.threads,
                   "workers": args.workers}, f)
    return d


EVAL_FILE = {"mnist": "eval.json", "fashionmnist": "eval.json", "cifar10": "cifar10.json", "movingmnist": "prediction.json"}


def evaluate(args, setting, d, step):
    ck = ckpt_path(d, step)
    if not os.path.exists(ck):
        return None
    exp = experiment(setting)
    out = os.path.join(d, f"eval-{step:08d}")
    ej = os.path.join(out, EVAL_FILE[exp])
    if not os.path.exists(ej):
        env = dict(os.environ, GOMAXPROCS=str(args.threads), OPENBLAS_NUM_THREADS="1")
        extra = ["--alignments", "4x2z", "--draws", "10"] if exp in MNIST_LIKE else []
        if exp == "movingmnist":
            extra = ["--samples", "5"]
        subprocess.check_call([args.bin, "eval", "--checkpoint", ck, "--n", str(args.n), *extra, "--out", out],
                              stdout=subprocess.DEVNULL, env=env)
    with open(ej) as f:
        e = json.load(f)
    if exp not in MNIST_LIKE:
        return e, {}
    dj = os.path.join(out, "diagnose.json")
    if args.diagnose and not os.path.exists(dj):
        env = dict(os.environ, GOMAXPROCS=str(args.threads), OPENBLAS_NUM_THREADS="1")
        rc = subprocess.call([args.bin, "diagnose", "--checkpoint", ck, "--out", dj],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        if rc != 0:
            dj = None
    diag = {}
    if dj and os.path.exists(dj):
        with open(dj) as f:
            diag = json.load(f)
    return e, diag


def mean(xs):
    return sum(xs) / len(xs)


def row(setting, seed, step, wall, e, diag):
    exp = experiment(setting)
    r = {
        "setting": setting["name"], "algorithm": setting.get("algorithm", exp), "seed": seed, "step": step,
        "wall_s": round(wall, 1) if wall is not None else "",
    }
    if exp == "cifar10":
        for dp in e["depths"]:
            r[f"agreement_d{dp['depth']}"] = dp["agreement"]["agreement"]
            r[f"mse_d{dp['depth']}"] = round(dp["mse"], 5)
        r["input_accuracy"] = e["accuracy"]
        r["fd_samples"] = round(e["frechet_samples_test"], 2)
        r["fd_floor"] = round(e["frechet_train_test"], 2)
        r["sample_entropy_bits"] = round(e["sample_classes"]["entropy_bits"], 3)
        for pr in e.get("probes") or []:
            r[f"probe_l{pr['layer']}"] = pr["accuracy"]
        for al in e.get("alignments") or []:
            a = al["alignment"]
            r[f"kl_l{al['layer']}"] = round(a["kl_wake_sleep"]["mean"], 3)
            r[f"kl_control_l{al['layer']}"] = round(a["kl_control_wake"]["mean"], 3)
        return r
    if exp == "movingmnist":
        for name, key in (("model", "model"), ("meank", "mean_of_k"), ("bestk", "best_of_k"),
                          ("repeat", "baseline"), ("black", "blank")):
            r[f"mse_{name}"] = round(mean(e[key]["mse"]), 5)
            r[f"ssim_{name}"] = round(mean(e[key]["ssim"]), 4)
        r["identity_model"] = round(mean(e["identity"]["model"]), 3)
        r["identity_truth"] = round(mean(e["identity"]["truth"]), 3)
        sa = e["sleep_alignment"]
        r["kl_z"], r["kl_control_z"] = round(sa["kl_wake_sleep"]["mean"], 3), round(sa["kl_control_wake"]["mean"], 3)
        return r
    a = e["alignments"][0]
    r.update({
        "recon_agreement": e["reconstruction"]["agreement"],
        "sleep_confidence": e["sleep"]["mean_confidence"],
        "sleep_entropy_bits": e["sleep"]["entropy_bits"],
        "kl_ws_4x2z": a["kl_wake_sleep"]["mean"],
        "kl_control_4x2z": a["kl_control_wake"]["mean"],
        "fd_sleep": e["frechet"]["sleep_test"], "fd_recon": e["frechet"]["recon_test"],
    })
    for k in ("probe_z_accuracy", "probe_zmean_accuracy", "recon_mean_agreement",
              "latent_sigma", "latent_mean_spread", "pixel_sigma"):
        if diag.get(k) is not None:
            r[k] = round(diag[k], 4)
    for side in ("encoder", "decoder"):
        for term, v in sorted((diag.get("grad_norm_" + side) or {}).items()):
            r[f"grad_{side}/{term}"] = round(v, 4)
    return r


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default="./wakesleep")
    p.add_argument("--out", default="runs/study")
    p.add_argument("--settings-file", default=os.path.join(HERE, "recipe_study.json"))
    p.add_argument("--settings", default="", help="comma-separated setting names, or 'all'")
    p.add_argument("--seeds", default="1,2")
    p.add_argument("--steps", default="500,1000,2000", help="step counts at which each run is scored")
    p.add_argument("--every", type=int, default=500, help="checkpoint spacing (must divide every step count)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="GOMAXPROCS of each run")
    p.add_argument("--n", type=int, default=2000, help="eval samples")
    p.add_argument("--no-diagnose", dest="diagnose", action="store_false")
    p.add_argument("--csv", default="", help="write the table here (default: <out>/study.csv)")
    p.add_argument("--combine", default="", help="only merge these comma-separated study tables into --csv (and its .md summary)")
    args = p.parse_args()
    if args.combine:
        rows = []
        for path in args.combine.split(","):
            with open(path) as f:
                rows += list(csv.DictReader(f))
        write_table(rows, args.csv)
        return
    if not args.settings:
        sys.exit("study: --settings is required (or --combine)")
    table = load_settings(args.settings_file)
    names = list(table) if args.settings == "all" else args.settings.split(",")
    for n in names:
        if n not in table:
            sys.exit(f"study: no setting {n!r} in {args.settings_file} (have: {', '.join(table)})")
    seeds = [int(s) for s in args.seeds.split(",")]
    steps = sorted(int(s) for s in args.steps.split(","))
    for s in steps:
        if s <= 0 or s % args.every:
            sys.exit(f"study: step {s} is not a positive multiple of --every {args.every}")
    jobs = [(table[n], s) for n in names for s in seeds]
    with cf.ThreadPoolExecutor(args.workers) as ex:
        dirs = list(ex.map(lambda j: train(args, j[0], j[1], steps[-1]), jobs))
    rows = []
    for (setting, seed), d in zip(jobs, dirs):
        if d is None:
            continue
        with open(os.path.join(d, "study-times.json")) as f:
            times = {int(k): v for k, v in json.load(f).items()}
        for step in steps:
            got = evaluate(args, setting, d, step)
            if got is None:
                continue
            rows.append(row(setting, seed, step, times.get(step), *got))
    path = args.csv or os.path.join(args.out, "study.csv")
    old = []
    if os.path.exists(path):  # keep rows of settings not rerun now
        with open(path) as f:
            old = list(csv.DictReader(f))
    print(f"study: {len(rows)} rows -> {path}")
    write_table(old + rows, path)


def write_table(allrows, path):
    """Writes rows (later ones replace earlier ones of the same setting, seed
    and step) as CSV at path and their summary as markdown beside it."""
    uniq = {}
    for r in allrows:
        uniq[(r["setting"], str(r["seed"]), str(r["step"]))] = r
    allrows = list(uniq.values())
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fields = []
    for r in allrows:
        for k in r:
            if k not in fields:
                fields.append(k)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in sorted(allrows, key=lambda r: (r["setting"], int(r["step"]), int(r["seed"]))):
            w.writerow(r)
    summarize(allrows, path[:-4] + ".md" if path.endswith(".csv") else path + ".md")


def fmt(v, nd=2):
    return "" if v is None else f"{v:.{nd}f}"


SUMMARY_COLUMNS = {
    "mnist": [("recon_agreement", 2), ("sleep_confidence", 2), ("sleep_entropy_bits", 2),
              ("kl_ws_4x2z", 3), ("kl_control_4x2z", 3), ("probe_z_accuracy", 2), ("latent_sigma", 2), ("wall_s", 0)],
    "cifar10": [("agreement_d1", 2), ("agreement_d2", 2), ("agreement_d3", 2), ("agreement_d4", 2),
                ("agreement_d5", 2), ("mse_d5", 3), ("fd_samples", 1), ("sample_entropy_bits", 2),
                ("probe_l5", 2), ("wall_s", 0)],
    "movingmnist": [("mse_model", 4), ("ssim_model", 3), ("mse_meank", 4), ("ssim_meank", 3), ("mse_bestk", 4),
                    ("ssim_bestk", 3), ("mse_repeat", 4), ("ssim_repeat", 3), ("mse_black", 4), ("ssim_black", 3),
                    ("identity_model", 2), ("wall_s", 0)],
}


def summarize(rows, path):
    """Means over seeds, with the min-max range, per setting and step."""
    groups = {}
    for r in rows:
        groups.setdefault((r["setting"], r["algorithm"], int(r["step"])), []).append(r)
    kinds = {r["algorithm"] for r in rows}
    cols = SUMMARY_COLUMNS[next(iter(kinds))] if len(kinds) == 1 and next(iter(kinds)) in SUMMARY_COLUMNS else SUMMARY_COLUMNS["mnist"]
    lines = ["| setting | alg | step | seeds | " + " | ".join(c for c, _ in cols) + " |",
             "|" + "---|" * (4 + len(cols))]
    for (name, alg, step), rs in sorted(groups.items()):
        cells = []
        for c, nd in cols:
            vals = [float(r[c]) for r in rs if r.get(c) not in (None, "")]
            if not vals:
                cells.append("")
                continue
            m = sum(vals) / len(vals)
            cells.append(fmt(m, nd) + (f" ({fmt(min(vals), nd)}–{fmt(max(vals), nd)})" if len(vals) > 1 else ""))
        lines.append(f"| {name} | {alg} | {step} | {len(rs)} | " + " | ".join(cells) + " |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
