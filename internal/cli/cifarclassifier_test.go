package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/eval"
)

// TestClassifierTrainCIFAR10 trains a one-stage CIFAR-10 classifier on fake
// batches through the command line and loads what it wrote.
func TestClassifierTrainCIFAR10(t *testing.T) {
	tmp := t.TempDir()
	writeFakeBatches(t, tmp, 8)
	out := filepath.Join(tmp, "c.safetensors")
	code, stdout, stderr := runCLI("classifier", "train", "--dataset", "cifar10", "--data", tmp, "--channels", "2",
		"--epochs", "1", "--batch-size", "4", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "test accuracy") {
		t.Errorf("stdout: %s", stdout)
	}
	_, info, err := eval.LoadCIFARClassifier(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "wakesleep classifier train --dataset=cifar10 --batch-size=4 --channels=2 --epochs=1"; info.Command != want {
		t.Errorf("recorded command %q, want %q", info.Command, want)
	}
	if code, _, _ := runCLI("classifier", "train", "--dataset", "cifar10", "-h"); code != 0 {
		t.Errorf("help: exit %d", code)
	}
}

func TestClassifierTrainUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"classifier", "train", "--dataset", "svhn"}, `--dataset "svhn"`},
		{[]string{"classifier", "train", "--dataset", "cifar10"}, "--out is required"},
		{[]string{"classifier", "train", "--dataset=cifar10", "--out", "x", "--channels", "4,0"}, "channels 0"},
		{[]string{"classifier", "train", "--dataset", "cifar10", "--out", "x", "--hidden", "4"}, "hidden"},
		{[]string{"classifier", "train", "--dataset", "cifar10", "--out", "x", "--seed", "0"}, "--seed"},
		// The bounds both classifiers share, each with its own training-set size.
		{[]string{"classifier", "train", "--dataset", "cifar10", "--out", "x", "--batch-size", "50001"}, "--batch-size 50001 exceeds the 50000 training images"},
		{[]string{"classifier", "train", "--out", "x", "--batch-size", "60001"}, "--batch-size 60001 exceeds the 60000 training digits"},
		{[]string{"classifier", "train", "--dataset", "cifar10", "--out", "x", "--epochs", "100001"}, "--epochs 100001 exceeds 100000"},
	} {
		code, _, stderr := runCLI(tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want exit 2 naming %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestEvalBaselineMustBeDeterministic: --baseline refuses a run that is
// not a deterministic Moving MNIST run.
func TestEvalBaselineMustBeDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny run")
	}
	run := filepath.Join(t.TempDir(), "mm")
	if code, _, stderr := runCLI("train", "movingmnist", "--run", run, "--patch", "8", "--hidden", "2", "--kernel", "1", "--critic-channels", "1",
		"--batch-size", "2", "--sequences-per-epoch", "2", "--epochs", "1", "--pictures", "1"); code != 0 {
		t.Fatalf("train: %s", stderr)
	}
	det := run + "-det"
	if code, _, stderr := runCLI("train", "movingmnist", "--deterministic", "--run", det, "--patch", "8", "--hidden", "2", "--kernel", "1", "--critic-channels", "1",
		"--batch-size", "2", "--sequences-per-epoch", "2", "--epochs", "1", "--pictures", "1"); code != 0 {
		t.Fatalf("train --deterministic: %s", stderr)
	}
	if code, _, stderr := runCLI("eval", "--checkpoint", run, "--n", "2", "--baseline", run); code != 2 || !strings.Contains(stderr, "not a deterministic run") {
		t.Errorf("--baseline of a stochastic run: exit %d, %s", code, stderr)
	}
	code, stdout, stderr := runCLI("eval", "--checkpoint", run, "--n", "2", "--samples", "2", "--baseline", det)
	if code != 0 {
		t.Fatalf("eval --baseline: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"deterministic", "best of 2", "digit identity", "sleep alignment"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("eval printed no %q:\n%s", want, stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(run, "eval", eval.PredictionReportFile)); err != nil {
		t.Error(err)
	}
}
