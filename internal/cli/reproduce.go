package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wakesleep/wakesleep/eval"
	"github.com/wakesleep/wakesleep/internal/regular"
	"github.com/wakesleep/wakesleep/internal/sweep"
)

const reproduceUsage = `
Usage: wakesleep reproduce <figure> [--results <folder>] [--out <folder>] [--workers N] [--dry-run]

Runs what results/ commits for a figure, as a sweep (wakesleep sweep: one
core a run, resumable by running the same command again), evaluates the
final checkpoints as the committed reports were, and compares each number
with the committed one within the tolerance stated beside it, printing pass
or fail for each. Exit 0 when every number passes, 1 otherwise.

Figures:
%s
A build with another BLAS or thread count trains another trajectory from
the same seed (on the build and core count of the committed runs it repeats:
local seed 1 retrained to step 500 on the committing machine gave its
fig3.csv row to the last digit), so the tolerances are set from two spreads in results/mnist/fig3.csv
(local critics, eval on 2,000 digits): between seeds 1 and 2 at step 4,000,
and between steps 3,500 and 4,000 of seed 1 — agreement 0.001 and 0.0005,
sleep confidence 0.012 and 0.015, entropy 0.06 and 0.18 bits, FD sleep 4%%
and 0.2%%, FD reconstructions 13%% and 9%%, KL 4x+2z 0.003 and 0.009, its
control 0.0002 and 0.022 — at about twice the larger or more (agreement
0.03, confidence 0.03, entropy 0.25 bits, FDs 15%%, both KLs 0.05).

Examples:
  $ wakesleep reproduce fig3 --dry-run
  $ wakesleep reproduce fig3 --out runs/reproduce-fig3 --workers 2
`

// figure is a committed result a reproduce command remakes.
type figure struct {
	name, about string
	// missing says why there is nothing to reproduce yet ("" when there is).
	missing string
	// common are the train arguments of every run; each setting trains
	// seed 1 to the step of its committed eval.json.
	common   []string
	settings []figureSetting
	checks   []check
}

type figureSetting struct {
	name, args string // the sweep's setting name and its train flags
	committed  string // its committed eval.json, relative to --results
}

// check compares one number: within tol of the committed value (tol
// relative to it when rel).
type check struct {
	metric, what string
	tol          float64
	rel          bool
}

func (c check) tolerance() string {
	if c.rel {
		return fmt.Sprintf("±%g%%", c.tol*100)
	}
	return fmt.Sprintf("±%g", c.tol)
}

func (c check) pass(got, want float64) bool {
	d := math.Abs(got - want)
	if c.rel {
		return d <= c.tol*math.Abs(want)
	}
	return d <= c.tol
}

func figures() []figure {
	return []figure{
		{name: "fig3", about: "MNIST Fig. 3 with the default recipe (results/mnist/README.md): local and global critics, seed 1, 4,000 steps, eval on all 10,000 test digits; about 35 min on 2 cores (26 and 30 min of training, results/mnist/README.md)",
			common: []string{"mnist", "--preset", "quick", "--epochs", "1000", "--checkpoint-every", "500", "--log-every", "50"},
			settings: []figureSetting{
				{"local", "--algorithm local", "mnist/local-s1/eval/eval.json"},
				{"global", "--algorithm global", "mnist/global-s1/eval/eval.json"},
			},
			checks: []check{
				{"reconstruction.agreement", "reconstruction class agreement", 0.03, false},
				{"sleep.mean_confidence", "sleep samples: mean classifier confidence", 0.03, false},
				{"sleep.entropy_bits", "sleep samples: class entropy (bits)", 0.25, false},
				{"frechet.sleep_test", "FD sleep / test", 0.15, true},
				{"frechet.recon_test", "FD reconstructions / test", 0.15, true},
				{"alignments[4x2z].kl_wake_sleep.mean", "KL(wake‖sleep) 4x+2z (bits)", 0.05, false},
				{"alignments[4x2z].kl_control_wake.mean", "KL control wake/wake 4x+2z (bits)", 0.05, false},
			}},
		{name: "fig4", about: "CIFAR-10 hierarchy (Fig. 4)", missing: "results/ commits no Fig. 4 run yet: there are no numbers to reproduce"},
		{name: "fig5", about: "Moving MNIST prediction (Fig. 5)", missing: "results/ commits no Fig. 5 run yet: there are no numbers to reproduce"},
		{name: "probes", about: "the biological predictions (Sec. 4, wakesleep probe)", missing: "results/probes/ is made by scripts/seeds.sh then scripts/probes.sh (see results/probes/README.md); this command does not yet rerun and compare it"},
	}
}

type reproduceOptions struct {
	fig          figure
	results, out string
	workers      int
	dryRun       bool
	committed    []map[string]float64 // per setting, the committed eval.json's numbers
	steps        []int                // per setting, the committed checkpoint's step
	sweepArgs    []string
}

