package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every command takes a run of every experiment that supports it: a tiny
// CIFAR-10 run and a tiny Moving MNIST run are sampled, reconstructed and
// evaluated; the commands an experiment lacks say so on one line, naming
// the experiments they support.
func TestCommandsForEveryExperiment(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two tiny runs")
	}
	tmp := t.TempDir()
	cifarData := filepath.Join(tmp, "cifar")
	if err := os.Mkdir(cifarData, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFakeBatches(t, cifarData, 8)
	cifarRun, mmRun := filepath.Join(tmp, "cifar-run"), filepath.Join(tmp, "mm-run")
	for _, args := range [][]string{
		{"train", "cifar10", "--data", cifarData, "--run", cifarRun, "--batch-size", "4", "--max-steps", "1", "--epochs", "1",
			"--channels", "2,2,2,2,2", "--critic-channels", "1,1,1,1,1,1"},
		{"train", "--run", mmRun, "--patch", "8", "--hidden", "2", "--kernel", "1", "--critic-channels", "1",
			"--batch-size", "2", "--sequences-per-epoch", "2", "--epochs", "1", "--pictures", "1", "movingmnist"},
	} {
		if code, _, stderr := runCLI(args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	for _, tc := range []struct {
		args  []string
		files []string
	}{
		{[]string{"sample", "--checkpoint", cifarRun, "--n", "8", "--out", filepath.Join(tmp, "cs.png")}, []string{"cs.png"}},
		{[]string{"reconstruct", "--checkpoint", cifarRun, "--data", cifarData, "--n", "4", "--out", filepath.Join(tmp, "cr.png")}, []string{"cr.png"}},
		{[]string{"reconstruct", "--checkpoint", cifarRun, "--data", cifarData, "--n", "4", "--depth", "3", "--out", filepath.Join(tmp, "cr3.png")}, []string{"cr3.png"}},
		{[]string{"eval", "--checkpoint", cifarRun, "--data", cifarData, "--n", "8", "--out", filepath.Join(tmp, "ce")}, []string{"ce/cifar10.md", "ce/cifar10.json"}},
		{[]string{"sample", "--checkpoint", mmRun, "--n", "2", "--out", filepath.Join(tmp, "ms.png")}, []string{"ms.png"}},
		{[]string{"reconstruct", "--checkpoint", mmRun, "--n", "2", "--out", filepath.Join(tmp, "mr.png")}, []string{"mr.png"}},
		{[]string{"eval", "--checkpoint", mmRun, "--n", "2", "--out", filepath.Join(tmp, "me")}, []string{"me/prediction.md"}},
	} {
		code, _, stderr := runCLI(tc.args...)
		if code != 0 {
			t.Errorf("%v: exit %d: %s", tc.args, code, stderr)
			continue
		}
		for _, f := range tc.files {
			if _, err := os.Stat(filepath.Join(tmp, f)); err != nil {
				t.Errorf("%v wrote no %s", tc.args, f)
			}
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"predict", "--checkpoint", cifarRun}, "predict does not support the cifar10 experiment (supported: movingmnist)"},
		{[]string{"probe", "--checkpoint", cifarRun, "--study", "oscillation"}, "probe does not support the cifar10 experiment"},
		{[]string{"reconstruct", "--checkpoint", cifarRun, "--data", cifarData, "--n", "4", "--depth", "9"}, "--depth 9"},
		{[]string{"train", "--eval-every-epoch", "cifar10"}, "supported: mnist"},
		{[]string{"sample", "--means", "--checkpoint", cifarRun}, "sample --means does not support the cifar10 experiment (supported: mnist, fashionmnist)"},
		{[]string{"diagnose", "--checkpoint", cifarRun}, "diagnose does not support the cifar10 experiment"},
		{[]string{"eval", "--checkpoint", cifarRun, "--samples", "3"}, "--samples and --baseline are for movingmnist runs, not cifar10"},
	} {
		code, _, stderr := runCLI(tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "wakesleep "+tc.args[0]+": ") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want a one-line error with %q", tc.args, code, stderr, tc.want)
		}
	}
}

