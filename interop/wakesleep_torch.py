"""Use a model trained by wakesleep from PyTorch.

One module, PyTorch and the standard library only (PyTorch 1.13, Debian's
python3-torch, has no safetensors package, so the format is read here). It
defines the networks of the three experiments with wakesleep's parameter
names (a checkpoint's "model.<name>" tensors are the modules' state-dict
keys) and loads any run folder or checkpoint, config included:

    import sys; sys.path.insert(0, "interop")   # this folder of the repository
    import torch, wakesleep_torch as ws
    model = ws.load("runs/RUN")                  # a run folder (its newest good checkpoint) or a .safetensors file
    x = model.sample(16, noise=torch.Generator().manual_seed(1))   # 16 sleep samples, pixels in [0, 1]
    print(model.experiment, model.step, x.shape)

Every stochastic method takes noise=: None (torch's global generator), a
torch.Generator, a function shape → standard normal tensor, or a sequence of
standard normal tensors, consumed in the order the Go code draws them (each
method's docstring gives it). The last two reproduce wakesleep's outputs for
the same inputs and noise, which interop/parity.py checks against Go to 1e-5.

What the networks are is read from the checkpoint's metadata
"wakesleep.architecture" (model.*.Describe in Go: activations, the mean/std
split of each Gaussian unit and its σ map, the merge rule, critic
convolutions, pixel scale); checkpoints written before that metadata existed
are described from their config by the same rules (describe_config).

Shapes: MNIST x [B, 784], z [B, Z]; CIFAR-10 layer i [B, C_i, 32/2^i, 32/2^i]
(layer 0 the image); Moving MNIST frames [B, 1, S, S], latents
[B, Hidden, S/P, S/P]. Model pixels are on the run's pixel scale ("unit":
[0, 1]; "sym": [-1, 1]); to_unit and from_unit convert.
"""

import glob
import hashlib
import json
import math
import os
import re
import struct
import warnings

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "read_safetensors", "latest_checkpoint", "load", "load_checkpoint", "build", "describe_config",
    "MNIST", "CIFAR10", "MovingMNIST", "GaussianLayer", "RecurrentStochastic", "MLPCritic",
    "ConvGaussian", "LayerCritic", "ConvLSTM", "ConvCritic", "space_to_depth", "depth_to_space", "pixel_norm",
]

CHECKSUM_KEY = "wakesleep.sha256"
CONFIG_KEY = "wakesleep.config"
ARCHITECTURE_KEY = "wakesleep.architecture"
DESCRIPTION_VERSION = 1  # model.DescriptionVersion
PIXEL_NORM_EPS = 1e-8  # nn.PixelNormEps

# ---------------------------------------------------------------------------
# safetensors

_DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8), "I64": (torch.int64, 8), "U8": (torch.uint8, 1)}


def read_safetensors(path, verify=True):
    """Reads a safetensors file: returns ({name: tensor}, {metadata}).

    The layout: 8 bytes little-endian header length N, N bytes of JSON
    {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then the
    data section, each tensor little-endian at [begin, end) of it. With
    verify, the "wakesleep.sha256" metadata (if present) must match the data
    section. Raises ValueError naming the file on any malformed content.
    """
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: truncated: {len(blob)} bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise ValueError(f"{path}: truncated: header length {n}, {len(blob) - 8} bytes follow")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: header is not a JSON object")
    data = blob[8 + n:]
    meta = header.pop("__metadata__", None) or {}
    if verify and CHECKSUM_KEY in meta:
        got = hashlib.sha256(data).hexdigest()
        if got != meta[CHECKSUM_KEY].lower():
            raise ValueError(f"{path}: checksum mismatch: data sha256 {got}, header says {meta[CHECKSUM_KEY]}")
    tensors = {}
    for name, info in header.items():
        if info.get("dtype") not in _DTYPES:
            raise ValueError(f"{path}: tensor {name!r}: unsupported dtype {info.get('dtype')!r}")
        dtype, size = _DTYPES[info["dtype"]]
        shape = [int(d) for d in info["shape"]]
        begin, end = info["data_offsets"]
        if not 0 <= begin <= end <= len(data) or end - begin != size * math.prod(shape):
            raise ValueError(
                f"{path}: tensor {name!r}: data_offsets {[begin, end]} do not fit shape {shape} of {info['dtype']}")
        if end == begin:  # torch.frombuffer refuses empty buffers
            tensors[name] = torch.empty(shape, dtype=dtype)
        else:
            tensors[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype).reshape(shape)
    return tensors, meta


_CKPT = re.compile(r"^ckpt-(\d+)\.safetensors$")


