package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/experiment/cifar10"
	"github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/experiment/movingmnist"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/tensor"
	"github.com/wakesleep/wakesleep/train"
)

// The PyTorch interop check: a tiny model of each experiment trains two
// steps in Go; Go then computes the networks' outputs on fixed inputs,
// recording every standard normal they draw; interop/parity.py loads the run
// folder with interop/wakesleep_torch.py and must reproduce those outputs,
// feeding the same noise in the same order, to 1e-5 (in float64 and float32).
//
// The check needs /usr/bin/python3 with torch (Debian's python3-torch; or
// the python named by WAKESLEEP_PYTHON). Without it the test skips, unless
// WAKESLEEP_REQUIRE_TORCH=1 (as in CI), when it fails.

// parityTol is the largest difference allowed between Go's float32 outputs
// and PyTorch's (the bound).
const parityTol = 1e-5

// parityCase is one call of the model that parity.py repeats.
type parityCase struct {
	Name    string `json:"name"`
	Call    string `json:"call"` // method of the PyTorch model, dotted ("critic.2.forward_features")
	Args    []any  `json:"args"` // {"t": tensor}, {"ts": [tensors]} or literals
	Outputs int    `json:"outputs"`
}

// parityCases collects a run's cases and their tensors.
type parityCases struct {
	t       *testing.T
	cases   []parityCase
	tensors map[string]*tensor.Tensor
	seed    uint64
}

func newParityCases(t *testing.T) *parityCases {
	return &parityCases{t: t, tensors: map[string]*tensor.Tensor{}}
}

// tensor stores x as an argument and returns its reference.
func (c *parityCases) tensor(name string, x *tensor.Tensor) map[string]any {
	c.tensors[name] = x
	return map[string]any{"t": name}
}

// tensorList stores xs as one list argument.
func (c *parityCases) tensorList(name string, xs []*tensor.Tensor) map[string]any {
	var names []string
	for i, x := range xs {
		n := fmt.Sprintf("%s.%d", name, i)
		c.tensors[n] = x
		names = append(names, n)
	}
	return map[string]any{"ts": names}
}

// add runs f with a fresh noise generator and records the case: its
// arguments, every normal f drew (in order) and its outputs.
func (c *parityCases) add(name, call string, args []any, f func(rng *rand.Rand) []*ad.Var) {
	c.t.Helper()
	c.seed++
	src := rand.NewPCG(c.seed, 0x1a7e)
	outs := f(rand.New(src))
	if noise := drawn(c.t, c.seed, src); noise != nil {
		c.tensors[name+".noise"] = noise
	}
	for k, o := range outs {
		c.tensors[fmt.Sprintf("%s.out.%d", name, k)] = o.Value
	}
	c.cases = append(c.cases, parityCase{Name: name, Call: call, Args: args, Outputs: len(outs)})
}

// drawn returns the standard normals a call drew from src, which started at
// (seed, 0x1a7e): a twin generator draws until it stands where src stands.
// Every draw of the models is tensor.RandNormal (one NormFloat64 per
// element), so this is the noise, element by element, float32 as the
// models round it. Nil if nothing was drawn.
func drawn(t *testing.T, seed uint64, src *rand.PCG) *tensor.Tensor {
	t.Helper()
	end, _ := src.MarshalBinary()
	twin := rand.NewPCG(seed, 0x1a7e)
	rng := rand.New(twin)
	var v []float32
	for {
		at, _ := twin.MarshalBinary()
		if bytes.Equal(at, end) {
			break
		}
		if len(v) > 1<<22 {
			t.Fatalf("noise stream: no match after %d draws (a draw that is not NormFloat64?)", len(v))
		}
		v = append(v, float32(rng.NormFloat64()))
	}
	if len(v) == 0 {
		return nil
	}
	return tensor.FromFloat32(v, len(v))
}

// write saves the cases as a safetensors file for parity.py.
func (c *parityCases) write(path string) {
	c.t.Helper()
	j, err := json.Marshal(c.cases)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := checkpoint.Save(path, c.tensors, map[string]string{"cases": string(j)}); err != nil {
		c.t.Fatal(err)
	}
}

