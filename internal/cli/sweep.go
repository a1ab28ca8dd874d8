package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wakesleep/wakesleep/eval"
	"github.com/wakesleep/wakesleep/experiment"
	"github.com/wakesleep/wakesleep/internal/buildinfo"
	"github.com/wakesleep/wakesleep/internal/regular"
	"github.com/wakesleep/wakesleep/internal/sweep"
	"github.com/wakesleep/wakesleep/train"
)

const sweepUsage = `
Usage: wakesleep sweep --out <folder> --seeds <seeds> [--set "<name>: <train flags>"]...
                       [--grid <grid.json>] [--workers N] [--no-eval] [--eval-args "<eval flags>"]
                       [experiment] [train flags common to every run]

Trains every setting with every seed, each run in <out>/<setting>/s<seed>
(its log beside it, s<seed>.log), then evaluates each (wakesleep eval, into
the run's eval/ folder) and writes, in <out>, summary.md, summary.csv and
summary.json: per setting, the mean over seeds of every scalar of the runs'
eval JSON with its t-based 95% confidence interval. 'wakesleep eval
--compare <out>' prints the summary again, or several sweeps side by side.

Runs are child processes of this binary, --workers at a time, each on one
core (GOMAXPROCS=1, OPENBLAS_NUM_THREADS=1). Running the same command again
skips the runs that finished, resumes those interrupted (train --resume)
and evaluates those not yet evaluated, so an interrupted sweep is continued
by repeating it; a run folder started with other flags is refused. Ctrl-C
stops every run at the end of its step, with a checkpoint.

Every argument that is not a sweep flag is a train argument of every run;
--seed and --run are the sweep's own. A grid file gives the same in JSON
(its seeds replaced by --seeds, its settings and common arguments extended
by --set and the command line):
  {"seeds": [1, 2, 3], "common": ["mnist", "--epochs", "6"],
   "settings": [{"name": "c1", "args": ["--critic-steps", "1"]},
                {"name": "c3", "args": ["--critic-steps", "3"]}]}
Without settings the one setting is called "default".

Examples:
  $ wakesleep sweep --out runs/critic-steps --seeds 1,2,3 --workers 2 \
      --set "c1: --critic-steps 1" --set "c3: --critic-steps 3" mnist --epochs 6
  $ wakesleep sweep --out runs/alg --seeds 1-5 --set "global: --algorithm global" --set "local: --algorithm local"
  $ wakesleep sweep --out runs/grid --grid grid.json --workers 2 --eval-args "--n 2000"
  $ wakesleep eval --compare runs/critic-steps
`

// sweepFlags are the sweep's own flags; every other argument goes to train.
var sweepFlags = map[string]bool{"out": true, "seeds": true, "set": true, "grid": true, "workers": true, "no-eval": true, "eval-args": true, "h": true, "help": true}

// sweepBools are the sweep flags that take no value.
var sweepBools = map[string]bool{"no-eval": true, "h": true, "help": true}

// listFlag collects the values of a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, "; ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

type sweepOptions struct {
	out, grid, seeds, evalArgs string
	sets                       listFlag
	workers                    int
	noEval                     bool
	g                          *sweep.Grid
	eval                       []string // eval flags of every run
}

// splitSweepArgs separates the sweep's flags from the train arguments.
func splitSweepArgs(args []string) (own, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" || !sweepFlags[name] {
			rest = append(rest, a)
			continue
		}
		own = append(own, a)
		if !hasVal && !sweepBools[name] && i+1 < len(args) {
			own = append(own, args[i+1])
			i++
		}
	}
	return own, rest
}

