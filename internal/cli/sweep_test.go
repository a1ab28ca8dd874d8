package cli

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/internal/buildinfo"
	"github.com/wakesleep/wakesleep/internal/sweep"
)

// A sweep of 2 seeds × 2 settings of tiny MNIST runs: an interrupted run
// is resumed, the others trained, every run evaluated and summarised across
// seeds; run again, it skips them all.
func TestSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("trains and evaluates four tiny runs in child processes")
	}
	// The runs are child processes of the test binary, which acts as
	// wakesleep with this variable (TestMain).
	t.Setenv("WAKESLEEP_TEST_MAIN", "1")
	data, _ := goodRun()
	// A classifier with 8 features: the embedded one's 512 make each
	// Fréchet distance seconds of eigendecomposition.
	cl := filepath.Join(t.TempDir(), "classifier.safetensors")
	if code, _, stderr := runCLI("classifier", "train", "--hidden", "8", "--epochs", "1", "--batch-size", "8", "--data", data, "--out", cl); code != 0 {
		t.Fatal(stderr)
	}
	out := filepath.Join(t.TempDir(), "sweep")
	args := append([]string{"sweep", "--out", out, "--seeds", "1,2", "--workers", "2",
		"--set", "a: --critic-steps 1", "--set", "b: --critic-steps 2",
		"--eval-args", "--n 16 --draws 2 --alignments 4x2z --data " + data + " --classifier " + cl,
		"mnist", "--data", data, "--epochs", "2", "--pictures", "samples"}, tinyFlags...)
	o, err := parseSweep(args[1:], os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	runs := o.g.Runs(out)
	if len(runs) != 4 {
		t.Fatalf("%d runs, want 4", len(runs))
	}
	// b/s2 interrupted after its first step: what the sweep leaves of a run
	// stopped then (its state, config.json, a checkpoint at step 1).
	cut := runs[3]
	if cut.Name() != "b/s2" {
		t.Fatalf("run 4 is %s", cut.Name())
	}
	if err := sweep.WriteState(cut.Dir, sweep.State{Args: cut.Args}); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(append(append([]string{"train"}, cut.Args...), "--max-steps", "1")...); code != 0 {
		t.Fatal(stderr)
	}
	code, stdout, stderr := runCLI(args...)
	if code != 0 {
		t.Fatalf("sweep: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "3 to train, 1 to resume, 0 to evaluate, 0 finished") {
		t.Errorf("plan of the first sweep:\n%s", stdout)
	}
	if log := string(read(t, logFile(cut))); !strings.Contains(log, "--resume") || !strings.Contains(log, "at step 1") {
		t.Errorf("b/s2 was not resumed at step 1:\n%s", log)
	}
	for _, r := range runs[:3] {
		if log := string(read(t, logFile(r))); strings.Contains(log, "--resume") {
			t.Errorf("%s was resumed:\n%s", r.Name(), log)
		}
	}
	// The summary holds, per setting, the mean over both seeds of each
	// run's eval.json numbers, with an interval around it.
	rows, err := csv.NewReader(strings.NewReader(string(read(t, filepath.Join(out, sweep.SummaryCSV))))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	const metric = "frechet.sleep_test"
	found := 0
	for _, row := range rows[1:] {
		if row[1] != metric {
			continue
		}
		found++
		var sum float64
		for _, seed := range []string{"s1", "s2"} {
			v, err := sweep.Flatten(read(t, filepath.Join(out, row[0], seed, "eval", "eval.json")))
			if err != nil {
				t.Fatal(err)
			}
			sum += v[metric]
		}
		mean, _ := strconv.ParseFloat(row[3], 64)
		lo, _ := strconv.ParseFloat(row[5], 64)
		hi, _ := strconv.ParseFloat(row[6], 64)
		if row[2] != "2" || row[7] != "1 2" || abs(mean-sum/2) > 1e-9*abs(mean) || !(lo <= mean && mean <= hi) {
			t.Errorf("summary row %v: want n 2, seeds 1 2, mean %g inside [lo, hi]", row, sum/2)
		}
	}
	if found != 2 {
		t.Errorf("%d summary rows of %s, want one per setting:\n%v", found, metric, rows)
	}
	// Every report says which build and command made it.
	var rep struct{ Version, Command string }
	if err := json.Unmarshal(read(t, filepath.Join(runs[0].Dir, "eval", "eval.json")), &rep); err != nil || rep.Version != buildinfo.String() || !strings.HasPrefix(rep.Command, "wakesleep eval --checkpoint "+runs[0].Dir) {
		t.Errorf("eval.json provenance: %+v, %v", rep, err)
	}
	if md := string(read(t, filepath.Join(runs[0].Dir, "eval", "report.md"))); !strings.Contains(md, "| build | "+buildinfo.String()) {
		t.Errorf("report.md names no build:\n%s", md)
	}
	md := string(read(t, filepath.Join(out, sweep.SummaryMD)))
	if !strings.Contains(md, "| metric | a | b |") || !strings.Contains(md, "(n=2)") {
		t.Errorf("summary.md:\n%s", md)
	}
	// Run again: nothing to do.
	before, err := os.Stat(filepath.Join(runs[0].Dir, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(args...)
	if code != 0 || !strings.Contains(stdout, "0 to train, 0 to resume, 0 to evaluate, 4 finished (skipped)") {
		t.Errorf("second sweep: exit %d\n%s%s", code, stdout, stderr)
	}
	if after, err := os.Stat(filepath.Join(runs[0].Dir, "metrics.csv")); err != nil || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("a finished run was trained again (%v)", err)
	}
	// eval --compare reads the sweep.
	code, stdout, stderr = runCLI("eval", "--compare", out)
	if code != 0 || !strings.Contains(stdout, "| metric | a | b |") || !strings.Contains(stdout, metric) {
		t.Errorf("eval --compare %s: exit %d\n%s%s", out, code, stdout, stderr)
	}
	// Another setting under the same name is refused.
	changed := append([]string{}, args...)
	for i, a := range changed {
		if a == "a: --critic-steps 1" {
			changed[i] = "a: --critic-steps 3"
		}
	}
	if code, _, stderr := runCLI(changed...); code != 1 || !strings.Contains(stderr, "other train arguments") {
		t.Errorf("changed setting: exit %d, %s", code, stderr)
	}
}

func TestSweepUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sweep", "--seeds", "1"}, "--out is required"},
		{[]string{"sweep", "--out", "x"}, "no seeds"},
		{[]string{"sweep", "--out", "x", "--seeds", "1", "--seed", "3"}, "--seed is the sweep's own"},
		{[]string{"sweep", "--out", "x", "--seeds", "1", "--set", "a: --run r"}, "a: --run is the sweep's own"},
		{[]string{"sweep", "--out", "x", "--seeds", "1", "--set", "a: --critic-stepz 3"}, "run a/s1: flag provided but not defined: -critic-stepz"},
		{[]string{"sweep", "--out", "x", "--seeds", "1", "--set", "a: --x", "--set", "a: --y"}, `setting "a" given twice`},
		{[]string{"sweep", "--out", "x", "--seeds", "1", "--eval-args", "--n 1"}, "--eval-args: --n 1"},
		{[]string{"sweep", "--out", "x", "--seeds", "1", "--workers", "0"}, "--workers 0"},
		{[]string{"sweep", "--out", "x", "--seeds", "1", "--grid", "none.json"}, "none.json"},
	} {
		code, _, stderr := runCLI(tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// reproduce fig3 plans the committed runs and compares within tolerance;
// the figures without committed results say so.
func TestReproduce(t *testing.T) {
	t.Parallel()
	results := filepath.Join("..", "..", "results")
	code, stdout, stderr := runCLI("reproduce", "fig3", "--dry-run", "--results", results)
	if code != 0 || !strings.Contains(stdout, "--set 'local: --algorithm local --max-steps 4000'") || strings.Count(stdout, "committed in") != 14 {
		t.Errorf("fig3 --dry-run: exit %d\n%s%s", code, stdout, stderr)
	}
	for fig, want := range map[string]string{"fig4": "no numbers to reproduce", "fig5": "no numbers to reproduce", "probes": "does not yet rerun and compare"} {
		if code, _, stderr := runCLI("reproduce", fig); code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, %s", fig, code, stderr)
		}
	}
	o, err := parseReproduce([]string{"fig3", "--results", results}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	same := []map[string]float64{{}, {}}
	for i, m := range o.committed {
		for k, v := range m {
			same[i][k] = v
		}
	}
	var b strings.Builder
	if err := compareFigure(o.fig, o.committed, same, &b); err != nil || strings.Count(b.String(), " pass\n") != 14 {
		t.Errorf("the committed numbers themselves: %v\n%s", err, b.String())
	}
	same[0]["reconstruction.agreement"] -= 0.05
	same[1]["frechet.sleep_test"] *= 1.2
	b.Reset()
	if err := compareFigure(o.fig, o.committed, same, &b); err == nil || !strings.Contains(err.Error(), "2 of 14") || strings.Count(b.String(), "FAIL") != 2 {
		t.Errorf("two numbers off: %v\n%s", err, b.String())
	}
}