func vars(ts ...*tensor.Tensor) []*ad.Var {
	out := make([]*ad.Var, len(ts))
	for i, x := range ts {
		out[i] = ad.Const(x)
	}
	return out
}

// mnistCases are the calls of the MNIST model: both directions sampled and
// at their means, and the critics with their hidden layers.
func mnistCases(t *testing.T, tr *train.Trainer, c *parityCases) {
	v, err := mnist.View(tr)
	if err != nil {
		t.Fatal(err)
	}
	m := v.Model
	in := rand.New(rand.NewPCG(7, 7))
	const B = 4
	lo := 0.0
	if v.Config.PixelScale == "sym" {
		lo = -1
	}
	x := tensor.RandUniform(in, tensor.Float32, lo, 1, B, m.Config.XDim)
	z := tensor.RandNormal(in, tensor.Float32, B, m.Config.ZDim)
	xa, za := c.tensor("x", x), c.tensor("z", z)
	c.add("infer", "infer", []any{xa}, func(r *rand.Rand) []*ad.Var { return []*ad.Var{m.Infer(ad.Const(x), r)} })
	c.add("generate", "generate", []any{za}, func(r *rand.Rand) []*ad.Var { return []*ad.Var{m.Generate(ad.Const(z), r)} })
	c.add("infer_mean", "infer_mean", []any{xa}, func(*rand.Rand) []*ad.Var { return []*ad.Var{m.InferMean(ad.Const(x))} })
	c.add("generate_mean", "generate_mean", []any{za}, func(*rand.Rand) []*ad.Var { return []*ad.Var{m.GenerateMean(ad.Const(z))} })
	c.add("prior", "prior", []any{B}, func(r *rand.Rand) []*ad.Var { return []*ad.Var{m.Prior(B, r)} })
	c.add("reconstruct", "reconstruct", []any{xa}, func(r *rand.Rand) []*ad.Var {
		return []*ad.Var{m.Generate(m.Infer(ad.Const(x), r), r)}
	})
	if m.Joint != nil {
		xz := c.tensor("xz", ad.Concat(1, ad.Const(x), ad.Const(z)).Value)
		c.add("critic_xz", "critic_xz", []any{xz}, func(*rand.Rand) []*ad.Var { return []*ad.Var{m.Joint.Forward(ad.Const(c.tensors["xz"]))} })
		return
	}
	c.add("critic_x", "critic_x.hidden_layers", []any{xa}, func(*rand.Rand) []*ad.Var {
		_, hidden := m.CriticX.ForwardLayers(ad.Const(x))
		return hidden
	})
	c.add("critic_x_out", "critic_x.forward_features", []any{xa}, func(*rand.Rand) []*ad.Var {
		d, f := m.CriticX.ForwardFeatures(ad.Const(x))
		return []*ad.Var{d, f}
	})
	c.add("critic_z", "critic_z", []any{za}, func(*rand.Rand) []*ad.Var { return []*ad.Var{m.CriticZ.Forward(ad.Const(z))} })
}

// cifarCases are the calls of the CIFAR-10 model: the wake and sleep passes
// through every layer, the prior, a mean step and every critic.
func cifarCases(t *testing.T, tr *train.Trainer, c *parityCases) {
	v, err := cifar10.View(tr)
	if err != nil {
		t.Fatal(err)
	}
	m := v.Model
	in := rand.New(rand.NewPCG(7, 8))
	const B = 2
	L := m.Layers()
	x := tensor.RandUniform(in, tensor.Float32, -1, 1, m.Config.LayerShape(B, 0)...)
	top := tensor.RandNormal(in, tensor.Float32, m.Config.LayerShape(B, L)...)
	xa := c.tensor("x", x)
	c.add("infer", "infer", []any{xa}, func(r *rand.Rand) []*ad.Var { return m.Infer(ad.Const(x), r) })
	c.add("generate", "generate", []any{c.tensor("top", top)}, func(r *rand.Rand) []*ad.Var { return m.Generate(ad.Const(top), r) })
	c.add("prior", "prior", []any{B}, func(r *rand.Rand) []*ad.Var { return []*ad.Var{m.Prior(B, r)} })
	c.add("reconstruct", "reconstruct", []any{xa}, func(r *rand.Rand) []*ad.Var { return []*ad.Var{m.Reconstruct(ad.Const(x), r)} })
	zs := m.Infer(ad.Const(x), rand.New(rand.NewPCG(7, 9)))
	for i := 0; i <= L; i++ {
		zi := c.tensor(fmt.Sprintf("z%d", i), zs[i].Value)
		if i < L {
			c.add(fmt.Sprintf("generate_mean.%d", i), "generate_mean", []any{i, c.tensor(fmt.Sprintf("z%d", i+1), zs[i+1].Value)},
				func(*rand.Rand) []*ad.Var { return []*ad.Var{m.GenerateMean(i, zs[i+1])} })
		}
		c.add(fmt.Sprintf("critic.%d", i), fmt.Sprintf("critic.%d.forward_features", i), []any{zi}, func(*rand.Rand) []*ad.Var {
			d, f := m.Critics[i].ForwardFeatures(zs[i])
			return []*ad.Var{d, f}
		})
	}
}