func parseSweep(args []string, stderr io.Writer) (*sweepOptions, error) {
	own, rest := splitSweepArgs(args)
	o := &sweepOptions{}
	fs := newFlagSet("sweep", sweepUsage, stderr)
	fs.StringVar(&o.out, "out", "", "sweep folder (required): runs in <out>/<setting>/s<seed>, the summary in <out>")
	fs.StringVar(&o.seeds, "seeds", "", "seeds of every setting: 1,2,3 or 1-5 (required unless the grid file gives them)")
	fs.Var(&o.sets, "set", `a setting, "<name>: <train flags>" (repeatable; none: one setting, "default")`)
	fs.StringVar(&o.grid, "grid", "", "grid file (JSON: seeds, common, settings; see above)")
	fs.IntVar(&o.workers, "workers", 1, "runs at once, each on one core")
	fs.BoolVar(&o.noEval, "no-eval", false, "train only: no evaluation, no summary")
	fs.StringVar(&o.evalArgs, "eval-args", "", `flags of every run's evaluation, e.g. "--n 2000 --draws 5"`)
	pos, err := parse(fs, own)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usagef("unexpected arguments %v", pos)
	}
	if o.out == "" {
		return nil, usagef("--out is required: the sweep folder")
	}
	if err := outDir("out", o.out); err != nil {
		return nil, err
	}
	if o.workers < 1 || o.workers > 1024 {
		return nil, usagef("--workers %d must be in 1..1024", o.workers)
	}
	g := &sweep.Grid{}
	if o.grid != "" {
		if g, err = sweep.ReadGrid(o.grid); err != nil {
			return nil, usagef("--grid: %v", err)
		}
	}
	if o.seeds != "" {
		if g.Seeds, err = sweep.ParseSeeds(o.seeds); err != nil {
			return nil, usagef("%v", err)
		}
	}
	for _, s := range o.sets {
		set, err := sweep.ParseSet(s)
		if err != nil {
			return nil, usagef("%v", err)
		}
		g.Settings = append(g.Settings, set)
	}
	g.Common = append(g.Common, rest...)
	if err := g.Validate(); err != nil {
		return nil, usagef("%v", err)
	}
	if o.eval, err = sweep.SplitArgs(o.evalArgs); err != nil {
		return nil, usagef("--eval-args: %v", err)
	}
	// The sweep owns each run's seed and folder.
	for _, s := range append([]sweep.Setting{{Name: "common arguments", Args: g.Common}}, g.Settings...) {
		for _, a := range s.Args {
			name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if strings.HasPrefix(a, "-") && (name == "seed" || name == "run" || name == "resume" || name == "") {
				return nil, usagef("%s: %s is the sweep's own (--seeds; runs go in --out)", s.Name, a)
			}
		}
	}
	for _, a := range o.eval {
		if name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); name == "checkpoint" || name == "out" || name == "compare" {
			return nil, usagef("--eval-args: %s is the sweep's own", a)
		}
	}
	// Every run's command line parses before anything runs.
	for _, r := range g.Runs(o.out) {
		if _, _, _, err := parseTrain(r.Args, io.Discard); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, usagef("%s: -h is not a train argument of a sweep (see 'wakesleep train -h')", r.Name())
			}
			var ue *usageError
			if errors.As(err, &ue) {
				return nil, usagef("run %s: %s", r.Name(), ue.msg)
			}
			return nil, fmt.Errorf("run %s: %w", r.Name(), err)
		}
	}
	if !o.noEval {
		if _, _, _, _, err := parseEval(append([]string{"--checkpoint", o.out}, o.eval...), io.Discard); err != nil {
			var ue *usageError
			if errors.As(err, &ue) {
				return nil, usagef("--eval-args: %s", ue.msg)
			}
			return nil, err
		}
	}
	o.g = g
	return o, nil
}

// self is the binary the runs of a sweep are: this one; a variable for tests.
var self = os.Executable

