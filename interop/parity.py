"""Checks wakesleep_torch against outputs computed by the Go code.

Usage: /usr/bin/python3 interop/parity.py RUN CASES [RUN CASES ...]

RUN is a run folder trained by Go; CASES a safetensors file written by the
Go test (experiment/interop_test.go) whose metadata "cases" is a JSON list of

    {"name": N, "call": "infer" | "critic_x.forward_features" | ...,
     "args": [{"t": TENSOR} | {"ts": [TENSOR, ...]} | literal, ...], "outputs": K}

with tensors N.noise (optional: every standard normal the Go call drew, in
order, flattened) and N.out.0 … N.out.{K−1}. Each case calls the loaded
model (float64 and float32 copies), feeding the noise in the order drawn,
checks that the noise is used up, and compares the outputs, flattened in
order (None skipped), with Go's. Prints one JSON object and exits 1 if any
difference exceeds --tol (1e-5) or anything fails, 3 if torch is missing.
"""

import argparse
import json
import os
import sys

try:
    import torch
except ImportError as e:  # the Go test skips on this status (or fails, in CI)
    print(f"{sys.executable}: {e}", file=sys.stderr)
    sys.exit(3)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wakesleep_torch as ws  # noqa: E402


class Stream:
    """A noise source that cuts a flat stream into the shapes asked for."""

    def __init__(self, flat):
        self.flat, self.at = flat, 0

    def __call__(self, shape):
        n = 1
        for d in shape:
            n *= d
        if self.at + n > self.flat.numel():
            raise ValueError(f"noise stream of {self.flat.numel()} values ran out at {self.at} (asked {list(shape)})")
        out = self.flat[self.at:self.at + n].reshape(shape)
        self.at += n
        return out


def flatten(r):
    if r is None:
        return []
    if isinstance(r, (list, tuple)):
        return [t for x in r for t in flatten(x)]
    return [r]


def resolve(model, call):
    obj = model
    for part in call.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def run_case(model, case, tensors, dtype):
    def arg(a):
        if isinstance(a, dict) and "t" in a:
            return tensors[a["t"]].to(dtype)
        if isinstance(a, dict) and "ts" in a:
            return [tensors[n].to(dtype) for n in a["ts"]]
        return a

    name = case["name"]
    kwargs = {}
    stream = None
    if name + ".noise" in tensors:
        stream = Stream(tensors[name + ".noise"].to(dtype))
        kwargs["noise"] = stream
    with torch.no_grad():
        got = flatten(resolve(model, case["call"])(*[arg(a) for a in case["args"]], **kwargs))
    if stream is not None and stream.at != stream.flat.numel():
        raise ValueError(f"used {stream.at} of the {stream.flat.numel()} noise values Go drew")
    if len(got) != case["outputs"]:
        raise ValueError(f"{len(got)} outputs, Go gave {case['outputs']}")
    diffs = []
    for k, g in enumerate(got):
        want = tensors[f"{name}.out.{k}"]
        if tuple(g.shape) != tuple(want.shape):
            raise ValueError(f"output {k} is {list(g.shape)}, Go's {list(want.shape)}")
        diffs.append((g.double() - want.double()).abs().max().item() if want.numel() else 0.0)
    return diffs


def check_run(run, cases_path, tol):
    tensors, meta = ws.read_safetensors(cases_path)
    cases = json.loads(meta["cases"])
    models = {"float64": ws.load(run, torch.float64), "float32": ws.load(run, torch.float32)}
    m = models["float64"]
    res = {"run": run, "experiment": m.experiment, "step": m.step, "cases": [], "ok": True}
    # The fallback for checkpoints without the architecture metadata must
    # describe this run as the metadata does.
    res["describe_config_agrees"] = ws.describe_config(m.config) == m.architecture
    res["ok"] &= res["describe_config_agrees"]
    # The README's use: sleep samples from torch's generator, as pixels.
    x = m.sample(2, noise=torch.Generator().manual_seed(0))
    res["sample_shape"] = list(x.shape)
    res["sample_finite"] = bool(torch.isfinite(x).all())
    res["ok"] &= res["sample_finite"] and x.shape[0] == 2
    for case in cases:
        r = {"name": case["name"]}
        try:
            for dt, model in models.items():
                diffs = run_case(model, case, tensors, getattr(torch, dt))
                r["max_abs_diff_" + dt] = max(diffs, default=0.0)
                r["output_diffs_" + dt] = diffs
            r["ok"] = max(r["max_abs_diff_float64"], r["max_abs_diff_float32"]) <= tol
        except Exception as e:  # report and go on with the other cases
            r["error"], r["ok"] = f"{type(e).__name__}: {e}", False
        res["ok"] &= r["ok"]
        res["cases"].append(r)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pairs", nargs="+", help="RUN CASES pairs")
    ap.add_argument("--tol", type=float, default=1e-5)
    args = ap.parse_args()
    if len(args.pairs) % 2:
        ap.error("give RUN CASES pairs")
    torch.set_num_threads(1)
    out = {"torch": torch.__version__, "tol": args.tol, "runs": []}
    for run, cases in zip(args.pairs[::2], args.pairs[1::2]):
        try:
            out["runs"].append(check_run(run, cases, args.tol))
        except Exception as e:
            out["runs"].append({"run": run, "error": f"{type(e).__name__}: {e}", "ok": False})
    out["ok"] = all(r["ok"] for r in out["runs"])
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