def latest_checkpoint(run_dir):
    """Returns the path of the newest checkpoint of a run folder that reads
    and verifies ("ckpt-<step>.safetensors"), warning about newer corrupt
    ones, as wakesleep itself does."""
    found = []
    for p in glob.glob(os.path.join(glob.escape(run_dir), "ckpt-*.safetensors")):
        m = _CKPT.match(os.path.basename(p))
        if m:
            found.append((int(m.group(1)), p))
    if not found:
        raise FileNotFoundError(f"run folder {run_dir}: no ckpt-<step>.safetensors checkpoint")
    bad = []
    for _, p in sorted(found, reverse=True):
        try:
            read_safetensors(p)
        except ValueError as e:
            bad.append(str(e))
            continue
        if bad:
            warnings.warn(f"skipped {len(bad)} newer corrupt checkpoint(s): {'; '.join(bad)}")
        return p
    raise ValueError(f"run folder {run_dir}: every checkpoint is corrupt: {'; '.join(bad)}")


# ---------------------------------------------------------------------------
# noise and pixels


class _Noise:
    """A source of standard normal noise: torch's generator, a function of
    the shape, or given tensors."""

    def __init__(self, noise):
        self.gen, self.fn, self.it, self.used = None, None, None, 0
        if isinstance(noise, torch.Generator):
            self.gen = noise
        elif callable(noise):
            self.fn = noise
        elif noise is not None:
            self.it = iter(noise)

    def __call__(self, like, shape=None):
        shape = tuple(like.shape) if shape is None else tuple(shape)
        self.used += 1
        if self.fn is not None:
            eps = self.fn(shape)
        elif self.it is not None:
            try:
                eps = next(self.it)
            except StopIteration:
                raise ValueError(f"noise ran out: draw {self.used} of shape {list(shape)} has no tensor") from None
        else:
            return torch.randn(shape, dtype=like.dtype, device=like.device, generator=self.gen)
        if tuple(eps.shape) != shape:
            raise ValueError(f"noise draw {self.used} is {list(eps.shape)}, the model draws {list(shape)}")
        return eps.to(dtype=like.dtype, device=like.device)


def _noise(noise):
    return noise if isinstance(noise, _Noise) else _Noise(noise)


def _prior(like, shape, noise):
    """A standard normal draw of shape, typed like like."""
    return _noise(noise)(like, shape)


def _gaussian_std(s, std, max_std):
    if std == "softplus":
        return F.softplus(s)
    return torch.sigmoid(s) * max_std  # "sigmoid"


def _check(desc, key, want, where):
    got = desc.get(key)
    if got not in want:
        raise ValueError(f"{where}: {key} {got!r} is not one this module implements ({', '.join(map(repr, want))})")
    return got


class _Model(nn.Module):
    """What every model shares: description, config, pixel scale."""

    def __init__(self, desc):
        super().__init__()
        self.architecture = desc
        self.pixel_scale = _check(desc, "pixel_scale", ("unit", "sym"), "pixel scale")
        self.config, self.step, self.checkpoint, self.experiment = None, None, None, desc["model"]

    def to_unit(self, x):
        """Model pixels → [0, 1] (not clamped)."""
        return (x + 1) / 2 if self.pixel_scale == "sym" else x

    def from_unit(self, x):
        """Pixels in [0, 1] → the model's scale (byte/255 or byte/127.5 − 1)."""
        return x * 2 - 1 if self.pixel_scale == "sym" else x

    def _like(self):
        return next(self.parameters())


# ---------------------------------------------------------------------------
# MNIST (model/mnist.go, model/gaussian.go, model/critic.go)


class GaussianLayer(nn.Module):
    """model.GaussianLayer: h = ReLU(hidden(in)); [μ, s] = out(h); σ = softplus(s)
    or max_std·sigmoid(s); sample μ + σ·ε."""

    def __init__(self, d_in, hidden, d_out, std="softplus", max_std=0.0):
        super().__init__()
        self.hidden = nn.Linear(d_in, hidden)
        self.out = nn.Linear(hidden, 2 * d_out)
        self.std, self.max_std = std, max_std

    def moments(self, x):
        o = self.out(F.relu(self.hidden(x)))  # [B, 2·Out]
        n = o.shape[1] // 2
        return o[:, :n], _gaussian_std(o[:, n:], self.std, self.max_std)

    def sample(self, x, noise=None):
        """One draw [B, Out]."""
        mean, std = self.moments(x)
        return mean + std * _noise(noise)(mean)