func runSweep(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseSweep(args, stderr)
	if err != nil {
		return err
	}
	bin, err := self()
	if err != nil {
		return fmt.Errorf("find this binary to run the runs: %w", err)
	}
	runs := o.g.Runs(o.out)
	steps := make([]sweep.Step, len(runs))
	for i, r := range runs {
		if steps[i], err = sweep.Plan(r, !o.noEval, train.ConfigFile); err != nil {
			return err
		}
	}
	counts := map[sweep.Step]int{}
	for _, s := range steps {
		counts[s]++
	}
	fmt.Fprintf(stdout, "sweep %s: %d runs (%d settings × %d seeds): %d to train, %d to resume, %d to evaluate, %d finished (skipped); %d at once\n",
		o.out, len(runs), len(o.g.Settings), len(o.g.Seeds), counts[sweep.Fresh], counts[sweep.Resume], counts[sweep.Eval], counts[sweep.Done], o.workers)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	// On a signal the sweep passes one SIGINT to each run (in a process
	// group of its own), which stops at the end of its step with a
	// checkpoint: the sweep waits for them rather than being ended by the
	// watchdog.
	hold := holding(ctx)
	hold.Store(true)
	defer hold.Store(false)
	jobs := make(chan int)
	var mu sync.Mutex
	var failed []string
	done, todo := 0, len(runs)-counts[sweep.Done]
	var wg sync.WaitGroup
	for w := 0; w < o.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r, step := runs[i], steps[i]
				start := time.Now()
				what, err := o.runOne(ctx, bin, r, step)
				mu.Lock()
				done++
				switch {
				case err != nil && ctx.Err() != nil:
					fmt.Fprintf(stdout, "[%d/%d] %s: interrupted (%s)\n", done, todo, r.Name(), logFile(r))
				case err != nil:
					failed = append(failed, fmt.Sprintf("%s (%v; see %s)", r.Name(), err, logFile(r)))
					fmt.Fprintf(stdout, "[%d/%d] %s: failed: %v (see %s)\n", done, todo, r.Name(), err, logFile(r))
				default:
					fmt.Fprintf(stdout, "[%d/%d] %s: %s in %.1fs\n", done, todo, r.Name(), what, time.Since(start).Seconds())
				}
				mu.Unlock()
			}
		}()
	}
	for i := range runs {
		if steps[i] == sweep.Done {
			continue
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		fmt.Fprintf(stdout, "sweep interrupted: run the same command again to continue it\n")
		return err
	}
	if !o.noEval {
		s, err := o.summarize(runs)
		if err != nil {
			return err
		}
		if len(s.Metrics) == 0 {
			return fmt.Errorf("no run was evaluated: %s", strings.Join(failed, "; "))
		}
		s.Command, s.Version = commandLine(ctx), buildinfo.String()
		if err := s.Write(o.out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s, %s and %s\n", filepath.Join(o.out, sweep.SummaryMD), sweep.SummaryCSV, sweep.SummaryJSON)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d runs failed: %s", len(failed), len(runs), strings.Join(failed, "; "))
	}
	return nil
}

// logFile is where a run's train and eval output goes.
func logFile(r sweep.Run) string { return r.Dir + ".log" }

// runOne brings run r from step to done: train (fresh or resumed), then
// eval unless --no-eval; it returns what it did.
func (o *sweepOptions) runOne(ctx context.Context, bin string, r sweep.Run, step sweep.Step) (string, error) {
	if err := os.MkdirAll(filepath.Dir(r.Dir), 0o755); err != nil {
		return "", err
	}
	log, err := os.OpenFile(logFile(r), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", err
	}
	defer log.Close()
	var did []string
	st := sweep.State{Args: r.Args}
	switch step {
	case sweep.Fresh, sweep.Resume:
		if err := sweep.WriteState(r.Dir, st); err != nil {
			return "", err
		}
		args := append([]string{"train"}, r.Args...)
		what := "trained"
		if step == sweep.Resume {
			args = append([]string{"train"}, resumeArgs(r.Args)...)
			what = "resumed and trained"
		}
		if err := child(ctx, bin, args, log); err != nil {
			return "", fmt.Errorf("train: %w", err)
		}
		st.Trained = true
		if err := sweep.WriteState(r.Dir, st); err != nil {
			return "", err
		}
		did = append(did, what)
	case sweep.Eval:
		st.Trained = true
	}
	if !o.noEval {
		args := append([]string{"eval", "--checkpoint", r.Dir}, o.eval...)
		if err := child(ctx, bin, args, log); err != nil {
			return "", fmt.Errorf("eval: %w", err)
		}
		st.Evaluated = true
		if err := sweep.WriteState(r.Dir, st); err != nil {
			return "", err
		}
		did = append(did, "evaluated")
	}
	return strings.Join(did, ", "), nil
}

