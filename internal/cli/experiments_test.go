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
	} {
		code, _, stderr := runCLI(tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "wakesleep "+tc.args[0]+": ") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want a one-line error with %q", tc.args, code, stderr, tc.want)
		}
	}
}