class RecurrentStochastic(nn.Module):
    """model.RecurrentStochastic: s₀ = sample(first(in)); then steps times
    s ← (s + sample(recur(s))) / 2 (the mean merge)."""

    def __init__(self, d_in, hidden, d_out, steps, std="softplus", max_std=0.0):
        super().__init__()
        self.first = GaussianLayer(d_in, hidden, d_out, std, max_std)
        self.recur = GaussianLayer(d_out, hidden, d_out, std, max_std)
        self.steps = steps

    def forward(self, x, noise=None):
        """Draws: first's [B, Out], then one [B, Out] per recurrent step."""
        noise = _noise(noise)
        s = self.first.sample(x, noise)
        for _ in range(self.steps):
            s = (s + self.recur.sample(s, noise)) * 0.5
        return s

    def mean(self, x):
        s, _ = self.first.moments(x)
        for _ in range(self.steps):
            m, _ = self.recur.moments(s)
            s = (s + m) * 0.5
        return s


class MLPCritic(nn.Module):
    """model.MLPCritic: depth Linear layers with LeakyReLU(slope), then a
    linear scalar; layers named fc1 … fc<depth+1>."""

    def __init__(self, d_in, width, depth, slope=0.2):
        super().__init__()
        dims = [d_in] + [width] * depth + [1]
        for i, (a, b) in enumerate(zip(dims, dims[1:])):
            self.add_module(f"fc{i + 1}", nn.Linear(a, b))
        self.depth, self.slope = depth, slope

    def layers(self):
        return [getattr(self, f"fc{i + 1}") for i in range(self.depth + 1)]

    def hidden_layers(self, x):
        """Every hidden layer's activity, first to last."""
        out = []
        for layer in self.layers()[:-1]:
            x = F.leaky_relu(layer(x), self.slope)
            out.append(x)
        return out

    def features(self, x):
        return self.hidden_layers(x)[-1]

    def forward_features(self, x):
        f = self.features(x)
        return self.layers()[-1](f), f

    def forward(self, x):
        return self.layers()[-1](self.features(x))


class MNIST(_Model):
    """model.MNIST: inference q(z|x) and generation p(x|z), prior N(0, I),
    and the critics: critic_xz on concat(x, z) (global), or critic_x and
    critic_z (local)."""

    def __init__(self, desc):
        super().__init__(desc)
        g = desc["gaussian"]
        _check(g, "hidden_activation", ("relu",), "mnist gaussian")
        _check(g, "split", ("mean|std",), "mnist gaussian")
        _check(g, "sample", ("mean+std*eps",), "mnist gaussian")
        std = _check(g, "std", ("softplus", "sigmoid"), "mnist gaussian")
        _check(desc, "merge", ("mean",), "mnist")
        _check(desc, "prior", ("standard_normal",), "mnist")
        c = desc["critic"]
        _check(c, "activation", ("leaky_relu",), "mnist critic")
        kind = _check(c, "kind", ("global", "local"), "mnist critic")
        max_std = float(g.get("max_std", 0))
        xd, zd, h, k = desc["x_dim"], desc["z_dim"], desc["hidden"], desc["recurrent_steps"]
        self.x_dim, self.z_dim = xd, zd
        self.inference = RecurrentStochastic(xd, h, zd, k, std, max_std)
        self.generator = RecurrentStochastic(zd, h, xd, k, std, max_std)
        if kind == "global":
            self.critic_xz = MLPCritic(xd + zd, c["width"], c["depth"], c["slope"])
        else:
            self.critic_x = MLPCritic(xd, c["width"], c["depth"], c["slope"])
            self.critic_z = MLPCritic(zd, c["width"], c["depth"], c["slope"])

    def infer(self, x, noise=None):
        """z ~ q(z|x) [B, Z]. Draws: [B, Z] × (1 + recurrent_steps)."""
        return self.inference(x, noise)

    def generate(self, z, noise=None):
        """x ~ p(x|z) [B, 784], model pixels. Draws: [B, 784] × (1 + recurrent_steps)."""
        return self.generator(z, noise)

    def infer_mean(self, x):
        return self.inference.mean(x)

    def generate_mean(self, z):
        return self.generator.mean(z)

    def prior(self, n, noise=None):
        """z ~ N(0, I) [n, Z]. Draws: [n, Z]."""
        return _prior(self._like(), (n, self.z_dim), noise)

    def sample(self, n, noise=None):
        """n sleep samples, x ~ p(x|z), z ~ N(0, I), as pixels in [0, 1]
        [n, 784] (not clamped). Draws: the prior's, then generate's."""
        noise = _noise(noise)
        return self.to_unit(self.generate(self.prior(n, noise), noise))

    def reconstruct(self, x, noise=None):
        """x → z ~ q(z|x) → x̂ ~ p(x|z), model pixels."""
        noise = _noise(noise)
        return self.generate(self.infer(x, noise), noise)


# ---------------------------------------------------------------------------
# CIFAR-10 (model/cifar10.go)


def _conv_args(spec):
    k, stride, pad = spec
    return dict(kernel_size=k, stride=stride, padding=pad)


