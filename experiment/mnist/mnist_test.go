package mnist

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/train"
)

func tinyConfig(critic string) *Config {
	c := QuickConfig(critic)
	c.Model.Hidden, c.Model.CriticWidth, c.Model.ZDim = 32, 32, 8
	c.BatchSize = 16
	c.CriticSteps = 1 // the global preset's 3 would leave too few steps an epoch of the fake data
	c.Epochs = 2
	c.LogEvery = 2
	return &c
}

func runTiny(t *testing.T, cfg train.Config, dir string, resume bool, maxSteps int) error {
	t.Helper()
	return train.Run(context.Background(), Experiment, cfg, train.RunOptions{Dir: dir, Resume: resume,
		Data: Experiment.FakeData(), MaxSteps: maxSteps})
}

// N+M steps in one go give bit-identical parameters and optimizer state to N
// steps, stop, resume, M steps, across an epoch boundary, with either critic.
func TestResumeIsBitIdentical(t *testing.T) {
	for _, critic := range []string{model.CriticGlobal, model.CriticLocal} {
		t.Run(critic, func(t *testing.T) {
			cfg := tinyConfig(critic)
			a, b := t.TempDir(), t.TempDir()
			if err := runTiny(t, cfg, a, false, 7); err != nil {
				t.Fatal(err)
			}
			if err := runTiny(t, cfg, b, false, 3); err != nil {
				t.Fatal(err)
			}
			if err := runTiny(t, nil, b, true, 7); err != nil {
				t.Fatal(err)
			}
			x, err := os.ReadFile(filepath.Join(a, checkpoint.FileName(train.CheckpointPrefix, 7)))
			if err != nil {
				t.Fatal(err)
			}
			y, err := os.ReadFile(filepath.Join(b, checkpoint.FileName(train.CheckpointPrefix, 7)))
			if err != nil {
				t.Fatal(err)
			}
			if string(x) != string(y) {
				t.Fatal("resumed checkpoint differs from the uninterrupted one")
			}
			for _, f := range []string{"samples-epoch001.png", "recon-epoch001.png", "samples-epoch002.png"} {
				if _, err := os.Stat(filepath.Join(a, f)); err != nil {
					t.Errorf("missing %s", f)
				}
			}
		})
	}
}

// A NaN names the loss term or the parameter; the run stops at that step.
func TestNaNNamesTheTerm(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want []string
	}{
		{math.Inf(1), []string{"step 4: critic loss (", " = NaN) is NaN or infinite"}},
		{math.NaN(), []string{"step 4: network parameter inference.first.hidden.bias after the update is NaN or infinite"}},
	} {
		v := tc.v
		err := train.Run(context.Background(), Experiment, tinyConfig(model.CriticLocal), train.RunOptions{Dir: t.TempDir(), Data: Experiment.FakeData(),
			OnStep: func(tr *train.Trainer) {
				if tr.Step == 3 {
					t, _ := View(tr)
					t.Model.Inference.First.Hidden.B.Value.SetAt(0, v)
				}
			}})
		if err == nil {
			t.Fatalf("%g: no error", v)
		}
		for _, want := range tc.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%g: message lacks %q: %v", v, want, err)
			}
		}
	}
}

// Data that cannot feed the model are refused before the run folder is
// created; a test set smaller than the reconstruction grid is fine.
func TestRunChecksData(t *testing.T) {
	cfg := tinyConfig(model.CriticLocal)
	small := FakeSet(64, 1)
	small.Rows, small.Cols, small.Images = 10, 10, small.Images[:64*100]
	for _, tc := range []struct {
		data *Data
		want string
	}{
		{&Data{Train: small}, "training images are 10×10, the model takes 784 pixels"},
		{&Data{Train: FakeSet(64, 1), Test: small}, "test images are 10×10"},
		{&Data{Train: FakeSet(15, 1)}, "batch size 16 × critic steps 1 exceeds the 15 training images"},
		{&Data{}, "no training data"},
	} {
		dir := filepath.Join(t.TempDir(), "run")
		err := train.Run(context.Background(), Experiment, cfg, train.RunOptions{Dir: dir, Data: tc.data})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("refused run created its folder (%v)", err)
		}
	}
	if err := train.Run(context.Background(), Experiment, cfg, train.RunOptions{Dir: t.TempDir(), Data: &Data{Train: FakeSet(64, 1), Test: FakeSet(5, 2)}, MaxSteps: 4}); err != nil {
		t.Errorf("five test digits: %v", err)
	}
}