// movingCases are the calls of the Moving MNIST model: closed-loop and
// teacher-forced rollouts, a dream, and both critics with running and with
// batch statistics (in that order, as the latter update the former).
func movingCases(t *testing.T, tr *train.Trainer, c *parityCases) {
	v, err := movingmnist.View(tr)
	if err != nil {
		t.Fatal(err)
	}
	m := v.Model
	in := rand.New(rand.NewPCG(7, 10))
	const B = 3
	ctx, hor, steps := v.Config.Objective.Context, v.Config.Objective.Horizon, v.Config.Objective.SleepSteps
	s, g := m.Config.FrameSize, m.Config.Grid()
	var frames []*tensor.Tensor
	for i := 0; i < ctx+hor-1; i++ {
		frames = append(frames, tensor.RandUniform(in, tensor.Float32, 0, 1, B, 1, s, s))
	}
	fa := c.tensorList("frames", frames)
	rollout := func(tf bool) func(r *rand.Rand) []*ad.Var {
		return func(r *rand.Rand) []*ad.Var {
			ro := m.Rollout(vars(frames...), ctx, hor, tf, r)
			return append(ro.Z, ro.Pred[1:]...)
		}
	}
	c.add("rollout", "rollout", []any{fa, ctx, hor, false}, rollout(false))
	c.add("rollout_teacher", "rollout", []any{fa, ctx, hor, true}, rollout(true))
	c.add("dream", "dream", []any{B, steps}, func(r *rand.Rand) []*ad.Var {
		xs, zs := m.Dream(B, steps, r)
		return append(xs, zs...)
	})
	x, z := frames[0], tensor.RandNormal(in, tensor.Float32, B, m.Config.Hidden, g, g)
	xa, za := c.tensor("x", x), c.tensor("z", z)
	for _, training := range []bool{false, true} {
		c.add(fmt.Sprintf("critic_x.%v", training), "critic_x.forward_features", []any{xa, training}, func(*rand.Rand) []*ad.Var {
			d, f := m.CriticX.ForwardFeatures(ad.Const(x), training)
			return []*ad.Var{d, f}
		})
		c.add(fmt.Sprintf("critic_z.%v", training), "critic_z", []any{za, training}, func(*rand.Rand) []*ad.Var {
			return []*ad.Var{m.CriticZ.Forward(ad.Const(z), training)}
		})
	}
}

// oldCheckpoint writes a copy of the checkpoint at path without the
// architecture metadata, as checkpoints were written before it existed,
// checks that Go still opens it, and returns its path (for parity.py, which
// must describe it from its config).
func oldCheckpoint(t *testing.T, path string) string {
	t.Helper()
	f, err := checkpoint.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	delete(f.Meta, train.MetaArchitecture)
	old := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := checkpoint.SaveFile(old, f); err != nil {
		t.Fatal(err)
	}
	if _, _, err := All.Open(old, nil); err != nil {
		t.Fatalf("a checkpoint without %s no longer opens: %v", train.MetaArchitecture, err)
	}
	return old
}

// noTorch is parity.py's exit status when its python cannot import torch.
const noTorch = 3