def pixel_norm(x, eps=PIXEL_NORM_EPS):
    """nn.PixelNorm: x / √(mean over channels of x² + ε)."""
    return x / torch.sqrt(x.square().mean(1, keepdim=True) + eps)


class ConvGaussian(nn.Module):
    """model.ConvGaussian: h = ReLU(down(in)) (inference) or ReLU(up(in))
    (generation); [μ, s] = out(h) over channels; σ = softplus(s), or
    max_std·sigmoid(s)."""

    def __init__(self, d_in, hidden, d_out, up, resample, out_spec, std="softplus", max_std=0.0, mean_norm=False):
        super().__init__()
        self.std, self.max_std, self.mean_norm = std, max_std, mean_norm
        if up:
            self.up = nn.ConvTranspose2d(d_in, hidden, **_conv_args(resample))
        else:
            self.down = nn.Conv2d(d_in, hidden, **_conv_args(resample))
        self.out = nn.Conv2d(hidden, 2 * d_out, **_conv_args(out_spec))
        self.is_up = up

    def moments(self, x):
        h = self.up(x) if self.is_up else self.down(x)
        o = self.out(F.relu(h))  # [B, 2·Out, S', S']
        n = o.shape[1] // 2
        mean = pixel_norm(o[:, :n]) if self.mean_norm else o[:, :n]
        return mean, _gaussian_std(o[:, n:], self.std, self.max_std)

    def sample(self, x, noise=None):
        mean, std = self.moments(x)
        return mean + std * _noise(noise)(mean)


class LayerCritic(nn.Module):
    """model.LayerCritic: conv1 → LeakyReLU → PixelNorm → conv2 → LeakyReLU →
    PixelNorm → flatten → out."""

    def __init__(self, d_in, channels, size, conv1, conv2, slope=0.2, eps=PIXEL_NORM_EPS):
        super().__init__()
        self.conv1 = nn.Conv2d(d_in, channels, **_conv_args(conv1))
        self.conv2 = nn.Conv2d(channels, 2 * channels, **_conv_args(conv2))
        s = size
        for k, stride, pad in (conv1, conv2):
            s = (s + 2 * pad - k) // stride + 1
        self.out = nn.Linear(2 * channels * s * s, 1)
        self.slope, self.eps = slope, eps

    def features(self, z):
        h = pixel_norm(F.leaky_relu(self.conv1(z), self.slope), self.eps)
        h = pixel_norm(F.leaky_relu(self.conv2(h), self.slope), self.eps)
        return h.flatten(1)

    def forward_features(self, z):
        f = self.features(z)
        return self.out(f), f

    def forward(self, z):
        return self.out(self.features(z))


