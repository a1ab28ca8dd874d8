"""Time PyTorch's conv2d on the shape of tensor/conv_bench_test.go.

x [64, 32, 16, 16], w [64, 32, 4, 4], stride 2, pad 1, float32, no bias, on
2 CPU threads (or as many as the first argument says): the reference for
BenchmarkConv2dForward and BenchmarkConv2dForwardBackward (forward+backward
computes the gradients of both x and w). Run with the python that has torch:

    /usr/bin/python3 bench/conv_torch.py        # 2 threads
    /usr/bin/python3 bench/conv_torch.py 1      # 1 thread (compare with GOMAXPROCS=1)

Prints the median (and the fastest) milliseconds per call of each.
"""

import statistics
import sys
import time

import torch
import torch.nn.functional as F


def times_ms(f, reps=20, warmup=3):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def main():
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
    torch.manual_seed(0)
    x = torch.rand(64, 32, 16, 16) * 2 - 1
    w = (torch.rand(64, 32, 4, 4) * 2 - 1) * 0.1

    def forward():
        with torch.no_grad():
            F.conv2d(x, w, stride=2, padding=1)

    xg = x.clone().requires_grad_()
    wg = w.clone().requires_grad_()

    def forward_backward():
        y = F.conv2d(xg, wg, stride=2, padding=1)
        xg.grad = wg.grad = None
        y.backward(y.detach())  # upstream gradient = output, as the Go benchmark

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, mkldnn={torch.backends.mkldnn.is_available()}")
    for name, f in [("forward", forward), ("forward+backward", forward_backward)]:
        t = times_ms(f)
        print(f"conv2d {name + ':':18} {statistics.median(t):.2f} ms (fastest {min(t):.2f} ms)")


if __name__ == "__main__":
    main()