// skipWithoutTorch skips the test (fails it with WAKESLEEP_REQUIRE_TORCH=1,
// as in CI) because python cannot run parity.py with torch.
func skipWithoutTorch(t *testing.T, python string, why any) {
	t.Helper()
	msg := fmt.Sprintf("%s cannot run interop/parity.py with torch (%v): install Debian's python3-torch, or name a python with torch in WAKESLEEP_PYTHON", python, why)
	if os.Getenv("WAKESLEEP_REQUIRE_TORCH") == "1" {
		t.Fatal(msg + " (WAKESLEEP_REQUIRE_TORCH=1)")
	}
	t.Skip(msg)
}

func TestTorchParity(t *testing.T) {
	python := os.Getenv("WAKESLEEP_PYTHON")
	if python == "" {
		python = "/usr/bin/python3"
	}
	// find_spec looks for torch without importing it (which takes seconds).
	if out, err := exec.Command(python, "-c", "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is None)").CombinedOutput(); err != nil {
		skipWithoutTorch(t, python, fmt.Sprintf("no module torch: %v %s", err, bytes.TrimSpace(out)))
	}
	fashion, err := All.Lookup("fashionmnist")
	if err != nil {
		t.Fatal(err)
	}
	type variant struct {
		name  string
		ex    train.Experiment
		edit  func(train.Config)
		cases func(*testing.T, *train.Trainer, *parityCases)
	}
	variants := []variant{
		{"mnist-local", mnist.Experiment, nil, mnistCases},
		{"mnist-global-sym", mnist.Experiment, func(cfg train.Config) {
			c := cfg.(*mnist.Config)
			c.Model.Critic, c.Model.MaxStd, c.Objective.Gamma, c.PixelScale, c.Model.RecurrentSteps = model.CriticGlobal, 0.1, 1, "sym", 2
		}, mnistCases},
		// 16 channels a layer and 8 in the critics, not the tiny config's 4
		// and 2: PixelNorm divides by √(mean square + 1e-8), so at a pixel
		// where ReLU leaves only near-zero values it scales float32
		// rounding by up to 1e4; with 4 channels such a pixel turns up in a
		// batch now and then (7e-5 in one draw), with 16 almost never.
		{"cifar10", cifar10.Experiment, func(cfg train.Config) {
			c := cfg.(*cifar10.Config)
			c.Model.Channels, c.Model.CriticChannels = []int{16, 16, 16, 16, 16}, []int{8, 8, 8, 8, 8, 8}
		}, cifarCases},
		{"cifar10-relu-norm", cifar10.Experiment, func(cfg train.Config) {
			c := cfg.(*cifar10.Config)
			c.Model.TopActivation, c.Model.OutKernel, c.Model.MaxStd, c.Model.MeanNorm = model.TopReLUNorm, 3, 0.3, true
			c.Model.Channels, c.Model.Hidden = []int{16, 16, 16, 16, 16}, []int{12, 20, 16, 24, 8}
			c.Model.CriticChannels = []int{8, 8, 8, 8, 8, 8}
		}, cifarCases},
		{"movingmnist", movingmnist.Experiment, nil, movingCases},
		{"movingmnist-nonorm", movingmnist.Experiment, func(cfg train.Config) {
			cfg.(*movingmnist.Config).Model.CriticNorm = model.NormNone
		}, movingCases},
		{"fashionmnist", fashion, nil, mnistCases},
	}
	var pairs, names []string
	for _, v := range variants {
		dir := filepath.Join(t.TempDir(), v.name)
		cfg := tiny(v.ex)
		if v.edit != nil {
			v.edit(cfg)
		}
		if err := run(context.Background(), v.ex, cfg, dir, train.RunOptions{MaxSteps: 2}); err != nil {
			t.Fatalf("%s: train: %v", v.name, err)
		}
		tr, path, err := All.Open(dir, nil)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if tr.Step != 2 {
			t.Fatalf("%s: checkpoint %s of step %d, want 2", v.name, path, tr.Step)
		}
		if _, meta, err := checkpoint.Load(path); err != nil || meta[train.MetaArchitecture] == "" {
			t.Fatalf("%s: checkpoint %s has no %s metadata (%v)", v.name, path, train.MetaArchitecture, err)
		}
		old := oldCheckpoint(t, path)
		c := newParityCases(t)
		v.cases(t, tr, c)
		cases := filepath.Join(t.TempDir(), v.name+"-cases.safetensors")
		c.write(cases)
		pairs = append(pairs, dir, cases, old, cases)
		names = append(names, v.name, v.name+" (no architecture metadata)")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, append([]string{filepath.Join("..", "interop", "parity.py")}, pairs...)...)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	if ee, ok := runErr.(*exec.ExitError); ok && ee.ExitCode() == noTorch {
		skipWithoutTorch(t, python, string(bytes.TrimSpace(stderr.Bytes())))
	}
	var res struct {
		Torch string `json:"torch"`
		OK    bool   `json:"ok"`
		Runs  []struct {
			Run, Experiment, Error string
			OK                     bool
			DescribeConfigAgrees   bool  `json:"describe_config_agrees"`
			SampleShape            []int `json:"sample_shape"`
			SampleFinite           bool  `json:"sample_finite"`
			Cases                  []struct {
				Name, Error string
				F64         float64   `json:"max_abs_diff_float64"`
				F32         float64   `json:"max_abs_diff_float32"`
				Outputs     []float64 `json:"output_diffs_float64"`
				OK          bool
			}
		}
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("parity.py: %v (%v)\nstdout: %s\nstderr: %s", runErr, err, out, stderr.Bytes())
	}
	if len(res.Runs) != len(names) {
		t.Fatalf("parity.py checked %d runs, want %d", len(res.Runs), len(names))
	}
	for i, r := range res.Runs {
		name := names[i]
		if r.Error != "" {
			t.Errorf("%s: %s", name, r.Error)
			continue
		}
		if !r.DescribeConfigAgrees {
			t.Errorf("%s: describe_config (for checkpoints without %s) disagrees with the metadata", name, train.MetaArchitecture)
		}
		if !r.SampleFinite || len(r.SampleShape) == 0 || r.SampleShape[0] != 2 {
			t.Errorf("%s: model.sample(2) gave shape %v, finite %v", name, r.SampleShape, r.SampleFinite)
		}
		if len(r.Cases) == 0 {
			t.Errorf("%s: no cases checked", name)
		}
		for _, c := range r.Cases {
			switch {
			case c.Error != "":
				t.Errorf("%s/%s: %s", name, c.Name, c.Error)
			case !(c.F64 <= parityTol && c.F32 <= parityTol) || !c.OK:
				t.Errorf("%s/%s: PyTorch differs from Go by %.3g (float64) and %.3g (float32), more than %g (float64, by output: %.2g)", name, c.Name, c.F64, c.F32, parityTol, c.Outputs)
			default:
				t.Logf("%s/%s: max |torch − go| %.2g (float64), %.2g (float32)", name, c.Name, c.F64, c.F32)
			}
		}
	}
	if runErr != nil && !t.Failed() {
		t.Errorf("parity.py failed: %v\n%s", runErr, stderr.Bytes())
	}
	if !res.OK && !t.Failed() {
		t.Errorf("parity.py reports failure: %s", out)
	}
}

// Every experiment's checkpoints describe its model (train.Describer), with
// the fields every reader needs; this holds with or without torch.
func TestCheckpointsDescribeModel(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		if _, ok := ex.(train.Describer); !ok {
			t.Fatalf("%s is not a train.Describer: its checkpoints cannot be rebuilt in other frameworks", ex.Name())
		}
		tr, err := train.NewTrainer(ex, tiny(ex))
		if err != nil {
			t.Fatal(err)
		}
		_, meta, err := tr.State()
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Version    int    `json:"version"`
			Model      string `json:"model"`
			PixelScale string `json:"pixel_scale"`
		}
		if err := json.Unmarshal([]byte(meta[train.MetaArchitecture]), &d); err != nil {
			t.Fatalf("%s = %q: %v", train.MetaArchitecture, meta[train.MetaArchitecture], err)
		}
		if d.Version != model.DescriptionVersion || d.Model == "" || (d.PixelScale != "unit" && d.PixelScale != "sym") {
			t.Errorf("description %+v: want version %d, a model and a pixel scale", d, model.DescriptionVersion)
		}
	})
}