class CIFAR10(_Model):
    """model.CIFAR10: inference[i] (layer i → i+1), generation[i] (layer i+1 →
    i), prior N(0, I) on the top layer, critic[i] on layer i (0: the image)."""

    def __init__(self, desc):
        super().__init__(desc)
        g = desc["gaussian"]
        for key, want in (("hidden_activation", "relu"), ("split", "mean|std"), ("sample", "mean+std*eps")):
            _check(g, key, (want,), "cifar10 gaussian")
        std = _check(g, "std", ("softplus", "sigmoid"), "cifar10 gaussian")
        max_std = float(g.get("max_std", 0))
        # "pixel_norm_but_image": every arrow's mean through pixel_norm but
        # the image's generation arrow (model.CIFAR10Config.MeanNorm).
        mean_norm = "mean" in g and _check(g, "mean", ("pixel_norm_but_image",), "cifar10 gaussian") is not None
        _check(desc, "prior", ("standard_normal",), "cifar10")
        if desc["generation"].get("output_padding", 0) != 0:
            raise ValueError("cifar10: generation output_padding must be 0")
        for a in desc["activations"]:
            if a not in ("linear", "relu,pixel_norm"):
                raise ValueError(f"cifar10: layer activation {a!r} is not one this module implements")
        c = desc["critic"]
        _check(c, "activation", ("leaky_relu",), "cifar10 critic")
        _check(c, "norm", ("pixel_norm",), "cifar10 critic")
        chans = [desc["image_channels"]] + list(desc["channels"])
        L = len(chans) - 1
        self.channels, self.image_size, self.layers = chans, desc["image_size"], L
        self.activations = list(desc["activations"])
        self.eps = desc.get("pixel_norm_eps", PIXEL_NORM_EPS)
        down, up, out = desc["inference"]["down"], desc["generation"]["up"], desc["out"]
        self.inference = nn.ModuleList(
            ConvGaussian(chans[i], desc["hidden"][i], chans[i + 1], False, down, out, std, max_std, mean_norm)
            for i in range(L))
        self.generation = nn.ModuleList(
            ConvGaussian(chans[i + 1], desc["hidden"][i], chans[i], True, up, out, std, max_std, mean_norm and i > 0)
            for i in range(L))
        self.critic = nn.ModuleList(
            LayerCritic(chans[i], s["channels"], self.layer_size(i), s["conv1"], s["conv2"], c["slope"],
                        c.get("pixel_norm_eps", PIXEL_NORM_EPS))
            for i, s in enumerate(c["layers"]))

    def layer_size(self, i):
        return self.image_size >> i

    def activate(self, i, s):
        """Layer i's activation of a sample: ReLU then PixelNorm, or none."""
        return pixel_norm(F.relu(s), self.eps) if self.activations[i] == "relu,pixel_norm" else s

    def infer_step(self, i, z, noise=None):
        return self.activate(i + 1, self.inference[i].sample(z, noise))

    def generate_step(self, i, z, noise=None):
        return self.activate(i, self.generation[i].sample(z, noise))

    def generate_mean(self, i, z):
        """Layer i's activation of the mean of p(z_i | z_{i+1})."""
        mean, _ = self.generation[i].moments(z)
        return self.activate(i, mean)

    def infer(self, x, noise=None):
        """[x, z₁, …, z_L], each sampled from the one below. Draws: one of
        each layer's shape, z₁ first."""
        noise = _noise(noise)
        zs = [x]
        for i in range(self.layers):
            zs.append(self.infer_step(i, zs[i], noise))
        return zs

    def generate(self, top, noise=None):
        """[x, z₁, …, z_L] from z_L, each sampled from the one above. Draws:
        one of each layer's shape, z_{L−1} first, the image last."""
        noise = _noise(noise)
        zs = [None] * (self.layers + 1)
        zs[-1] = top
        for i in range(self.layers - 1, -1, -1):
            zs[i] = self.generate_step(i, zs[i + 1], noise)
        return zs

    def prior(self, n, noise=None):
        """z_L ~ N(0, I), through the top layer's activation. Draws: one."""
        s = self.layer_size(self.layers)
        return self.activate(self.layers, _prior(self._like(), (n, self.channels[-1], s, s), noise))

    def sample(self, n, noise=None):
        """n sleep samples [n, 3, 32, 32] as pixels in [0, 1] (not clamped)."""
        noise = _noise(noise)
        return self.to_unit(self.generate(self.prior(n, noise), noise)[0])

    def reconstruct(self, x, noise=None):
        """x → z_L (bottom-up) → x̂ (top-down), model pixels."""
        noise = _noise(noise)
        return self.generate(self.infer(x, noise)[-1], noise)[0]


# ---------------------------------------------------------------------------
# Moving MNIST (model/movingmnist.go, model/convlstm.go, model/convcritic.go)


