package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/experiment"
	mnistexp "github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/train"
)

func TestProbeUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"probe", "--study", "dreams", "--checkpoint", "x"}, `--study "dreams"`},
		{[]string{"probe", "--study", "oscillation"}, "needs --checkpoints, --checkpoint or --seeds-from"},
		{[]string{"probe", "--study", "critic,dreams", "--checkpoint", "x"}, `--study "dreams"`},
		{[]string{"probe", "--study", "development"}, "needs --checkpoints"},
		{[]string{"probe", "--study", "silencing", "--checkpoint", "x"}, "needs --control"},
		{[]string{"probe"}, "nothing to do"},
		{[]string{"probe", "--checkpoint", "x", "--noise", "0,a"}, "--noise"},
		{[]string{"probe", "--checkpoint", "x", "--noise", "-1"}, "--noise"},
		{[]string{"probe", "--checkpoint", "x", "--angles", "ten"}, "--angles"},
		{[]string{"probe", "--checkpoint", "x", "--alignments", "8x8"}, "--alignments"},
		{[]string{"probe", "--checkpoint", "x", "--level", "1"}, "confidence level"},
		{[]string{"probe", "--checkpoint", "x", "--n", "1"}, "n 1"},
		{[]string{"probe", "--checkpoint", "x", "--grad-batches", "1"}, "--grad-batches 1 must be in 2..10000"},
		{[]string{"probe", "--checkpoint", "x", "--seed", "0"}, "--seed"},
		{[]string{"probe", "stray"}, "unexpected arguments"},
		{[]string{"train", "--silence-z", "0,x"}, "--silence-z"},
		{[]string{"train", "--silence-z", "200"}, "outside 0..63"},
		{[]string{"train", "--silence-z", "1,1"}, "twice"},
		{[]string{"train", "--sham-z", "64"}, "--sham-z: unit 64 is outside 0..63"},
		{[]string{"train", "--silence-z", "0,1", "--sham-z", "1"}, "unit 1 is both silenced and shammed"},
		{[]string{"probe", "--study", "silencing", "--perturbed", "a,b", "--control", "c,d", "--sham", "e"}, "--sham: 1 runs for 2 --perturbed runs"},
	} {
		code, _, stderr := runCLI(tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestProbeAll trains a tiny run with two units silenced and one with the
// same units shammed beside the shared tiny run (same seed and flags), then
// runs every study on them.
func TestProbeAll(t *testing.T) {
	t.Parallel()
	data, control := goodRun()
	perturbed := filepath.Join(t.TempDir(), "silenced")
	code, _, stderr := runCLI(append([]string{"train", "--data", data, "--run", perturbed, "--epochs", "1", "--checkpoint-every", "1",
		"--silence-z", "0,2"}, tinyFlags...)...)
	if code != 0 {
		t.Fatalf("train --silence-z: exit %d: %s", code, stderr)
	}
	_, gcfg, err := experiment.All.LoadConfig(filepath.Join(perturbed, train.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	cfg := gcfg.(*mnistexp.Config)
	if len(cfg.Objective.SilenceSleepZ) != 2 || cfg.Objective.SilenceSleepZ[1] != 2 {
		t.Fatalf("silenced units in config: %v", cfg.Objective.SilenceSleepZ)
	}
	sham := filepath.Join(t.TempDir(), "sham")
	if code, _, stderr := runCLI(append([]string{"train", "--data", data, "--run", sham, "--epochs", "1", "--checkpoint-every", "1",
		"--sham-z", "2,0"}, tinyFlags...)...); code != 0 {
		t.Fatalf("train --sham-z: exit %d: %s", code, stderr)
	}
	out := filepath.Join(t.TempDir(), "probe")
	code, stdout, stderr := runCLI("probe", "--study", "all", "--checkpoint", control, "--seeds-from", perturbed,
		"--control", control, "--perturbed", perturbed, "--sham", sham, "--data", data, "--fashion", data, "--out", out,
		"--n", "10", "--align-n", "16", "--alignments", "2x1z", "--grad-batches", "2", "--grad-batch", "4",
		"--bootstrap", "20", "--noise", "0,0.5", "--angles", "0,90")
	if code != 0 {
		t.Fatalf("probe: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, study := range probeStudies {
		b, err := os.ReadFile(filepath.Join(out, study, "result.json"))
		if err != nil || !json.Valid(b) {
			t.Errorf("%s: result.json: %v", study, err)
		}
		if _, err := os.Stat(filepath.Join(out, study, "report.md")); err != nil {
			t.Error(err)
		}
		if !strings.Contains(stdout, study+": ") {
			t.Errorf("stdout lacks the findings of %s:\n%s", study, stdout)
		}
	}
	idx, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil || !strings.Contains(string(idx), "silencing/report.md") {
		t.Errorf("index: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "silencing", "report.md")); err != nil || !strings.Contains(string(b), "Sham perturbation:") ||
		!strings.Contains(string(b), "sham vs ") {
		t.Errorf("the silencing report lacks the sham run (%v)", err)
	}
}

// TestProbeSeedsGiveNoHolds trains three tiny seeds of MNIST and three of
// Fashion-MNIST for two steps each (models that have learned nothing) and
// runs the studies across them: the crossed design and the untrained
// controls are measured, and no study says "holds".
func TestProbeSeedsGiveNoHolds(t *testing.T) {
	t.Parallel()
	data, run := goodRun()
	tmp := t.TempDir()
	mnistRuns := []string{run}
	var fashionRuns []string
	for seed := 2; seed <= 6; seed++ {
		exp, dir := "mnist", filepath.Join(tmp, fmt.Sprintf("mnist-s%d", seed))
		if seed > 3 {
			exp, dir = "fashionmnist", filepath.Join(tmp, fmt.Sprintf("fashion-s%d", seed))
		}
		code, _, stderr := runCLI(append([]string{"train", exp, "--data", data, "--run", dir, "--epochs", "1", "--checkpoint-every", "1",
			"--seed", fmt.Sprint(seed)}, tinyFlags...)...)
		if code != 0 {
			t.Fatalf("train %s seed %d: exit %d: %s", exp, seed, code, stderr)
		}
		if exp == "mnist" {
			mnistRuns = append(mnistRuns, dir)
		} else {
			fashionRuns = append(fashionRuns, dir)
		}
	}
	out := filepath.Join(tmp, "probe")
	code, stdout, stderr := runCLI("probe", "--study", "oscillation,critic,development,plasticity",
		"--checkpoints", strings.Join(mnistRuns, ","), "--novel-checkpoints", strings.Join(fashionRuns, ","),
		"--data", data, "--fashion", data, "--out", out,
		"--n", "10", "--align-n", "16", "--alignments", "2x1z", "--grad-batches", "2", "--grad-batch", "4",
		"--bootstrap", "20", "--noise", "0,0.5", "--angles", "0,90")
	if code != 0 {
		t.Fatalf("probe: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, ": holds:") {
		t.Errorf("a model that learned nothing gets a verdict:\n%s", stdout)
	}
	if !strings.Contains(stdout, "crossed: AUC") || !strings.Contains(stdout, "margin over untrained") {
		t.Errorf("stdout lacks the crossed endpoints or the untrained control:\n%s", stdout)
	}
	// A Fashion-MNIST arm must be Fashion-MNIST runs.
	code, _, stderr = runCLI("probe", "--study", "oscillation", "--checkpoints", run, "--novel-checkpoints", mnistRuns[1],
		"--data", data, "--fashion", data, "--out", out, "--n", "10", "--bootstrap", "5")
	if code == 0 || !strings.Contains(stderr, "--novel-checkpoints") {
		t.Errorf("an MNIST run as the novel arm: exit %d, %s", code, stderr)
	}
}

// CIFAR-10 runs, told by their config, get the hierarchical silencing
// study: a tiny control, a run with a channel of z2 silenced and its sham
// are trained on fake binary batches and probed at every step they share;
// a control of another experiment is refused on one line.
func TestProbeSilencingCIFAR10(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFakeBatches(t, data, 8)
	tiny := []string{"train", "cifar10", "--data", data, "--batch-size", "4", "--max-steps", "2", "--epochs", "1", "--checkpoint-every", "1",
		"--channels", "2,2,2,2,2", "--critic-channels", "1,1,1,1,1,1"}
	runs := map[string][]string{"control": nil, "silenced": {"--silence-layer", "2", "--silence-channels", "0"}, "sham": {"--silence-layer", "2", "--sham-channels", "0"}}
	for name, extra := range runs {
		if code, _, stderr := runCLI(append(append(tiny, "--run", filepath.Join(tmp, name)), extra...)...); code != 0 {
			t.Fatalf("train %s: exit %d: %s", name, code, stderr)
		}
	}
	out := filepath.Join(tmp, "probe")
	code, stdout, stderr := runCLI("probe", "--study", "silencing", "--perturbed", filepath.Join(tmp, "silenced"), "--control", filepath.Join(tmp, "control"),
		"--sham", filepath.Join(tmp, "sham"), "--data", data, "--n", "8", "--bootstrap", "20", "--out", out)
	if code != 0 {
		t.Fatalf("probe: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "silencing", "result.json"))
	var res struct {
		Layer  int
		Points []json.RawMessage
	}
	if err != nil || json.Unmarshal(b, &res) != nil || res.Layer != 2 || len(res.Points) != 2 {
		t.Fatalf("result.json (%v): layer %d, %d points", err, res.Layer, len(res.Points))
	}
	if !strings.Contains(stdout, "silencing: needs ≥3 models: silencing channels of z2") || !strings.Contains(stdout, "of the layer above, z3") {
		t.Errorf("stdout lacks the layer's and the layer above's findings:\n%s", stdout)
	}
	if r, err := os.ReadFile(filepath.Join(out, "silencing", "report.md")); err != nil || !strings.Contains(string(r), "Sham perturbation:") {
		t.Errorf("report (%v) lacks the sham", err)
	}
	_, mnistRun := goodRun()
	code, _, stderr = runCLI("probe", "--study", "silencing", "--perturbed", filepath.Join(tmp, "silenced"), "--control", mnistRun, "--data", data, "--n", "8", "--out", out)
	if code == 0 || !strings.Contains(stderr, "every run of a silencing study must be of one experiment") || strings.Count(stderr, "wakesleep probe: ") != 1 {
		t.Errorf("an MNIST control of a CIFAR-10 run: exit %d, %q", code, stderr)
	}
}
