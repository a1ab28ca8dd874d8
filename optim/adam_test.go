package optim_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/optim"
	"github.com/wakesleep/wakesleep/tensor"
)

// paperAdam is the configuration of A.1.2 (β1 0.5, β2 0.99, weight decay
// 2e-5) with the rate 1e-3 of scripts/golden_adam.py.
var paperAdam = optim.AdamConfig{LearningRate: 1e-3, Beta1: 0.5, Beta2: 0.99, Eps: 1e-8, WeightDecay: 2e-5}

// flatten turns nested JSON arrays into one row-major slice.
func flatten(v any) []float64 {
	switch x := v.(type) {
	case float64:
		return []float64{x}
	case []any:
		var out []float64
		for _, e := range x {
			out = append(out, flatten(e)...)
		}
		return out
	}
	panic("flatten: unexpected JSON value")
}

type adamRun struct {
	ParamsAfterStep []any `json:"params_after_step"` // [step][param] nested values
	ExpAvg          []any `json:"exp_avg"`
	ExpAvgSq        []any `json:"exp_avg_sq"`
	Step            int   `json:"step"`
}

type adamGolden struct {
	LrChange struct {
		BeforeStep int     `json:"before_step"`
		LR         float64 `json:"lr"`
	} `json:"lr_change"`
	Shapes [][]int `json:"shapes"`
	Init   []any   `json:"init"`
	Grads  [][]any `json:"grads"` // [step][param]
	Runs   map[string]adamRun
}

func loadAdamGolden(t *testing.T) *adamGolden {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "adam.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g adamGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	var runs map[string]json.RawMessage
	if err := json.Unmarshal(b, &runs); err != nil {
		t.Fatal(err)
	}
	g.Runs = map[string]adamRun{}
	for _, name := range []string{"float64", "float32", "float64_lr_change", "float32_lr_change"} {
		var r adamRun
		if err := json.Unmarshal(runs[name], &r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		g.Runs[name] = r
	}
	return &g
}

func tensorOf(dt tensor.DType, v []float64, shape []int) *tensor.Tensor {
	return tensor.FromFloat64(append([]float64(nil), v...), shape...).AsType(dt)
}

// Adam against torch.optim.Adam (1.13) with the paper's hyperparameters, five
// steps on fixed gradients, with and without a mid-run learning-rate change.
func TestAdamMatchesTorch(t *testing.T) {
	g := loadAdamGolden(t)
	cases := []struct {
		run            string
		dt             tensor.DType
		lrChange       bool
		absTol, relTol float64
	}{
		// The same arithmetic up to the order of a few roundings: with these
		// inputs the parameters agree bit for bit, and the second moment to an
		// ulp (PyTorch's addcmul multiplies g·g·(1−β2) in another order).
		// Tolerances are a few ulps of each type.
		{"float64", tensor.Float64, false, 1e-18, 1e-15},
		{"float64_lr_change", tensor.Float64, true, 1e-18, 1e-15},
		{"float32", tensor.Float32, false, 1e-12, 1e-7},
		{"float32_lr_change", tensor.Float32, true, 1e-12, 1e-7},
	}
	for _, c := range cases {
		t.Run(c.run, func(t *testing.T) {
			want := g.Runs[c.run]
			var params []*nn.Parameter
			for i, shape := range g.Shapes {
				params = append(params, &nn.Parameter{Name: []string{"w", "b"}[i], V: ad.Param(tensorOf(c.dt, flatten(g.Init[i]), shape))})
			}
			opt := optim.NewAdam(paperAdam, params)
			check := func(what string, got *tensor.Tensor, want []float64) {
				t.Helper()
				for j, w := range want {
					if d := math.Abs(got.At(j) - w); d > c.absTol+c.relTol*math.Abs(w) {
						t.Fatalf("%s element %d: %.17g, torch %.17g (diff %.3g)", what, j, got.At(j), w, d)
					}
				}
			}
			for step := range g.Grads {
				if c.lrChange && step+1 == g.LrChange.BeforeStep {
					opt.SetLearningRate(g.LrChange.LR)
				}
				grads := make([]*tensor.Tensor, len(params))
				for i, p := range params {
					grads[i] = tensorOf(c.dt, flatten(g.Grads[step][i]), p.V.Shape())
				}
				opt.Update(grads)
				after := want.ParamsAfterStep[step].([]any)
				for i, p := range params {
					check(fmt.Sprintf("step %d %s", step+1, p.Name), p.V.Value, flatten(after[i]))
				}
			}
			if opt.Step != want.Step {
				t.Errorf("step %d, torch %d", opt.Step, want.Step)
			}
			for i, p := range params {
				check("exp_avg "+p.Name, opt.M[i], flatten(want.ExpAvg[i]))
				check("exp_avg_sq "+p.Name, opt.V[i], flatten(want.ExpAvgSq[i]))
			}
		})
	}
}

// The paper's schedule (A.1.2): ×0.96 per epoch between epochs 200 and 250,
// lr(e) = lr₀·0.96^(clamp(e, 200, 250) − 200).
func TestScheduleRate(t *testing.T) {
	const lr0 = 1e-4
	paper := optim.Schedule{Factor: 0.96, Start: 200, End: 250}
	cases := []struct {
		name  string
		s     optim.Schedule
		epoch int
		want  float64
	}{
		{"first epoch", paper, 0, lr0},
		{"before decay", paper, 199, lr0},
		{"decay starts", paper, 200, lr0},
		{"one decay", paper, 201, lr0 * 0.96},
		{"all 50 decays", paper, 250, lr0 * math.Pow(0.96, 50)},
		{"after decay", paper, 300, lr0 * math.Pow(0.96, 50)},
		{"factor 1", optim.Schedule{Factor: 1, Start: 200, End: 250}, 300, lr0},
		{"zero value", optim.Schedule{}, 300, lr0},
		{"empty range", optim.Schedule{Factor: 0.96, Start: 250, End: 250}, 300, lr0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.s.Rate(lr0, c.epoch); math.Abs(got-c.want) > 1e-15*c.want {
				t.Fatalf("Rate(%g, %d) = %.17g, want %.17g", lr0, c.epoch, got, c.want)
			}
		})
	}
	// 0.96⁵⁰ ≈ 0.130: the rate ends at 13% of its start.
	if r := paper.Rate(1, 400) / paper.Rate(1, 0); math.Abs(r-0.12988579352203893) > 1e-15 {
		t.Fatalf("total decay %.17g", r)
	}
}