def space_to_depth(x, p):
    """[B, C, H, W] → [B, C·p², H/p, W/p], out[b, c·p²+u·p+v, i, j] = x[b, c, i·p+u, j·p+v]."""
    if p == 1:
        return x
    b, c, h, w = x.shape
    return x.reshape(b, c, h // p, p, w // p, p).permute(0, 1, 3, 5, 2, 4).reshape(b, c * p * p, h // p, w // p)


def depth_to_space(x, p):
    """The inverse of space_to_depth."""
    if p == 1:
        return x
    b, cp, h, w = x.shape
    c = cp // (p * p)
    return x.reshape(b, c, p, p, h, w).permute(0, 1, 4, 2, 5, 3).reshape(b, c, h * p, w * p)


class ConvLSTM(nn.Module):
    """model.ConvLSTM: [i, f, g, o] = gates(concat(x, h)); c = σ(f)·c_prev +
    σ(i)·tanh(g); m = σ(o)·tanh(c); [μ, s] = head(m); h = μ + softplus(s)·ε."""

    def __init__(self, d_in, hidden, kernel):
        super().__init__()
        self.gates = nn.Conv2d(d_in + hidden, 4 * hidden, kernel, padding=kernel // 2)
        self.head = nn.Conv2d(hidden, 2 * hidden, 1)
        self.hidden = hidden

    def moments(self, x, h=None, c_prev=None):
        """(μ, σ, c) of the next hidden state; h or c_prev None mean zeros."""
        b, _, hh, ww = x.shape
        if h is None:
            h = x.new_zeros(b, self.hidden, hh, ww)
        a = self.gates(torch.cat([x, h], 1))  # [B, 4·Hidden, H, W]
        i, f, g, o = a.chunk(4, 1)
        c = torch.sigmoid(i) * torch.tanh(g)
        if c_prev is not None:
            c = torch.sigmoid(f) * c_prev + c
        m = torch.sigmoid(o) * torch.tanh(c)
        mean, s = self.head(m).chunk(2, 1)
        return mean, F.softplus(s), c

    def step(self, x, state, noise=None):
        """state (h, c) → (h, c), h sampled. Draws: one [B, Hidden, H, W]."""
        mean, std, c = self.moments(x, *state)
        return mean + std * _noise(noise)(mean), c


class ConvCritic(nn.Module):
    """model.ConvCritic: conv1 → [bn1] → LeakyReLU → conv2 → [bn2] → LeakyReLU
    → flatten → out. training selects batch statistics (and updates the
    running ones, as Go does) or the running statistics."""

    def __init__(self, d_in, channels, size, norm, conv1, conv2, slope=0.2, bn_eps=1e-5):
        super().__init__()
        bias = norm != "batch"
        self.conv1 = nn.Conv2d(d_in, channels, bias=bias, **_conv_args(conv1))
        self.conv2 = nn.Conv2d(channels, 2 * channels, bias=bias, **_conv_args(conv2))
        if norm == "batch":
            self.bn1 = nn.BatchNorm2d(channels, eps=bn_eps)
            self.bn2 = nn.BatchNorm2d(2 * channels, eps=bn_eps)
        s = size
        for k, stride, pad in (conv1, conv2):
            s = (s + 2 * pad - k) // stride + 1
        self.out = nn.Linear(2 * channels * s * s, 1)
        self.norm, self.slope = norm, slope

    def _bn(self, bn, h, training):
        return F.batch_norm(h, bn.running_mean, bn.running_var, bn.weight, bn.bias, training, bn.momentum, bn.eps)

    def features(self, x, training=False):
        h = self.conv1(x)
        if self.norm == "batch":
            h = self._bn(self.bn1, h, training)
        h = self.conv2(F.leaky_relu(h, self.slope))
        if self.norm == "batch":
            h = self._bn(self.bn2, h, training)
        return F.leaky_relu(h, self.slope).flatten(1)

    def forward_features(self, x, training=False):
        f = self.features(x, training)
        return self.out(f), f

    def forward(self, x, training=False):
        return self.out(self.features(x, training))


class MovingMNIST(_Model):
    """model.MovingMNIST: stochastic ConvLSTM encoder (its sampled hidden state
    is z_t) and decoder, a readout to the next frame, critics critic_x
    (frames) and critic_z (latents). A state is ((h_enc, c_enc), (h_dec, c_dec))."""

    def __init__(self, desc):
        super().__init__(desc)
        lstm = desc["lstm"]
        for key, want in (("input", "concat(x, h)"), ("gates", "i,f,g,o"), ("split", "mean|std"),
                          ("std", "softplus"), ("sample", "mean+std*eps")):
            _check(lstm, key, (want,), "movingmnist lstm")
        if list(lstm["head"]) != [1, 1, 0] or list(desc["readout_conv"]) != [3, 1, 1]:
            raise ValueError("movingmnist: head must be 1×1 and readout convolutions 3×3 'same'")
        _check(desc, "readout", ("sigmoid(depth_to_space(readout2(relu(readout1(h)))))",), "movingmnist")
        _check(desc, "prior", ("standard_normal",), "movingmnist")
        c = desc["critic"]
        _check(c, "activation", ("leaky_relu",), "movingmnist critic")
        norm = _check(c, "norm", ("batch", "none"), "movingmnist critic")
        p, hid, k = desc["patch"], desc["hidden"], desc["kernel"]
        self.patch, self.hidden, self.frame_size = p, hid, desc["frame_size"]
        self.grid = self.frame_size // p
        self.encoder = ConvLSTM(p * p, hid, k)
        self.decoder = ConvLSTM(hid, hid, k)
        self.readout1 = nn.Conv2d(hid, desc["readout_hidden"], 3, padding=1)
        self.readout2 = nn.Conv2d(desc["readout_hidden"], p * p, 3, padding=1)
        eps = c.get("batch_norm_eps", 1e-5)
        self.critic_x = ConvCritic(1, c["channels"], self.frame_size, norm, c["conv1"], c["conv2"], c["slope"], eps)
        self.critic_z = ConvCritic(hid, c["channels"], self.grid, norm, c["conv1"], c["conv2"], c["slope"], eps)

    def prior(self, n, noise=None):
        """z ~ N(0, I) [n, Hidden, g, g]. Draws: one."""
        return _prior(self._like(), (n, self.hidden, self.grid, self.grid), noise)

    def initial_state(self, n, noise=None):
        """Encoder h = z₀ ~ N(0, I); everything else zero (None)."""
        return [(self.prior(n, noise), None), (None, None)]

    def encode(self, x, state, noise=None):
        """Infers z_t from frame x [B, 1, S, S]; updates state[0]; returns z_t."""
        state[0] = self.encoder.step(space_to_depth(x, self.patch), state[0], noise)
        return state[0][0]

    def decode(self, z, state, noise=None):
        """Steps the decoder on z; updates state[1]; returns the predicted
        next frame [B, 1, S, S] in (0, 1)."""
        state[1] = self.decoder.step(z, state[1], noise)
        return self.readout(state[1][0])

    def readout(self, h):
        r = self.readout2(F.relu(self.readout1(h)))
        return torch.sigmoid(depth_to_space(r, self.patch))

    def rollout(self, frames, context, horizon, teacher_forcing=False, noise=None):
        """model.MovingMNIST.Rollout: returns (zs, preds), zs[t] the latent
        after frame t, preds[t] the prediction of frame t (preds[0] None).
        The encoder reads frames[t] for t < context (or always, with
        teacher forcing), else its own prediction. Draws: the initial z₀,
        then for each t an encoder and a decoder draw."""
        noise = _noise(noise)
        n = context + horizon
        zs, preds = [None] * (n - 1), [None] * n
        state = self.initial_state(frames[0].shape[0], noise)
        for t in range(n - 1):
            x = frames[t] if t < context or teacher_forcing else preds[t]
            zs[t] = self.encode(x, state, noise)
            preds[t + 1] = self.decode(zs[t], state, noise)
        return zs, preds

    def dream(self, n, steps, noise=None):
        """model.MovingMNIST.Dream: z₀ ~ N(0, I), then x_k = decode(z_{k−1}),
        z_k = encode(x_k); returns (xs, zs), the pairs (x_k, z_{k−1}).
        Draws: z₀, then a decoder draw and (but for the last) an encoder draw
        per step."""
        noise = _noise(noise)
        state = self.initial_state(n, noise)
        z = state[0][0]
        xs, zs = [], []
        for k in range(steps):
            zs.append(z)
            x = self.decode(z, state, noise)
            xs.append(x)
            if k < steps - 1:
                z = self.encode(x, state, noise)
        return xs, zs

    def sample(self, n, steps=None, noise=None):
        """n dreams of steps frames (default: the run's sleep steps, else
        10), [n, steps, 1, S, S] in (0, 1)."""
        if steps is None:
            steps = ((self.config or {}).get("objective") or {}).get("sleep_steps", 10)
        xs, _ = self.dream(n, steps, noise)
        return torch.stack(xs, 1)


# ---------------------------------------------------------------------------
# building and loading

_MODELS = {"mnist": MNIST, "cifar10": CIFAR10, "movingmnist": MovingMNIST}
# Experiments that train another experiment's model.
_EXPERIMENT_MODEL = {"mnist": "mnist", "fashionmnist": "mnist", "cifar10": "cifar10", "movingmnist": "movingmnist"}


def _critic_conv(s):
    """model.criticConv: (kernel, stride, pad) of a CIFAR-10 critic conv on a side of s, and its output side."""
    if s >= 4:
        return [4, 2, 1], s // 2
    if s >= 2:
        return [3, 1, 1], s
    return [1, 1, 0], s


def describe_config(config):
    """The description (as "wakesleep.architecture" holds it) of a format-1
    checkpoint that lacks one, from its config and the rules of the Go code
    that wrote it."""
    exp = config.get("experiment")
    kind = _EXPERIMENT_MODEL.get(exp)
    if kind is None:
        raise ValueError(f"experiment {exp!r} is not one this module knows ({', '.join(sorted(_EXPERIMENT_MODEL))})")
    m = config["model"]
    gauss = {"hidden_activation": "relu", "split": "mean|std", "std": "softplus", "sample": "mean+std*eps"}
    if kind in ("mnist", "cifar10") and m.get("max_std", 0) > 0:
        gauss.update(std="sigmoid", max_std=m["max_std"])
    if kind == "cifar10" and m.get("mean_norm"):
        gauss["mean"] = "pixel_norm_but_image"
    if kind == "mnist":
        return {
            "version": 1, "model": "mnist", "x_dim": m["x_dim"], "z_dim": m["z_dim"], "hidden": m["hidden"],
            "recurrent_steps": m["recurrent_steps"], "gaussian": gauss, "merge": "mean", "prior": "standard_normal",
            "critic": {"kind": m["critic"], "width": m["critic_width"], "depth": m["critic_depth"],
                       "activation": "leaky_relu", "slope": 0.2},
            "pixel_scale": config["pixel_scale"],
        }
    if kind == "cifar10":
        chans = [m["image_channels"]] + list(m["channels"])
        L = len(m["channels"])
        hidden = m.get("hidden") or [max(chans[i], chans[i + 1]) for i in range(L)]
        acts = ["linear"] + ["relu,pixel_norm"] * L
        if m["top_activation"] == "linear":
            acts[L] = "linear"
        critics = []
        for i in range(L + 1):
            c1, s1 = _critic_conv(m["image_size"] >> i)
            c2, _ = _critic_conv(s1)
            critics.append({"channels": m["critic_channels"][i], "conv1": c1, "conv2": c2})
        return {
            "version": 1, "model": "cifar10", "image_channels": m["image_channels"], "image_size": m["image_size"],
            "channels": m["channels"], "hidden": hidden, "inference": {"down": [4, 2, 1]},
            "generation": {"up": [4, 2, 1], "output_padding": 0},
            "out": [m["out_kernel"], 1, (m["out_kernel"] - 1) // 2], "gaussian": gauss, "activations": acts,
            "pixel_norm_eps": PIXEL_NORM_EPS, "prior": "standard_normal",
            "critic": {"layers": critics, "activation": "leaky_relu", "slope": 0.2, "norm": "pixel_norm",
                       "pixel_norm_eps": PIXEL_NORM_EPS},
            "pixel_scale": config["pixel_scale"],
        }
    critic = {"channels": m["critic_channels"], "conv1": [4, 2, 1], "conv2": [4, 2, 1], "norm": m["critic_norm"],
              "activation": "leaky_relu", "slope": 0.2}
    if m["critic_norm"] == "batch":
        critic["batch_norm_eps"] = 1e-5
    return {
        "version": 1, "model": "movingmnist", "frame_size": m["frame_size"], "patch": m["patch"],
        "space_to_depth": "out[b, c*p*p + u*p + v, i, j] = x[b, c, i*p + u, j*p + v]",
        "hidden": m["hidden"], "kernel": m["kernel"],
        "lstm": {"input": "concat(x, h)", "gates": "i,f,g,o", "cell": "c = sigmoid(f)*c_prev + sigmoid(i)*tanh(g)",
                 "output": "sigmoid(o)*tanh(c)", "head": [1, 1, 0], "split": "mean|std",
                 "std": "softplus", "sample": "mean+std*eps"},
        "initial_state": "encoder h = z0 ~ N(0, I); encoder c, decoder h and c zero",
        "readout_hidden": m["readout_hidden"], "readout": "sigmoid(depth_to_space(readout2(relu(readout1(h)))))",
        "readout_conv": [3, 1, 1], "prior": "standard_normal", "critic": critic, "pixel_scale": "unit",
    }


def build(desc):
    """An untrained model of a description."""
    if desc.get("version") != DESCRIPTION_VERSION:
        raise ValueError(
            f"architecture version {desc.get('version')!r}: this module reads version {DESCRIPTION_VERSION}")
    cls = _MODELS.get(desc.get("model"))
    if cls is None:
        raise ValueError(f"model {desc.get('model')!r} is not one this module knows ({', '.join(_MODELS)})")
    return cls(desc)


def _load_state(model, tensors, path):
    """Copies "model.<name>" and "buffer.<name>" tensors into model; every
    parameter and buffer must be there with its shape, and no model tensor
    may be left over."""
    have = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    have.update({k[len("buffer."):]: v for k, v in tensors.items() if k.startswith("buffer.")})
    state = model.state_dict()
    missing = [k for k in state if k not in have and not k.endswith("num_batches_tracked")]
    extra = [k for k in have if k not in state]
    if missing or extra:
        raise ValueError(f"{path}: checkpoint and model disagree: missing {missing}, unexpected {extra}")
    with torch.no_grad():
        for k, v in have.items():
            if tuple(state[k].shape) != tuple(v.shape):
                raise ValueError(f"{path}: tensor {k!r} is {list(v.shape)}, the model wants {list(state[k].shape)}")
            state[k].copy_(v)


def load_checkpoint(path, dtype=torch.float32):
    """The model of one checkpoint file, its weights loaded, in eval mode."""
    tensors, meta = read_safetensors(path)
    if CONFIG_KEY not in meta:
        raise ValueError(f"{path}: no {CONFIG_KEY} metadata: not a wakesleep training checkpoint")
    config = json.loads(meta[CONFIG_KEY])
    if ARCHITECTURE_KEY in meta:
        desc = json.loads(meta[ARCHITECTURE_KEY])
    else:
        desc = describe_config(config)
    model = build(desc).to(dtype)
    _load_state(model, tensors, path)
    model.config, model.checkpoint = config, path
    model.experiment = config.get("experiment", desc["model"])
    model.step = int(meta.get("wakesleep.step", -1))
    return model.eval().requires_grad_(False)


def load(path, dtype=torch.float32):
    """The model of a run folder (its newest good checkpoint) or of a
    checkpoint file, with .config (the run's config), .architecture, .step,
    .checkpoint (the file read) and .experiment set. Parameters are frozen
    (requires_grad False); call requires_grad_() to train on."""
    if os.path.isdir(path):
        path = latest_checkpoint(path)
    return load_checkpoint(path, dtype)
