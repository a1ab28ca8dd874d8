#!/usr/bin/env python3
"""Does each layer of a CIFAR-10 run carry its input, or noise?

For every inference arrow q(z_{i+1} | z_i) of a checkpoint, on n test images
(evenly spaced over the JPEG tree's test set), prints the spread of the
mean μ across inputs (its standard deviation over images, averaged over
units) beside the mean σ: a layer whose σ is far above the spread of its
means is mostly noise, whatever the input, and everything above it has lost
the image. Uses interop/wakesleep_torch.py (PyTorch) and Pillow.

    /usr/bin/python3 scripts/cifar10_sigma.py RUN/ckpt-00000500.safetensors [more checkpoints]
        [--data cifar10-jpeg.tar.gz] [--n 200]
"""
import argparse
import io
import os
import sys
import tarfile

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import wakesleep_torch as ws  # noqa: E402


def test_images(path, n):
    with tarfile.open(path) as t:
        names = sorted(m for m in t.getnames() if m.startswith("test/") and m.endswith(".jpg"))
        if n > len(names):
            raise SystemExit(f"cifar10_sigma: {n} images asked of a test set of {len(names)}")
        pick = [names[i * len(names) // n] for i in range(n)]
        return np.stack([np.asarray(Image.open(io.BytesIO(t.extractfile(m).read())).convert("RGB"), np.float32) / 255
                         for m in pick])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--data", default=os.path.join(os.environ.get("WAKESLEEP_DATA", "."), "cifar10-jpeg.tar.gz"))
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args()
    imgs = torch.tensor(test_images(args.data, args.n)).permute(0, 3, 1, 2)
    print("| checkpoint | layer | spread of μ across inputs | mean σ | spread / σ |")
    print("|---|---|---:|---:|---:|")
    for ck in args.checkpoints:
        m = ws.load(ck)
        torch.manual_seed(0)
        with torch.no_grad():
            z = m.from_unit(imgs)
            for i in range(m.layers):
                mean, std = m.inference[i].moments(z)
                spread, sigma = mean.std(0).mean().item(), std.mean().item()
                print(f"| {os.path.basename(ck)} | z{i + 1} | {spread:.4f} | {sigma:.4f} | {spread / sigma:.3f} |")
                z = m.infer_step(i, z)


if __name__ == "__main__":
    main()
