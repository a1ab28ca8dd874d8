package cli

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/experiment"
	cifarexp "github.com/wakesleep/wakesleep/experiment/cifar10"
	mnistexp "github.com/wakesleep/wakesleep/experiment/mnist"
	mmexp "github.com/wakesleep/wakesleep/experiment/movingmnist"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/train"
)

// One precedence rule for every experiment: the preset, then the flags
// given (in the order the experiment defines them); a preset's value that no
// flag overrides survives.
func TestTrainPrecedence(t *testing.T) {
	parsed := func(args ...string) train.Config {
		t.Helper()
		_, _, cfg, err := parseTrain(args, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return cfg
	}
	c := parsed("--preset", "paper", "--epochs", "2").(*mnistexp.Config)
	if c.Epochs != 2 || c.BatchSize != 512 || c.Objective.Gamma != 0.1 || c.Model.Critic != model.CriticLocal {
		t.Errorf("mnist paper + epochs: %+v", c)
	}
	c = parsed("--algorithm", "global", "mnist").(*mnistexp.Config)
	if c.Objective.Gamma != 1 || c.Model.Critic != model.CriticGlobal {
		t.Errorf("--algorithm global: gamma %g, critic %s", c.Objective.Gamma, c.Model.Critic)
	}
	c = parsed("--z-dim", "8", "--silence-z", "7").(*mnistexp.Config)
	if len(c.Objective.SilenceSleepZ) != 1 || c.Model.ZDim != 8 {
		t.Errorf("--silence-z after --z-dim: %+v", c.Objective)
	}
	c = parsed("fashionmnist", "--beta1", "0.9").(*mnistexp.Config)
	if c.Experiment != "fashionmnist" || c.NetworkAdam.Beta1 != 0.9 || c.CriticAdam.Beta1 != 0.9 || c.NetworkAdam.Beta2 != mnistexp.QuickConfig(model.CriticLocal).NetworkAdam.Beta2 {
		t.Errorf("fashionmnist --beta1: %+v", c)
	}
	q := cifarexp.QuickConfig()
	k := parsed("--lr-critic", "1e-3", "cifar10").(*cifarexp.Config)
	if k.TrainLimit != q.TrainLimit || k.Objective.Gamma != 0.5 || k.CriticAdam.LearningRate != 1e-3 || k.NetworkAdam.LearningRate != q.NetworkAdam.LearningRate {
		t.Errorf("cifar10: %+v", k)
	}
	m := parsed("movingmnist", "--teacher-forcing", "--gamma", "0.25").(*mmexp.Config)
	if m.LogEvery != mmexp.QuickConfig().LogEvery || !m.Objective.TeacherForcing || m.Objective.Gamma != 0.25 {
		t.Errorf("movingmnist: %+v", m)
	}
	// A flag's value is not an experiment's name.
	if ex, _, _, err := parseTrain([]string{"--run", "cifar10", "--epochs", "1"}, io.Discard); err != nil || ex.Name() != mnistexp.Name {
		t.Errorf("--run cifar10: %v, %v", ex, err)
	}
	// On resume, the saved config rules: only the length is taken from the
	// command line, and the experiment comes from the run folder.
	dir := t.TempDir()
	saved := cifarexp.QuickConfig()
	if err := train.SaveConfig(filepath.Join(dir, train.ConfigFile), &saved); err != nil {
		t.Fatal(err)
	}
	ex, o, cfg, err := parseTrain([]string{"--resume", "--run", dir, "--epochs", "9"}, io.Discard)
	if err != nil || ex.Name() != cifarexp.Name || !o.resume || cfg.RunSettings().Epochs != 9 || cfg.RunSettings().BatchSize != 0 {
		t.Errorf("resume: %v %v %+v", ex, err, cfg)
	}
}

// A flag that may change a run being resumed (--pictures, --epochs) is
// applied to it, not dropped, and config.json says so afterwards; a
// hand-edited config.json is refused, naming the field.
func TestResumeFlagsApply(t *testing.T) {
	data, _ := goodRun()
	run := filepath.Join(t.TempDir(), "run")
	if code, _, stderr := runCLI(append([]string{"train", "--data", data, "--run", run, "--epochs", "1", "--max-steps", "1"}, tinyFlags...)...); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := runCLI("train", "--run", run, "--resume", "--data", data, "--pictures", "means", "--epochs", "2", "--max-steps", "2"); code != 0 {
		t.Fatal(stderr)
	}
	_, cfg, err := experiment.All.LoadConfig(filepath.Join(run, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.(*mnistexp.Config); c.Pictures != "means" || c.Epochs != 2 {
		t.Errorf("config.json after resume: pictures %q, epochs %d; want means, 2", c.Pictures, c.Epochs)
	}
	b := read(t, filepath.Join(run, "config.json"))
	write(t, filepath.Join(run, "config.json"), bytes.Replace(b, []byte(`"seed": 1,`), []byte(`"seed": 7,`), 1))
	code, _, stderr := runCLI("train", "--run", run, "--resume", "--data", data)
	if code != 1 || !strings.Contains(stderr, "seed 7 in config.json, 1 in the checkpoint") {
		t.Errorf("edited seed: exit %d, %s", code, stderr)
	}
}
