package eval

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wakesleep/wakesleep/data/mnist"
	mnistexp "github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/train"
)

// DefaultEpochN is the number of wake and sleep samples EpochHook uses when
// opts.N is zero: fewer than a full evaluation, so that evaluating every epoch
// costs a few seconds. The KL values depend on N (the estimator's bias does);
// compare epochs with each other and with their own control, and a final
// `wakesleep eval` with its own.
const DefaultEpochN = 2000

// EpochHook returns a function for the training loop to call at the end of
// each epoch (epoch counted from 1). It evaluates the trainer's model as
// Evaluate does (without the train/test Fréchet floor), writes the report
// into <runDir>/eval/epoch-<epoch>/ and appends a row to
// <runDir>/eval/epochs.csv. The MNIST test set and the classifier are loaded
// on the first call. It draws no numbers from the trainer's random stream,
// so training continues exactly as without it.
func EpochHook(runDir string, opts *Options) func(tr *train.Trainer, epoch int) error {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.N == 0 {
		o.N = DefaultEpochN
	}
	var test *mnist.Set
	return func(gtr *train.Trainer, epoch int) error {
		tr, err := mnistexp.View(gtr)
		if err != nil {
			return err
		}
		if test == nil {
			var err error
			if test, err = mnist.Load("test"); err != nil {
				return err
			}
		}
		if o.Classifier == nil {
			c, info, err := DefaultClassifier()
			if err != nil {
				return err
			}
			o.Classifier, o.ClassifierInfo = c, info
		}
		res, err := EvaluateTrainer(tr, "", Data{Test: test}, &o)
		if err != nil {
			return fmt.Errorf("evaluate epoch %d: %w", epoch, err)
		}
		res.Epoch = epoch
		dir := filepath.Join(runDir, ReportDir)
		if err := Write(filepath.Join(dir, fmt.Sprintf("epoch-%03d", epoch)), res); err != nil {
			return err
		}
		return appendHistory(filepath.Join(dir, EpochHistory), res)
	}
}

// historyRow returns the column names and values of r's row in epochs.csv:
// the classifier numbers and, for every alignment, its KLs and control.
func historyRow(r *Result) (cols, vals []string) {
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	add := func(name, v string) { cols, vals = append(cols, name), append(vals, v) }
	add("epoch", strconv.Itoa(r.Epoch))
	add("step", strconv.Itoa(r.Step))
	add("n", strconv.Itoa(r.N))
	for _, a := range r.Alignments {
		l := strings.ReplaceAll(a.Options.Label(), "+", "")
		add("kl_wake_sleep_"+l, g(a.WakeSleep.Mean))
		add("kl_wake_sleep_std_"+l, g(a.WakeSleep.Std))
		add("kl_sleep_wake_"+l, g(a.SleepWake.Mean))
		add("kl_control_"+l, g(a.Control.Mean))
		add("kl_control_std_"+l, g(a.Control.Std))
		add("missing_mass_"+l, g(a.WakeMissing.Mean))
	}
	add("recon_agreement", g(r.Reconstruction.Agreement))
	add("classifier_accuracy", g(r.Reconstruction.Accuracy))
	add("sleep_confidence", g(r.Sleep.MeanConfidence))
	add("sleep_entropy_bits", g(r.Sleep.EntropyBits))
	if sm := r.SleepMean; sm != nil {
		add("sleep_mean_confidence", g(sm.MeanConfidence))
		add("sleep_mean_entropy_bits", g(sm.EntropyBits))
	}
	add("fd_sleep_test", g(r.Frechet.SleepTest))
	add("fd_recon_test", g(r.Frechet.ReconTest))
	return cols, vals
}

// appendHistory adds one row for r to the CSV at path, writing the header
// first if the file is new.
func appendHistory(path string, r *Result) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	cols, vals := historyRow(r)
	var b strings.Builder
	if st.Size() == 0 {
		b.WriteString(strings.Join(cols, ",") + "\n")
	}
	b.WriteString(strings.Join(vals, ",") + "\n")
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
