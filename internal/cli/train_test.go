package cli

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wakesleep/wakesleep/experiment"
	cifarexp "github.com/wakesleep/wakesleep/experiment/cifar10"
	mnistexp "github.com/wakesleep/wakesleep/experiment/mnist"
	mmexp "github.com/wakesleep/wakesleep/experiment/movingmnist"
	"github.com/wakesleep/wakesleep/internal/buildinfo"
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
	if made, resumed, err := train.ReadProvenance(filepath.Join(run, "config.json")); err != nil || !strings.Contains(made.Command, "--max-steps 1") ||
		len(resumed) != 1 || !strings.Contains(resumed[0].Command, "--resume") || resumed[0].Version != buildinfo.String() {
		t.Errorf("provenance after resume: %+v %+v %v", made, resumed, err)
	}
	b := read(t, filepath.Join(run, "config.json"))
	write(t, filepath.Join(run, "config.json"), bytes.Replace(b, []byte(`"seed": 1,`), []byte(`"seed": 7,`), 1))
	code, _, stderr := runCLI("train", "--run", run, "--resume", "--data", data)
	if code != 1 || !strings.Contains(stderr, "seed 7 in config.json, 1 in the checkpoint") {
		t.Errorf("edited seed: exit %d, %s", code, stderr)
	}
}

// --config starts from any run's config.json, strictly read; the flags
// given override it; config.json records the build and the command line.
func TestTrainConfigFlag(t *testing.T) {
	_, run := goodRun()
	_, base, err := experiment.All.LoadConfig(filepath.Join(run, train.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	ex, _, cfg, err := parseTrain([]string{"--config", run, "--seed", "9"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	b, c := base.(*mnistexp.Config), cfg.(*mnistexp.Config)
	if ex.Name() != mnistexp.Name || c.Seed != 9 || c.Model.Hidden != b.Model.Hidden || c.TrainLimit != b.TrainLimit || c.BatchSize != b.BatchSize {
		t.Errorf("--config %s --seed 9: %+v, want the run's config with seed 9", run, c)
	}
	// A config.json written before provenance was recorded (the committed
	// default run's) still reads.
	if _, _, old, err := parseTrain([]string{"--config", filepath.Join("..", "..", "results", "mnist", "default", "config.json")}, io.Discard); err != nil || old.RunSettings().Epochs != 6 {
		t.Errorf("the committed results/mnist/default/config.json: %v", err)
	}
	made, _, err := train.ReadProvenance(filepath.Join(run, train.ConfigFile))
	if err != nil || made.Version != buildinfo.String() || !strings.HasPrefix(made.Command, "wakesleep train --data ") {
		t.Errorf("provenance of the run: %+v, %v", made, err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	cfgJSON := read(t, filepath.Join(run, train.ConfigFile))
	write(t, bad, bytes.Replace(cfgJSON, []byte(`"batch_size"`), []byte(`"batch_sise"`), 1))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", bad}, `unknown field "batch_sise"`},
		{[]string{"--config", filepath.Join(dir, "none.json")}, "none.json"},
		{[]string{"--config", run, "--preset", "paper"}, "choose one"},
		{[]string{"--config", run, "--algorithm", "global"}, "edit the file"},
		{[]string{"cifar10", "--config", run}, "holds a mnist config, not cifar10"},
		{[]string{"--config", run, "--resume", "--run", run}, "--config starts a new run"},
	} {
		code, _, stderr := runCLI(append([]string{"train"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
	name := defaultRun(ex, cfg, time.Date(2026, 12, 1, 12, 15, 0, 0, time.UTC))
	if want := filepath.Join("runs", "mnist-local-s9-20261201-121500"); name != want {
		t.Errorf("default run folder %s, want %s", name, want)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, stdout, stderr := runCLI(args...)
		if code != 0 || strings.TrimSpace(stdout) != buildinfo.String() {
			t.Errorf("%v: exit %d, %q (%s); want %q", args, code, stdout, stderr, buildinfo.String())
		}
	}
}

// No default depends on the developers' machines: no help names a path
// outside the working folder, classifier train writes only where told, and
// CIFAR-10 without data found says where to put it, on one line.
func TestNoDeveloperDefaults(t *testing.T) {
	for _, args := range [][]string{{"train", "cifar10", "-h"}, {"train", "fashionmnist", "-h"}, {"train", "-h"}, {"classifier", "-h"}, {"eval", "-h"}} {
		code, stdout, stderr := runCLI(args...)
		if help := stdout + stderr; code != 0 || strings.Contains(help, "shared/") || strings.Contains(help, "../") {
			t.Errorf("%v: exit %d, help names a developer path:\n%s", args, code, help)
		}
	}
	if code, _, stderr := runCLI("classifier", "train", "--epochs", "1"); code != 2 || !strings.Contains(stderr, "--out is required") {
		t.Errorf("classifier train without --out: exit %d, %s", code, stderr)
	}
	t.Chdir(t.TempDir())
	t.Setenv("WAKESLEEP_DATA", "")
	code, _, stderr := runCLI("train", "cifar10", "--run", "r")
	if code != 1 || !strings.Contains(stderr, "cifar-10-binary.tar.gz") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("cifar10 without data: exit %d, %q", code, stderr)
	}
}
