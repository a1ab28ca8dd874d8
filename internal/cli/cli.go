// Package cli implements the wakesleep command line: each subcommand parses
// its flags into an options struct, validates them, and calls the library.
//
// Exit codes: 0 success, 1 failure, 2 usage error (bad flag or argument),
// 130 interrupted (after saving a checkpoint).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wakesleep/wakesleep/blas"
	"github.com/wakesleep/wakesleep/eval"
	"github.com/wakesleep/wakesleep/internal/buildinfo"
	"github.com/wakesleep/wakesleep/train"
)

// usageError is a mistake on the command line: printed with a hint to the
// help of help (default: the command's), exit 2.
type usageError struct{ msg, help string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"train", "train a model; writes a run folder", runTrain},
		{"sample", "draw sleep samples from a checkpoint into a PNG grid", runSample},
		{"reconstruct", "reconstruct test digits from a checkpoint into a PNG grid", runReconstruct},
		{"eval", "wake/sleep alignment and sample/reconstruction quality report", runEval},
		{"diagnose", "MNIST: linear probe of z, noise-free reconstructions, gradient of each loss term at encoder and decoder", runDiagnose},
		{"classifier", "train the MNIST classifier that eval uses", runClassifier},
		{"predict", "Moving MNIST: predict 10 frames from 10 (PNG strip, GIF; --eval scores them)", runPredict},
		{"probe", "test the paper's biological predictions (Sec. 4) on trained models", runProbe},
		{"reproduce", "rerun what results/ commits for a figure and compare with the committed numbers", runReproduce},
		{"sweep", "train a grid of settings × seeds in parallel, evaluate, summarise across seeds (resumable)", runSweep},
		{"version", "print the build: module version, VCS revision and time, dirty flag (also --version)", runVersion},
		{"report", "write a run's page (curves, pictures, eval, config) as one HTML file; overlay several runs", runReport},
	}
}

const topUsage = `wakesleep: adversarial wake/sleep and oscillatory learning for recurrent stochastic networks

Usage:
  wakesleep <command> [flags]

Commands:
%s
Run 'wakesleep <command> -h' for a command's flags.
`

func printTop(w io.Writer) {
	var b strings.Builder
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, topUsage, b.String())
}

// Main runs the command line and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	matchBLASThreads()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printTop(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = append([]string{"version"}, args[1:]...)
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		ctx, done := interruptible(c.name, stderr)
		ctx = context.WithValue(ctx, argsKey{}, args)
		err := c.run(ctx, args[1:], stdout, stderr)
		done()
		var ue *usageError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ue):
			help := c.name
			if ue.help != "" {
				help = ue.help
			}
			fmt.Fprintf(stderr, "wakesleep %s: %s\nRun 'wakesleep %s -h' for usage.\n", c.name, oneLine(err), help)
			return 2
		case errors.Is(err, context.Canceled):
			fmt.Fprintf(stderr, "wakesleep %s: interrupted\n", c.name)
			return 130
		default:
			fmt.Fprintf(stderr, "wakesleep %s: %s\n", c.name, oneLine(err))
			return 1
		}
	}
	fmt.Fprintf(stderr, "wakesleep: unknown command %q\nRun 'wakesleep help' for the commands.\n", args[0])
	return 2
}

// Grace is how long a command may take to end after SIGINT or SIGTERM
// before it is ended (exit 130); a training run that is finishing its step
// to save it (see holding) is waited for, up to a second signal.
var grace = 800 * time.Millisecond

// exit ends the process; a variable for tests.
var exit = os.Exit

type holdKey struct{}

// argsKey holds the command line Main was given, for provenance.
type argsKey struct{}

// commandLine is the command line of ctx's command, as a shell would take
// it: "wakesleep train mnist --seed 2" ("" outside Main).
func commandLine(ctx context.Context) string {
	args, ok := ctx.Value(argsKey{}).([]string)
	if !ok {
		return ""
	}
	q := []string{"wakesleep"}
	for _, a := range args {
		q = append(q, shellQuote(a))
	}
	return strings.Join(q, " ")
}

// shellQuote quotes s for a POSIX shell where it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=.,/:+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// reportProvenance is what a report records of the build and command line.
func reportProvenance(ctx context.Context) eval.Provenance {
	return eval.Provenance{Version: buildinfo.String(), Command: commandLine(ctx)}
}

// provenance is what config.json records of the build and command line.
func provenance(ctx context.Context) train.Provenance {
	return train.Provenance{Version: buildinfo.String(), Command: commandLine(ctx)}
}

// holding is set by a command while it finishes work that the signal asked
// it to save (train: the step in progress and its checkpoint): the watchdog
// then waits for it instead of ending the process.
func holding(ctx context.Context) *atomic.Bool {
	if h, ok := ctx.Value(holdKey{}).(*atomic.Bool); ok {
		return h
	}
	return new(atomic.Bool)
}