// resumeArgs are the arguments that continue a run started with args:
// --run and --resume, and those of args that a resume takes (the data, the
// run's length, what it writes), with their values.
func resumeArgs(args []string) []string {
	bools := boolFlags()
	resumable := map[string]bool{}
	for name := range nonConfigFlags {
		resumable[name] = name != "run" && name != "resume" && name != "config"
	}
	for _, f := range train.SettingsFlags() {
		resumable[f.Name] = resumable[f.Name] || f.Resumable
	}
	for _, ex := range experiment.All {
		for _, f := range ex.Flags() {
			resumable[f.Name] = resumable[f.Name] || f.Resumable
		}
	}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			continue // the experiment: the run folder knows it
		}
		name, _, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takesValue := !hasVal && !bools[name] && i+1 < len(args)
		if name == "run" && takesValue {
			out = append(out, a, args[i+1])
		} else if resumable[name] {
			out = append(out, a)
			if takesValue {
				out = append(out, args[i+1])
			}
		}
		if takesValue {
			i++
		}
	}
	return append(out, "--resume")
}

// child runs this binary with args, its output appended to log, on one
// core; a cancelled ctx sends it SIGINT (it saves a checkpoint and exits).
func child(ctx context.Context, bin string, args []string, log io.Writer) error {
	fmt.Fprintf(log, "$ %s\n", strings.Join(append([]string{"wakesleep"}, quoteAll(args)...), " "))
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", "OPENBLAS_NUM_THREADS=1")
	cmd.Stdout, cmd.Stderr = log, log
	ownGroup(cmd)
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = time.Minute
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("exit %d", ee.ExitCode())
	}
	return err
}

func quoteAll(args []string) []string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return q
}

// summarize reads the eval JSON of every evaluated run.
func (o *sweepOptions) summarize(runs []sweep.Run) (*sweep.Summary, error) {
	var names []string
	for _, s := range o.g.Settings {
		names = append(names, s.Name)
	}
	var results []sweep.Result
	for _, r := range runs {
		st, ok, err := sweep.ReadState(r.Dir)
		if err != nil || !ok || !st.Evaluated {
			continue
		}
		p, err := evalJSON(r.Dir)
		if err != nil {
			return nil, fmt.Errorf("run %s: %w", r.Name(), err)
		}
		b, err := regular.ReadFile(p)
		if err != nil {
			return nil, err
		}
		v, err := sweep.Flatten(b)
		if err != nil {
			return nil, fmt.Errorf("read %q: %w", p, err)
		}
		results = append(results, sweep.Result{Setting: r.Setting, Seed: r.Seed, Values: v})
	}
	return sweep.Summarize(names, results), nil
}

// evalJSON is the result file eval wrote for the run in dir, whichever the
// experiment.
func evalJSON(dir string) (string, error) {
	for _, f := range []string{eval.ResultFile, eval.CIFAR10ResultFile, eval.PredictionResultFile} {
		p := filepath.Join(dir, eval.ReportDir, f)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no eval result in %s", filepath.Join(dir, eval.ReportDir))
}

// compareSweeps prints the summaries of sweeps side by side: a row per
// metric, a column per setting (prefixed by the sweep's folder when more
// than one is given).
func compareSweeps(paths []string, sums []*sweep.Summary, stdout io.Writer) error {
	merged := &sweep.Summary{Level: sweep.Level, Stats: map[string]map[string]sweep.Stat{}}
	seen := map[string]bool{}
	for i, s := range sums {
		for _, set := range s.Settings {
			name := set
			if len(sums) > 1 {
				name = runName(paths[i]) + "/" + set
			}
			if merged.Stats[name] != nil {
				name += "#" + strconv.Itoa(i+1)
			}
			merged.Settings = append(merged.Settings, name)
			merged.Stats[name] = s.Stats[set]
		}
		for _, m := range s.Metrics {
			if !seen[m] {
				seen[m] = true
				merged.Metrics = append(merged.Metrics, m)
			}
		}
	}
	sort.Strings(merged.Metrics)
	merged.Markdown(stdout)
	return nil
}