func TestAdamConfigValidate(t *testing.T) {
	mod := func(f func(*optim.AdamConfig)) optim.AdamConfig {
		c := paperAdam
		f(&c)
		return c
	}
	cases := []struct {
		name    string
		cfg     optim.AdamConfig
		wantErr string // "" for valid
	}{
		{"paper", paperAdam, ""},
		{"eps zero means default", mod(func(c *optim.AdamConfig) { c.Eps = 0 }), ""},
		{"no decay", mod(func(c *optim.AdamConfig) { c.WeightDecay = 0 }), ""},
		{"beta1 zero", mod(func(c *optim.AdamConfig) { c.Beta1 = 0 }), ""},
		{"lr zero", mod(func(c *optim.AdamConfig) { c.LearningRate = 0 }), "learning rate"},
		{"lr negative", mod(func(c *optim.AdamConfig) { c.LearningRate = -1e-3 }), "learning rate"},
		{"lr NaN", mod(func(c *optim.AdamConfig) { c.LearningRate = math.NaN() }), "learning rate"},
		{"lr Inf", mod(func(c *optim.AdamConfig) { c.LearningRate = math.Inf(1) }), "learning rate"},
		{"beta1 one", mod(func(c *optim.AdamConfig) { c.Beta1 = 1 }), "beta1"},
		{"beta1 negative", mod(func(c *optim.AdamConfig) { c.Beta1 = -0.1 }), "beta1"},
		{"beta1 NaN", mod(func(c *optim.AdamConfig) { c.Beta1 = math.NaN() }), "beta1"},
		{"beta2 one", mod(func(c *optim.AdamConfig) { c.Beta2 = 1 }), "beta2"},
		{"beta2 NaN", mod(func(c *optim.AdamConfig) { c.Beta2 = math.NaN() }), "beta2"},
		{"eps negative", mod(func(c *optim.AdamConfig) { c.Eps = -1e-8 }), "eps"},
		{"eps NaN", mod(func(c *optim.AdamConfig) { c.Eps = math.NaN() }), "eps"},
		{"decay negative", mod(func(c *optim.AdamConfig) { c.WeightDecay = -2e-5 }), "weight decay"},
		{"decay NaN", mod(func(c *optim.AdamConfig) { c.WeightDecay = math.NaN() }), "weight decay"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("valid config rejected: %v", err)
			case c.wantErr != "" && err == nil:
				t.Fatalf("invalid config accepted: %+v", c.cfg)
			case c.wantErr != "" && !strings.Contains(err.Error(), c.wantErr):
				t.Fatalf("error %q does not name %q", err, c.wantErr)
			}
		})
	}
}

// newTestAdam returns Adam over two float32 parameters, critic.w and critic.b.
func newTestAdam() *optim.Adam {
	params := []*nn.Parameter{
		{Name: "critic.w", V: ad.Param(tensor.FromFloat32([]float32{0.5, -1, 2, 0.25}, 2, 2))},
		{Name: "critic.b", V: ad.Param(tensor.FromFloat32([]float32{0.1, -0.2}, 2))},
	}
	return optim.NewAdam(paperAdam, params)
}