// Validate refuses what would otherwise pass NaN comparisons or ask for
// absurd allocations.
func TestValidateRefusesNonFiniteAndAbsurd(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"gamma NaN":        func(c *Config) { c.Objective.Gamma = math.NaN() },
		"lambda Inf":       func(c *Config) { c.Objective.Lambda = math.Inf(1) },
		"recon weight NaN": func(c *Config) { c.Objective.ReconWeight = math.NaN() },
		"x_dim":            func(c *Config) { c.Model.XDim = 100 },
		"hidden":           func(c *Config) { c.Model.Hidden = 1 << 40 },
		"critic depth":     func(c *Config) { c.Model.CriticDepth = 1000 },
		"recurrent steps":  func(c *Config) { c.Model.RecurrentSteps = 1 << 20 },
	} {
		c := tinyConfig(model.CriticLocal)
		mut(c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The config keeps the JSON field names of every config.json written before
// the experiments shared one trainer.
func TestConfigFieldNames(t *testing.T) {
	c := PaperConfig(model.CriticLocal)
	b, err := train.EncodeConfig(&c)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"experiment", "model", "objective", "epochs", "batch_size", "critic_steps", "seed", "pixel_scale", "train_limit",
		"network_adam", "critic_adam", "schedule", "log_every", "checkpoint_every", "keep_checkpoints"} {
		if !strings.Contains(string(b), `"`+k+`":`) {
			t.Errorf("config.json lacks %q", k)
		}
	}
	if strings.Contains(string(b), "picture_every") || strings.Contains(string(b), "Settings") {
		t.Errorf("config.json has fields MNIST never had:\n%s", b)
	}
}

// --sham-z, like --silence-z, lists latent units of the sleep phase; the
// config keeps them through config.json, a unit in both lists is refused,
// and the presets have none.
func TestShamFlag(t *testing.T) {
	set := func(c *Config, name, v string) error { return train.SetFlag(Experiment, c, name, v) }
	c := tinyConfig(model.CriticLocal)
	if err := set(c, "sham-zz", "1"); err == nil || !strings.Contains(err.Error(), "no flag --sham-zz") {
		t.Errorf("an unknown flag: %v", err)
	}
	if err := set(c, "sham-z", "8"); err == nil || !strings.Contains(err.Error(), "--sham-z") {
		t.Errorf("sham unit beyond z_dim 8: %v", err)
	}
	if err := set(c, "sham-z", "1, 4"); err != nil {
		t.Fatal(err)
	}
	b, err := train.EncodeConfig(c)
	if err != nil || !strings.Contains(string(b), `"sham_sleep_z": [`) {
		t.Fatalf("config.json: %v\n%s", err, b)
	}
	back, err := train.DecodeConfig(Experiment, b, "test")
	if err != nil {
		t.Fatal(err)
	}
	if got := back.(*Config).Objective.ShamSleepZ; !reflect.DeepEqual(got, []int{1, 4}) {
		t.Errorf("sham units after config.json: %v", got)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	if err := set(c, "silence-z", "4"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "both silenced and shammed") {
		t.Errorf("unit 4 silenced and shammed: %v", err)
	}
	for _, critic := range []string{model.CriticGlobal, model.CriticLocal} {
		for _, p := range []Config{QuickConfig(critic), PaperConfig(critic)} {
			if b, _ := train.EncodeConfig(&p); strings.Contains(string(b), "sham") || p.Objective.ShamSleepZ != nil {
				t.Errorf("%s preset has sham units", critic)
			}
		}
	}
}
