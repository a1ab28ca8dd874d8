"""Golden values from PyTorch for wakesleep's nn.Conv2d, nn.ConvTranspose2d and
nn.BatchNorm (nn/conv_test.go and nn/norm_test.go compare against them).

Regenerate (needs torch; on the development machine /usr/bin/python3 has
torch 1.13, the pyenv python3 does not) from the repository root:

    /usr/bin/python3 scripts/golden_conv.py

It overwrites nn/testdata/{conv2d,conv_transpose2d,batchnorm}.json. Inputs are
drawn from torch.manual_seed(0), so the files only change when this script
does. Everything is float32, as the models train. Each tensor is stored as
{"shape": [...], "data": [row-major values]}. For each case the backward pass
is of sum(y * grad_out) for a random grad_out, so grad_x, grad_weight and
grad_bias are the vector-Jacobian products with grad_out.
"""

import json
import os

import torch

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "nn", "testdata")


def tj(t):
    """A float32 tensor as JSON; 9 significant digits round-trip float32."""
    t = t.detach().to(torch.float32).contiguous()
    return {"shape": list(t.shape), "data": [float(f"{v:.9g}") for v in t.reshape(-1).tolist()]}


def rand(*shape):
    return torch.rand(*shape) * 2 - 1


def backward(y):
    """Fills the gradients of sum(y * grad_out) and returns grad_out."""
    g = rand(*y.shape)
    (y * g).sum().backward()
    return g


def conv2d_cases():
    cases = []
    # (name, batch, in, out, k, stride, pad, height, width)
    specs = [
        ("k3_s1_p1", 2, 3, 4, 3, 1, 1, 7, 5),
        ("k4_s2_p1", 3, 3, 5, 4, 2, 1, 9, 8),
        ("k3_s2_p0", 2, 2, 3, 3, 2, 0, 7, 7),
    ]
    for name, b, cin, cout, k, s, p, h, w in specs:
        layer = torch.nn.Conv2d(cin, cout, k, stride=s, padding=p)
        x = rand(b, cin, h, w).requires_grad_()
        y = layer(x)
        g = backward(y)
        cases.append({
            "name": name, "in": cin, "out": cout, "k": k, "stride": s, "pad": p,
            "x": tj(x), "weight": tj(layer.weight), "bias": tj(layer.bias),
            "grad_out": tj(g), "y": tj(y),
            "grad_x": tj(x.grad), "grad_weight": tj(layer.weight.grad), "grad_bias": tj(layer.bias.grad),
        })
    return cases


def conv_transpose2d_cases():
    cases = []
    # (name, batch, in, out, k, stride, pad, output_padding, height, width)
    specs = [
        ("k4_s2_p1", 2, 4, 3, 4, 2, 1, 0, 4, 3),
        ("k3_s2_p1_op1", 2, 3, 2, 3, 2, 1, 1, 3, 4),
        ("k4_s2_p1_1x1", 3, 5, 2, 4, 2, 1, 0, 1, 1),  # a DCGAN generator's first layer
    ]
    for name, b, cin, cout, k, s, p, op, h, w in specs:
        layer = torch.nn.ConvTranspose2d(cin, cout, k, stride=s, padding=p, output_padding=op)
        x = rand(b, cin, h, w).requires_grad_()
        y = layer(x)
        g = backward(y)
        cases.append({
            "name": name, "in": cin, "out": cout, "k": k, "stride": s, "pad": p, "output_padding": op,
            "x": tj(x), "weight": tj(layer.weight), "bias": tj(layer.bias),
            "grad_out": tj(g), "y": tj(y),
            "grad_x": tj(x.grad), "grad_weight": tj(layer.weight.grad), "grad_bias": tj(layer.bias.grad),
        })
    return cases


def batchnorm_cases():
    cases = []
    # (name, input shape); BatchNorm1d for [B, C], BatchNorm2d for [B, C, H, W].
    specs = [("1d", (6, 4)), ("2d", (3, 4, 5, 3))]
    for name, shape in specs:
        c = shape[1]
        layer = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(c)
        with torch.no_grad():  # non-trivial affine parameters
            layer.weight.copy_(torch.rand(c) + 0.5)
            layer.bias.copy_(rand(c))
        weight, bias = layer.weight.detach().clone(), layer.bias.detach().clone()
        x = (rand(*shape) * 2 + 0.5).requires_grad_()
        layer.train()
        y = layer(x)
        g = backward(y)
        layer.eval()
        with torch.no_grad():
            y_eval = layer(x)
        cases.append({
            "name": name, "channels": c, "momentum": layer.momentum, "eps": layer.eps,
            "x": tj(x), "weight": tj(weight), "bias": tj(bias),
            "grad_out": tj(g), "y_train": tj(y),
            "grad_x": tj(x.grad), "grad_weight": tj(layer.weight.grad), "grad_bias": tj(layer.bias.grad),
            "running_mean": tj(layer.running_mean), "running_var": tj(layer.running_var),
            "y_eval": tj(y_eval),
        })
    return cases


def write(name, cases):
    doc = {
        "generated_by": "scripts/golden_conv.py",
        "torch_version": torch.__version__,
        "cases": cases,
    }
    path = os.path.join(OUT_DIR, name)
    with open(path, "w") as f:
        # One line per case: small files, readable diffs.
        f.write('{"generated_by": %s, "torch_version": %s, "cases": [\n' % (
            json.dumps(doc["generated_by"]), json.dumps(doc["torch_version"])))
        f.write(",\n".join(json.dumps(c) for c in cases))
        f.write("\n]}\n")
    print("wrote", os.path.normpath(path))


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    write("conv2d.json", conv2d_cases())
    write("conv_transpose2d.json", conv_transpose2d_cases())
    write("batchnorm.json", batchnorm_cases())


if __name__ == "__main__":
    main()
