package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNumericFlags feeds every command's numeric flags NaN, ±Inf, values
// beyond an int or a float64, zero counts and sizes past their upper
// bounds: each must be a usage error (exit 2) naming the flag, before
// anything is read, trained or written; none may panic, loop or wrap.
func TestNumericFlags(t *testing.T) {
	t.Parallel()
	ck := []string{"--checkpoint", "/nonexistent/run"}
	with := func(args ...string) []string { return append(append([]string(nil), args...), ck...) }
	cases := []struct {
		args []string
		want string
	}{
		// train, every experiment: float flags, list flags, overflow, bounds.
		{[]string{"train", "--lr-network", "NaN"}, "--lr-network NaN: want a finite number"},
		{[]string{"train", "--lr-critic", "+Inf"}, "--lr-critic +Inf: want a finite number"},
		{[]string{"train", "--beta1", "nan"}, "--beta1 NaN: want a finite number"},
		{[]string{"train", "--lr-network", "1e400"}, "lr-network"},
		{[]string{"train", "cifar10", "--gamma", "-Inf"}, "--gamma -Inf: want a finite number"},
		{[]string{"train", "movingmnist", "--lambda", "NaN"}, "--lambda NaN"},
		{[]string{"train", "fashionmnist", "--recon-weight", "Inf"}, "--recon-weight +Inf"},
		{[]string{"train", "--batch-size", "9223372036854775808"}, "value out of range"},
		{[]string{"train", "--batch-size", "4294967296", "--critic-steps", "4294967296"}, "batch size 4294967296 exceeds"},
		{[]string{"train", "movingmnist", "--batch-size", "4294967296", "--critic-steps", "4294967296"}, "exceeds"},
		{[]string{"train", "--critic-steps", "100000"}, "critic steps 100000 exceeds"},
		{[]string{"train", "--epochs", "9223372036854775807"}, "epochs 9223372036854775807 exceeds"},
		{[]string{"train", "--epochs", "0"}, "epochs 0 must be positive"},
		{[]string{"train", "--batch-size", "0"}, "batch size 0 must be positive"},
		{[]string{"train", "--critic-steps", "0"}, "critic steps 0 must be positive"},
		{[]string{"train", "--log-every", "0"}, "log every 0 must be positive"},
		{[]string{"train", "--keep", "0"}, "keep checkpoints 0"},
		{[]string{"train", "--max-steps", "-1"}, "--max-steps -1"},
		{[]string{"train", "--hidden", "1099511627776"}, "hidden"},
		{[]string{"train", "cifar10", "--channels", "1,NaN"}, "channels"},
		{[]string{"train", "movingmnist", "--pictures", "1000000000000"}, "picture count 1000000000000 must be in 0..64"},
		{[]string{"train", "cifar10", "--channels", "99999999999999999999"}, "channels"},
		// sample and reconstruct.
		{with("sample", "--n", "0"), "--n 0 must be in 1..4096"},
		{with("sample", "--n", "99999999999"), "--n 99999999999 must be in 1..4096"},
		{with("reconstruct", "--depth", "-1"), "--depth -1"},
		{with("sample", "--seed", "-1"), "seed"},
		// eval.
		{with("eval", "--alpha", "NaN"), "--alpha NaN: want a finite number"},
		{with("eval", "--min-active", "Inf"), "--min-active +Inf"},
		{with("eval", "--n", "0"), "--n 0 must be at least 2"},
		{with("eval", "--n", "9223372036854775807"), "exceeds"},
		{with("eval", "--draws", "0"), "--draws 0"},
		{with("eval", "--draws", "1000000000000"), "--draws 1000000000000"},
		{with("eval", "--alignments", "99999999999999999999x1z"), "--alignments"},
		{with("eval", "--alignments", "8x8zjunk"), `--alignments: "8x8zjunk" is not`},
		{with("probe", "--study", "development", "--alignments", "8x8z,2x+2z"), `--alignments: "2x+2z" is not`},
		// predict.
		{with("predict", "--n", "0"), "--n 0 must be in 1..64"},
		{with("predict", "--index", "9223372036854775807"), "--index 9223372036854775807 must be in"},
		{with("predict", "--eval-n", "0"), "--eval-n 0"},
		{with("predict", "--eval-n", "1000000000000", "--batch", "1000000000000"), "--eval-n 1000000000000 must be ≤"},
		{with("predict", "--delay", "0"), "--delay 0"},
		{with("predict", "--seed", "0"), "--seed must be positive"},
		{with("eval", "--seed", "0"), "--seed and --unit-seed must be positive"},
		{with("probe", "--seed", "0"), "--seed must be positive"},
		{[]string{"classifier", "train", "--seed", "0"}, "--seed must be positive"},
		// diagnose.
		{with("diagnose", "--probe-train", "0"), "--probe-train"},
		{with("diagnose", "--batches", "9223372036854775807"), "--batches"},
		{with("diagnose", "--seed", "0"), "--seed must be positive"},
		// probe: list flags and bounds.
		{with("probe", "--study", "oscillation", "--noise", "0,NaN"), `--noise: "NaN" is not a finite number`},
		{with("probe", "--study", "oscillation", "--angles", "0,Inf"), `--angles: "Inf" is not a finite number`},
		{with("probe", "--study", "oscillation", "--angles", "1e999"), `--angles: "1e999" is not a finite number`},
		{with("probe", "--study", "oscillation", "--level", "NaN"), "--level NaN"},
		{with("probe", "--study", "oscillation", "--n", "0"), "--n 0 must be in 2..100000"},
		{with("probe", "--study", "oscillation", "--n", "1000000000000"), "--n 1000000000000 must be in"},
		{with("probe", "--study", "oscillation", "--bootstrap", "0"), "--bootstrap 0 must be in"},
		{with("probe", "--study", "oscillation", "--batch", "1000000000000"), "--batch 1000000000000 must be in"},
		{with("probe", "--study", "development", "--align-n", "1000000000"), "--align-n 1000000000 must be in"},
		{with("probe", "--study", "oscillation", "--max-checkpoints", "-1"), "--max-checkpoints -1"},
		// outputs that cannot be written, refused before any work.
		{with("eval", "--out", "/dev/null"), "--out /dev/null exists and is not a folder"},
		{with("probe", "--study", "oscillation", "--out", "/dev/null"), "--out /dev/null exists and is not a folder"},
		{with("predict", "--eval-out", "/dev/null"), "--eval-out /dev/null exists and is not a folder"},
		{with("predict", "--gif", "/dev/null"), "--gif /dev/null exists and is not a regular file"},
		{with("sample", "--out", "/dev/null"), "--out /dev/null exists and is not a regular file"},
		{with("diagnose", "--out", "/"), "--out / exists and is not a regular file"},
		{[]string{"classifier", "train", "--out", "/dev/null"}, "--out /dev/null exists and is not a regular file"},
		// classifier.
		{[]string{"classifier", "train", "--learning-rate", "NaN"}, "--learning-rate NaN"},
		{[]string{"classifier", "train", "--dropout", "Inf"}, "--dropout +Inf"},
		{[]string{"classifier", "train", "--weight-decay", "NaN"}, "--weight-decay NaN"},
		{[]string{"classifier", "train", "--epochs", "0"}, "epochs 0 must be positive"},
		{[]string{"classifier", "train", "--batch-size", "1000000"}, "--batch-size 1000000 exceeds"},
		{[]string{"classifier", "train", "--hidden", "1099511627776"}, "--hidden: width 1099511627776 exceeds"},
		{[]string{"classifier", "train", "--hidden", "99999999999999999999"}, "--hidden"},
		{[]string{"classifier", "train", "--hidden", "0"}, "hidden width 0 must be positive"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// TestHugeConfigsRefusedUpFront: configs every check of their fields lets
// through but no machine could hold are refused before anything is read or
// built, with the estimate, for every experiment; nothing is left behind.
func TestHugeConfigsRefusedUpFront(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	for _, args := range [][]string{
		{"mnist", "--hidden", "8192", "--critic-width", "8192", "--batch-size", "1048576"},
		{"fashionmnist", "--hidden", "8192", "--batch-size", "1048576"},
		{"cifar10", "--channels", "4096,4096,4096,4096,4096", "--batch-size", "1048576"},
		{"movingmnist", "--hidden", "100000"},
	} {
		run := filepath.Join(tmp, args[0])
		code, _, stderr := runCLI(append([]string{"train", "--run", run, "--data", "/nonexistent"}, args...)...)
		if code != 1 || !strings.Contains(stderr, "would not fit in memory") || !strings.Contains(stderr, "needs about") || !strings.Contains(stderr, "--no-memory-check") {
			t.Errorf("%v: exit %d, %q; want 1 and the estimate", args, code, stderr)
		}
		if _, err := os.Stat(run); !os.IsNotExist(err) {
			t.Errorf("%v: left %s (%v)", args, run, err)
		}
	}
}