// step applies gradients that depend on the step, so that resumed and
// uninterrupted runs see the same sequence.
func step(a *optim.Adam) {
	k := float32(a.Step + 1)
	a.Update([]*tensor.Tensor{
		tensor.FromFloat32([]float32{k, -2 * k, 0.5, 1 / k}, 2, 2),
		tensor.FromFloat32([]float32{-k, 3}, 2),
	})
}

func TestAdamStateRoundTrip(t *testing.T) {
	a := newTestAdam()
	for i := 0; i < 3; i++ {
		step(a)
	}
	a.SetLearningRate(4e-4)
	st := a.State()
	if len(st) != 4 {
		t.Fatalf("state has %d entries: %v", len(st), st)
	}
	for _, k := range []string{"adam.m.critic.w", "adam.v.critic.w", "adam.m.critic.b", "adam.v.critic.b"} {
		if st[k] == nil {
			t.Fatalf("state lacks %q", k)
		}
	}

	// A fresh optimizer (and fresh parameters with a's values) resumes.
	b := newTestAdam()
	for i, p := range b.Params {
		p.V.Value.CopyFrom(a.Params[i].V.Value)
	}
	st["model.critic.w"] = tensor.New(tensor.Float64, 7) // other tensors of a checkpoint are ignored
	if err := b.LoadState(st, a.Step, a.LearningRate()); err != nil {
		t.Fatal(err)
	}
	if b.Step != 3 || b.LearningRate() != 4e-4 {
		t.Fatalf("step %d lr %g after LoadState", b.Step, b.LearningRate())
	}
	// State is a copy, and LoadState copies: neither aliases the optimizer.
	st["adam.m.critic.w"].Fill(99)
	if a.M[0].At(0) == 99 || b.M[0].At(0) == 99 {
		t.Fatal("state aliases the optimizer's moments")
	}
	for i := 0; i < 2; i++ {
		step(a)
		step(b)
	}
	for i := range a.Params {
		av, bv := a.Params[i].V.Value.Float32s(), b.Params[i].V.Value.Float32s()
		for j := range av {
			if av[j] != bv[j] {
				t.Fatalf("%s[%d]: uninterrupted %v, resumed %v", a.Params[i].Name, j, av[j], bv[j])
			}
		}
	}
}

func TestAdamLoadStateErrors(t *testing.T) {
	good := func() map[string]*tensor.Tensor {
		a := newTestAdam()
		step(a)
		return a.State()
	}
	cases := []struct {
		name    string
		edit    func(map[string]*tensor.Tensor)
		step    int
		lr      float64
		wantErr string
	}{
		{"missing m", func(m map[string]*tensor.Tensor) { delete(m, "adam.m.critic.b") }, 1, 1e-3, `missing "adam.m.critic.b"`},
		{"missing v", func(m map[string]*tensor.Tensor) { delete(m, "adam.v.critic.w") }, 1, 1e-3, `missing "adam.v.critic.w"`},
		{"nil entry", func(m map[string]*tensor.Tensor) { m["adam.v.critic.b"] = nil }, 1, 1e-3, `missing "adam.v.critic.b"`},
		{"shape", func(m map[string]*tensor.Tensor) { m["adam.m.critic.w"] = tensor.New(tensor.Float32, 4) }, 1, 1e-3, "shape [4]"},
		{"dtype", func(m map[string]*tensor.Tensor) { m["adam.v.critic.b"] = tensor.New(tensor.Float64, 2) }, 1, 1e-3, "float64"},
		{"negative step", func(map[string]*tensor.Tensor) {}, -1, 1e-3, "negative step"},
		{"zero lr", func(map[string]*tensor.Tensor) {}, 1, 0, "learning rate"},
		{"NaN lr", func(map[string]*tensor.Tensor) {}, 1, math.NaN(), "learning rate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := good()
			c.edit(m)
			a := newTestAdam()
			err := a.LoadState(m, c.step, c.lr)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
			// A failed load changes nothing.
			if a.Step != 0 || a.LearningRate() != paperAdam.LearningRate || a.M[0].At(0) != 0 || a.V[1].At(1) != 0 {
				t.Fatalf("failed LoadState changed the optimizer: step %d lr %g", a.Step, a.LearningRate())
			}
		})
	}
}

func TestAdamStateDuplicateNamePanics(t *testing.T) {
	p := &nn.Parameter{Name: "w", V: ad.Param(tensor.New(tensor.Float32, 2))}
	q := &nn.Parameter{Name: "w", V: ad.Param(tensor.New(tensor.Float32, 2))}
	a := optim.NewAdam(paperAdam, []*nn.Parameter{p, q})
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	a.State()
}
