package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/eval"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e strings.Builder
	code = Main(args, &o, &e)
	return code, o.String(), e.String()
}

func TestEvalUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"eval"}, "--checkpoint is required"},
		{[]string{"eval", "--checkpoint", "x", "--n", "1"}, "--n 1"},
		{[]string{"eval", "--checkpoint", "x", "--draws", "0"}, "--draws 0"},
		{[]string{"eval", "--checkpoint", "x", "--unit-choice", "some"}, "unit choice"},
		{[]string{"eval", "--checkpoint", "x", "--alignments", "8x8"}, "not <x units>"},
		{[]string{"eval", "--checkpoint", "x", "--alpha", "-1"}, "--alpha"},
		{[]string{"eval", "--checkpoint", "x", "--alignments", "8x8z,0x0z"}, "need some units"},
		{[]string{"eval", "--compare"}, "at least one"},
		{[]string{"eval", "--compare", "--n", "5", "a"}, "not --n"},
		{[]string{"eval", "stray"}, "unexpected arguments"},
		{[]string{"eval", "--bogus"}, "bogus"},
		{[]string{"classifier"}, "missing subcommand"},
		{[]string{"classifier", "fit"}, "unknown subcommand"},
		{[]string{"classifier", "train", "--hidden", "a,b"}, "--hidden"},
		{[]string{"classifier", "train", "--epochs", "0"}, "epochs 0"},
	} {
		code, _, stderr := runCLI(tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", tc.args, code, stderr, tc.want)
		}
	}
}

func TestEvalMissingCheckpoint(t *testing.T) {
	t.Parallel()
	code, _, stderr := runCLI("eval", "--checkpoint", filepath.Join(t.TempDir(), "none"))
	if code != 1 || !strings.Contains(stderr, "none") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestEvalCompare(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(run string, ws float64) string {
		r := &eval.Result{Step: 100, Algorithm: "local", Gamma: 0.1, N: 10000, Alignments: []*eval.AlignmentResult{{
			Options: eval.DefaultAlignmentOptions(), WakeSleep: eval.Stat{Mean: ws, Std: 0.01}}}}
		r.Reconstruction.Agreement = 0.9
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, run, eval.ReportDir)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, eval.ResultFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, run)
	}
	a := write("run-global", 1.234)
	b := write("run-local", 0.567)
	code, stdout, stderr := runCLI("eval", "--compare", a, filepath.Join(b, eval.ReportDir, eval.ResultFile))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"run-global", "run-local", "1.234 ± 0.010", "0.567 ± 0.010", "recon class agreement"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("compare output lacks %q:\n%s", want, stdout)
		}
	}
	code, _, stderr = runCLI("eval", "--compare", a, filepath.Join(dir, "missing"))
	if code != 1 || !strings.Contains(stderr, "missing") {
		t.Errorf("missing run: exit %d, %q", code, stderr)
	}
}