// The MNIST model's noise-free views: the run folder's mean grids (and
// --pictures choosing them), sample and reconstruct --means, and diagnose.
func TestMNISTMeansAndDiagnose(t *testing.T) {
	tmp := t.TempDir()
	data := mnistDir(t, 64, 28, 28)
	small := []string{"--data", data, "--hidden", "8", "--z-dim", "4", "--critic-width", "8", "--batch-size", "16", "--epochs", "1"}
	both, means := filepath.Join(tmp, "both"), filepath.Join(tmp, "means")
	for _, args := range [][]string{
		append([]string{"train", "--run", both}, small...),
		append([]string{"train", "--run", means, "--pictures", "means", "--max-std", "0.5"}, small...),
	} {
		if code, _, stderr := runCLI(args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	for run, want := range map[string][]string{
		both:  {"samples-epoch001.png", "recon-epoch001.png", "samples-mean-epoch001.png", "recon-mean-epoch001.png"},
		means: {"samples-mean-epoch001.png", "recon-mean-epoch001.png"},
	} {
		for _, f := range want {
			if _, err := os.Stat(filepath.Join(run, f)); err != nil {
				t.Errorf("%s: no %s", run, f)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(means, "samples-epoch001.png")); err == nil {
		t.Error("--pictures means wrote the sampled grid too")
	}
	for _, args := range [][]string{
		{"sample", "--means", "--checkpoint", both, "--n", "8", "--out", filepath.Join(tmp, "sm.png")},
		{"reconstruct", "--means", "--checkpoint", both, "--data", data, "--n", "8", "--out", filepath.Join(tmp, "rm.png")},
	} {
		if code, _, stderr := runCLI(args...); code != 0 {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
	out := filepath.Join(tmp, "d.json")
	code, stdout, stderr := runCLI("diagnose", "--checkpoint", both, "--data", data, "--probe-train", "48", "--probe-test", "32", "--batches", "1", "--out", out)
	if code != 0 || !strings.Contains(stdout, "linear probe of z") || !strings.Contains(stdout, "recon_x") {
		t.Fatalf("diagnose: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if b, err := os.ReadFile(out); err != nil || !strings.Contains(string(b), "grad_norm_encoder") {
		t.Errorf("diagnose --out: %v %s", err, b)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"diagnose"}, "--checkpoint is required"},
		{[]string{"diagnose", "--checkpoint", both, "--probe-train", "5"}, "--probe-train"},
		{[]string{"diagnose", "--checkpoint", both, "--batches", "0"}, "--batches 0"},
		{[]string{"train", "--pictures", "all", "--run", filepath.Join(tmp, "x")}, "pictures \"all\""},
		{[]string{"train", "--max-std", "0.01", "--init-std", "0.05", "--run", filepath.Join(tmp, "y")}, "below max std"},
	} {
		code, _, stderr := runCLI(tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error with %q", tc.args, code, stderr, tc.want)
		}
	}
}

// eval judges a Fashion-MNIST run with the embedded Fashion-MNIST
// classifier, no --classifier needed.
func TestEvalFashionMNISTRun(t *testing.T) {
	if _, err := os.Stat("/usr/share/datasets/fashion-mnist"); err != nil {
		t.Skip("dataset-fashion-mnist not installed (CI installs it)")
	}
	tmp := t.TempDir()
	run := filepath.Join(tmp, "f")
	if code, _, stderr := runCLI("train", "fashionmnist", "--run", run, "--hidden", "8", "--z-dim", "4", "--critic-width", "8",
		"--batch-size", "16", "--max-steps", "2"); code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	code, _, stderr := runCLI("eval", "--checkpoint", run, "--n", "100", "--alignments", "4x2z", "--draws", "2", "--out", filepath.Join(tmp, "e"))
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(tmp, "e", "eval.json"))
	if err != nil || !strings.Contains(string(b), "fashion-mnist-classifier") {
		t.Errorf("eval.json does not name the Fashion-MNIST classifier: %v", err)
	}
}