// interruptible returns the context of a command, cancelled by SIGINT or
// SIGTERM, and a function to call when the command has returned. Every
// command checks the context where it can; one caught in a long computation
// that does not is ended grace after the signal, so that no command outlives
// a Ctrl-C by more than about a second. Files are written atomically
// (temporary file, rename), so ending a command leaves none half-written.
func interruptible(name string, stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	hold := new(atomic.Bool)
	ctx = context.WithValue(ctx, holdKey{}, hold)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	finished := make(chan struct{})
	go func() {
		select {
		case <-finished:
			return
		case <-sigs:
			cancel()
		}
		timer := time.NewTimer(grace)
		defer timer.Stop()
		for {
			select {
			case <-finished:
				return
			case <-timer.C:
				if !hold.Load() {
					fmt.Fprintf(stderr, "wakesleep %s: interrupted\n", name)
					exit(130)
					return
				}
				fmt.Fprintf(stderr, "wakesleep %s: finishing the step in progress to save it (signal again to quit without saving it)\n", name)
			case <-sigs:
				fmt.Fprintf(stderr, "wakesleep %s: interrupted again: quitting without saving the step in progress\n", name)
				exit(130)
				return
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(finished)
		cancel()
	}
}

// oneLine is err's message on one line: errors.Join puts each joined error
// on its own line, which would break the one-line error contract.
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\nFlags:\n", strings.TrimSpace(usage))
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags, turning flag errors into usage errors; it allows
// positional arguments before flags (`train mnist --epochs 3`).
func parse(fs *flag.FlagSet, args []string) (positional []string, err error) {
	// The flag package prints a bad flag's message and the whole usage
	// itself; silence it so that Main reports the mistake once, on one line,
	// and print the usage only when it was asked for (-h).
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	defer func() { fs.Usage = usage; fs.SetOutput(out) }()
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(out)
				usage()
				return nil, err
			}
			return nil, &usageError{msg: err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, finiteFlags(fs)
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	m := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { m[f.Name] = true })
	return m
}

// finiteFlags refuses a NaN or infinite value of any float flag given: no
// command has a use for one, and each would otherwise need its own check
// (a comparison with NaN is always false, so range checks let it through).
func finiteFlags(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		g, ok := f.Value.(flag.Getter)
		if !ok || err != nil {
			return
		}
		if v, ok := g.Get().(float64); ok && (math.IsNaN(v) || math.IsInf(v, 0)) {
			err = usagef("--%s %s: want a finite number", f.Name, f.Value.String())
		}
	})
	return err
}

// outDir checks, before any work, that an output folder given on the
// command line can be one: absent (it is created) or a folder.
func outDir(flag, path string) error {
	if path == "" {
		return nil
	}
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		return usagef("--%s %s exists and is not a folder", flag, path)
	}
	return nil
}

// outFile checks, before any work, that an output file given on the command
// line can be written: absent, or a regular file (it is replaced).
func outFile(flag, path string) error {
	if path == "" || path == "-" {
		return nil
	}
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return usagef("--%s %s exists and is not a regular file", flag, path)
	}
	return nil
}

// matchBLASThreads makes the OpenBLAS build use as many threads as Go may
// (GOMAXPROCS): OpenBLAS would otherwise start one per core whatever
// GOMAXPROCS says, and two runs each given one core would fight over both.
// OPENBLAS_NUM_THREADS, when set, is the user's choice and is kept.
func matchBLASThreads() {
	if os.Getenv("OPENBLAS_NUM_THREADS") == "" {
		blas.SetThreads(runtime.GOMAXPROCS(0))
	}
}

// runVersion prints the build (buildinfo.String), then with -v each field
// of buildinfo.Info on its own line.
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	verbose, err := parseVersion(args, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, buildinfo.String())
	if verbose {
		info := buildinfo.Info()
		keys := make([]string, 0, len(info))
		for k := range info {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(stdout, "%s=%s\n", k, info[k])
		}
		fmt.Fprintf(stdout, "blas=%s\nblas.threads=%d\n", blas.Implementation, blas.Threads())
		if core := blas.CoreName(); core != "" {
			fmt.Fprintf(stdout, "blas.core=%s\n", core)
		}
		gc := debug.SetGCPercent(-1) // read it (and put it back)
		debug.SetGCPercent(gc)
		fmt.Fprintf(stdout, "gc.percent=%d\n", gc)
	}
	return nil
}

func parseVersion(args []string, stderr io.Writer) (verbose bool, err error) {
	fs := newFlagSet("version", "Usage: wakesleep version [-v]\n\nPrints the build: module version, VCS revision (first 12 digits), its time,\nwhether the tree was dirty, and the Go version. Every config.json and\nreport records the same line. The revision is stamped by go build in a git\nclone (not with -buildvcs=false, nor in a linked worktree).", stderr)
	fs.BoolVar(&verbose, "v", false, "also print each field of the build info on its own line, and the BLAS in use (its threads and, for OpenBLAS, the kernels it chose)")
	pos, err := parse(fs, args)
	if err != nil {
		return false, err
	}
	if len(pos) > 0 {
		return false, usagef("unexpected arguments %v", pos)
	}
	return verbose, nil
}