func parseReproduce(args []string, stderr io.Writer) (*reproduceOptions, error) {
	var list strings.Builder
	for _, f := range figures() {
		fmt.Fprintf(&list, "  %-8s %s\n", f.name, f.about)
	}
	o := &reproduceOptions{}
	fs := newFlagSet("reproduce", fmt.Sprintf(reproduceUsage, list.String()), stderr)
	fs.StringVar(&o.results, "results", "results", "the committed results folder (run from the repository root, or give it)")
	fs.StringVar(&o.out, "out", "", "sweep folder (default: runs/reproduce-<figure>)")
	fs.IntVar(&o.workers, "workers", 2, "runs at once, each on one core")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the sweep and the comparisons, run nothing")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != 1 {
		var names []string
		for _, f := range figures() {
			names = append(names, f.name)
		}
		return nil, usagef("name one figure: %s", strings.Join(names, ", "))
	}
	found := false
	for _, f := range figures() {
		if f.name == pos[0] {
			o.fig, found = f, true
		}
	}
	if !found {
		return nil, usagef("unknown figure %q (see 'wakesleep reproduce -h')", pos[0])
	}
	if o.fig.missing != "" {
		return nil, fmt.Errorf("%s: %s", o.fig.name, o.fig.missing)
	}
	if o.out == "" {
		o.out = filepath.Join("runs", "reproduce-"+o.fig.name)
	}
	if o.workers < 1 || o.workers > 1024 {
		return nil, usagef("--workers %d must be in 1..1024", o.workers)
	}
	o.sweepArgs = []string{"--out", o.out, "--seeds", "1", "--workers", strconv.Itoa(o.workers)}
	for _, s := range o.fig.settings {
		p := filepath.Join(o.results, s.committed)
		b, err := regular.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: the committed %s: %w (run from the repository root, or pass --results)", o.fig.name, p, err)
		}
		v, err := sweep.Flatten(b)
		if err != nil {
			return nil, fmt.Errorf("read %q: %w", p, err)
		}
		var head struct{ Step int }
		if err := json.Unmarshal(b, &head); err != nil || head.Step <= 0 {
			return nil, fmt.Errorf("read %q: no step", p)
		}
		for _, c := range o.fig.checks {
			if _, ok := v[c.metric]; !ok {
				return nil, fmt.Errorf("read %q: no %s", p, c.metric)
			}
		}
		o.committed = append(o.committed, v)
		o.steps = append(o.steps, head.Step)
		o.sweepArgs = append(o.sweepArgs, "--set", fmt.Sprintf("%s: %s --max-steps %d", s.name, s.args, head.Step))
	}
	o.sweepArgs = append(o.sweepArgs, o.fig.common...)
	return o, nil
}

func runReproduce(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseReproduce(args, stderr)
	if err != nil {
		return err
	}
	if o.dryRun {
		fmt.Fprintf(stdout, "wakesleep sweep %s\n", strings.Join(quoteAll(o.sweepArgs), " "))
		for i, s := range o.fig.settings {
			for _, c := range o.fig.checks {
				fmt.Fprintf(stdout, "%s: %s %.4g %s (committed in %s)\n", s.name, c.what, o.committed[i][c.metric], c.tolerance(), filepath.Join(o.results, s.committed))
			}
		}
		return nil
	}
	if err := runSweep(ctx, o.sweepArgs, stdout, stderr); err != nil {
		return err
	}
	var got []map[string]float64
	for _, s := range o.fig.settings {
		p := filepath.Join(o.out, s.name, "s1", eval.ReportDir, eval.ResultFile)
		b, err := regular.ReadFile(p)
		if err != nil {
			return err
		}
		v, err := sweep.Flatten(b)
		if err != nil {
			return fmt.Errorf("read %q: %w", p, err)
		}
		got = append(got, v)
	}
	return compareFigure(o.fig, o.committed, got, stdout)
}

// compareFigure prints, for each setting and check, the committed and the
// reproduced number and whether they agree within the tolerance; an error
// counts the failures.
func compareFigure(f figure, committed, got []map[string]float64, w io.Writer) error {
	fails, total := 0, 0
	fmt.Fprintf(w, "%-8s %-44s %12s %12s %10s  %s\n", "setting", "number", "committed", "reproduced", "tolerance", "")
	for i, s := range f.settings {
		for _, c := range f.checks {
			want, have := committed[i][c.metric], got[i][c.metric]
			_, ok := got[i][c.metric]
			verdict := "pass"
			if !ok || !c.pass(have, want) {
				verdict = "FAIL"
				fails++
			}
			total++
			fmt.Fprintf(w, "%-8s %-44s %12.4g %12.4g %10s  %s\n", s.name, c.what, want, have, c.tolerance(), verdict)
		}
	}
	if fails > 0 {
		return fmt.Errorf("%s: %d of %d numbers outside their tolerance", f.name, fails, total)
	}
	fmt.Fprintf(w, "%s: all %d numbers within their tolerance\n", f.name, total)
	return nil
}
