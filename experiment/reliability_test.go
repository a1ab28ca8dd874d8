package experiment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/report"
	"github.com/wakesleep/wakesleep/tensor"
	"github.com/wakesleep/wakesleep/train"
)

// The reliability suite runs over every registered experiment, on its tiny
// config and synthetic data (train.Tester): 4 steps an epoch, 2 epochs.

func testers(t *testing.T) []train.Experiment {
	t.Helper()
	for _, ex := range All {
		if _, ok := ex.(train.Tester); !ok {
			t.Errorf("experiment %s is not a train.Tester: the reliability suite cannot cover it", ex.Name())
		}
	}
	return All
}

func tiny(ex train.Experiment) train.Config { return ex.(train.Tester).TinyConfig() }

// run trains ex in dir on its fake data. The run's page is left out (each
// takes a tenth of a second, more than a tiny run's epoch); TestSmokeRun
// asks for it.
func run(ctx context.Context, ex train.Experiment, cfg train.Config, dir string, opts train.RunOptions) error {
	return runReport(ctx, ex, cfg, dir, opts, false)
}

func runReport(ctx context.Context, ex train.Experiment, cfg train.Config, dir string, opts train.RunOptions, page bool) error {
	opts.Dir = dir
	opts.NoReport = !page
	if opts.Data == nil {
		opts.Data = ex.(train.Tester).FakeData()
	}
	return train.Run(ctx, ex, cfg, opts)
}

func forEach(t *testing.T, f func(t *testing.T, ex train.Experiment)) {
	for _, ex := range testers(t) {
		t.Run(ex.Name(), func(t *testing.T) { f(t, ex) })
	}
}

// checkpointSteps returns the steps of the checkpoints in dir, each verified.
func checkpointSteps(t *testing.T, dir string) []int {
	t.Helper()
	var steps []int
	for s := 0; s <= 64; s++ {
		p := filepath.Join(dir, checkpoint.FileName(train.CheckpointPrefix, s))
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if err := checkpoint.Verify(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		steps = append(steps, s)
	}
	return steps
}

// wantGoodLatest checks that the newest checkpoint in dir is of step want,
// that it loads (knowing its experiment from what is saved) and that every
// tensor in it is finite.
func wantGoodLatest(t *testing.T, ex train.Experiment, dir string, want int) {
	t.Helper()
	path, step, err := checkpoint.Latest(dir, train.CheckpointPrefix)
	if err != nil || step != want {
		t.Fatalf("latest checkpoint %s step %d (%v), want step %d", path, step, err, want)
	}
	tr, _, err := All.Open(path, nil)
	if err != nil {
		t.Fatalf("last good checkpoint does not load: %v", err)
	}
	if tr.Step != want || tr.Experiment.Name() != ex.Name() {
		t.Errorf("loaded a %s trainer at step %d, want %s at %d", tr.Experiment.Name(), tr.Step, ex.Name(), want)
	}
	ts, _, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range ts {
		if v.HasNaNOrInf() {
			t.Errorf("%s holds a non-finite %s", path, k)
		}
	}
}

// poison sets the first network parameter to v everywhere.
func poison(tr *train.Trainer, v float64) {
	p := tr.Model.NetworkParameters()[0].V.Value
	for i := 0; i < p.Len(); i++ {
		p.SetAt(i, v)
	}
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Errorf("%s and %s differ", a, b)
	}
}

// A smoke run writes the run folder; a second fresh run there is refused.
func TestSmokeRun(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		dir := t.TempDir()
		if err := runReport(context.Background(), ex, tiny(ex), dir, train.RunOptions{}, true); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{train.ConfigFile, train.MetricsFile, "ckpt-00000004.safetensors", "ckpt-00000008.safetensors", report.CurvesFile, report.PageFile} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("missing %s: %v", f, err)
			}
		}
		pngs, _ := filepath.Glob(filepath.Join(dir, "*.png"))
		if len(pngs) == 0 {
			t.Error("no pictures")
		}
		if err := run(context.Background(), ex, tiny(ex), dir, train.RunOptions{}); !errors.Is(err, train.ErrRunExists) {
			t.Errorf("second run in the same folder: got %v, want ErrRunExists", err)
		}
	})
}

// A run stopped hard after its checkpoint of step 3 (no chance to save:
// later checkpoints, metric rows and pictures may be there or not, a write
// may be cut short) resumes from what is on disk and ends byte-identical to
// a run that was never interrupted: checkpoints and pictures.
func TestKillAndResumeIsByteIdentical(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		a, b := t.TempDir(), t.TempDir()
		cfg := tiny(ex)
		cfg.RunSettings().CheckpointEvery = 1
		cfg.RunSettings().KeepCheckpoints = 20
		if err := run(context.Background(), ex, cfg, a, train.RunOptions{MaxSteps: 6}); err != nil {
			t.Fatal(err)
		}
		if err := run(context.Background(), ex, cfg, b, train.RunOptions{MaxSteps: 5}); err != nil {
			t.Fatal(err)
		}
		// The kill: checkpoints of steps 4 and 5 never made it, one write
		// was cut short.
		for _, s := range []int{4, 5} {
			os.Remove(filepath.Join(b, checkpoint.FileName(train.CheckpointPrefix, s)))
		}
		if err := os.WriteFile(filepath.Join(b, ".ckpt-00000004.safetensors.tmp-99"), []byte("cut"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := run(context.Background(), ex, nil, b, train.RunOptions{Resume: true, MaxSteps: 6}); err != nil {
			t.Fatal(err)
		}
		for s := 1; s <= 6; s++ {
			n := checkpoint.FileName(train.CheckpointPrefix, s)
			sameFile(t, filepath.Join(a, n), filepath.Join(b, n))
		}
		pngs, _ := filepath.Glob(filepath.Join(a, "*.png"))
		for _, p := range pngs {
			sameFile(t, p, filepath.Join(b, filepath.Base(p)))
		}
		if _, err := os.Stat(filepath.Join(b, ".ckpt-00000004.safetensors.tmp-99")); !os.IsNotExist(err) {
			t.Errorf("stale temp file still there (%v)", err)
		}
	})
}

// Cancelling (Ctrl-C, SIGTERM) saves a checkpoint of the last completed step.
func TestCancelSavesCheckpoint(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		err := run(ctx, ex, tiny(ex), dir, train.RunOptions{OnStep: func(tr *train.Trainer) {
			if tr.Step == 3 {
				cancel()
			}
		}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		wantGoodLatest(t, ex, dir, 3)
	})
}

// A NaN or Inf stops the run with a *NumericError naming the step; the
// checkpoints written before stay, and the newest loads.
func TestNaNStopsRun(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		for _, v := range []float64{math.Inf(1), math.NaN()} {
			dir := t.TempDir()
			cfg := tiny(ex)
			cfg.RunSettings().CheckpointEvery = 2
			err := run(context.Background(), ex, cfg, dir, train.RunOptions{OnStep: func(tr *train.Trainer) {
				if tr.Step == 3 {
					poison(tr, v)
				}
			}})
			var ne *train.NumericError
			if !errors.As(err, &ne) || !errors.Is(err, train.ErrNumeric) {
				t.Fatalf("%g: got %v, want a *NumericError", v, err)
			}
			if ne.Step != 4 {
				t.Errorf("%g: step %d, want 4 (%v)", v, ne.Step, err)
			}
			if want := "last good checkpoint kept: " + filepath.Join(dir, "ckpt-00000002.safetensors") + ", step 2"; !strings.Contains(err.Error(), want) {
				t.Errorf("%g: message lacks %q: %v", v, want, err)
			}
			if got := checkpointSteps(t, dir); !slices.Equal(got, []int{2}) {
				t.Errorf("%g: checkpoints at steps %v, want [2]", v, got)
			}
			wantGoodLatest(t, ex, dir, 2)
		}
	})
}

// An update that overflows (a finite gradient, an absurd learning rate)
// leaves parameters infinite: the run stops at that step, naming the
// parameter, and no checkpoint of it is written.
func TestOverflowStopsRun(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		dir := t.TempDir()
		cfg := tiny(ex)
		cfg.RunSettings().CheckpointEvery = 1
		err := run(context.Background(), ex, cfg, dir, train.RunOptions{OnStep: func(tr *train.Trainer) {
			if tr.Step == 2 {
				tr.Network.SetLearningRate(1e39) // finite in float64, +Inf in float32
				tr.Config.RunSettings().NetworkAdam.LearningRate = 1e39
			}
		}})
		if !errors.Is(err, train.ErrNumeric) {
			t.Fatalf("got %v, want a numeric error", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "step 3: network parameter ") || !strings.Contains(msg, "after the update is NaN or infinite") {
			t.Errorf("message: %s", msg)
		}
		if got := checkpointSteps(t, dir); !slices.Equal(got, []int{1, 2}) {
			t.Errorf("checkpoints at steps %v, want [1 2]", got)
		}
		wantGoodLatest(t, ex, dir, 2)
	})
}

// Ctrl-C saves a checkpoint, but never one holding NaN or Inf: a trainer
// whose weights went bad is refused, and the previous checkpoint stays.
func TestInterruptNeverSavesNonFinite(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		dir := t.TempDir()
		cfg := tiny(ex)
		cfg.RunSettings().CheckpointEvery = 2
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		err := run(ctx, ex, cfg, dir, train.RunOptions{OnStep: func(tr *train.Trainer) {
			if tr.Step == 3 {
				poison(tr, math.NaN())
				cancel()
			}
		}})
		if !errors.Is(err, train.ErrNumeric) || !strings.Contains(err.Error(), "checkpoint tensor model.") {
			t.Fatalf("got %v, want a numeric error naming the tensor", err)
		}
		wantGoodLatest(t, ex, dir, 2)
	})
}

// A run killed before its first checkpoint (config.json only) resumes from
// step 0 and ends where an uninterrupted run does.
func TestResumeBeforeFirstCheckpoint(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		a, b := t.TempDir(), t.TempDir()
		cfg := tiny(ex)
		if err := run(context.Background(), ex, cfg, a, train.RunOptions{MaxSteps: 5}); err != nil {
			t.Fatal(err)
		}
		if err := train.SaveConfig(filepath.Join(b, train.ConfigFile), cfg); err != nil {
			t.Fatal(err)
		}
		var log strings.Builder
		if err := run(context.Background(), ex, nil, b, train.RunOptions{Resume: true, Out: &log, MaxSteps: 5}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), "warning: "+b+" has no checkpoint yet") {
			t.Errorf("log: %s", log.String())
		}
		n := checkpoint.FileName(train.CheckpointPrefix, 5)
		sameFile(t, filepath.Join(a, n), filepath.Join(b, n))
	})
}

// Resuming removes the temporary files of writes cut short by a kill, and
// nothing else.
func TestResumeRemovesStaleTemps(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		dir := t.TempDir()
		if err := run(context.Background(), ex, tiny(ex), dir, train.RunOptions{MaxSteps: 2}); err != nil {
			t.Fatal(err)
		}
		stale := []string{".ckpt-00000003.safetensors.tmp-123456", ".config.json.tmp-42", ".samples-epoch001.png.tmp-7"}
		for _, n := range append(slices.Clone(stale), "notes.txt", ".keep") {
			if err := os.WriteFile(filepath.Join(dir, n), []byte("partial"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := run(context.Background(), ex, nil, dir, train.RunOptions{Resume: true, MaxSteps: 3}); err != nil {
			t.Fatal(err)
		}
		for _, n := range stale {
			if _, err := os.Stat(filepath.Join(dir, n)); !os.IsNotExist(err) {
				t.Errorf("%s still there (%v)", n, err)
			}
		}
		for _, n := range []string{"notes.txt", ".keep"} {
			if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
				t.Errorf("%s: %v", n, err)
			}
		}
	})
}

// A corrupt newest checkpoint is refused with a warning; the previous good
// one is used to resume.
func TestCorruptNewestCheckpointFallsBack(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		dir := t.TempDir()
		if err := run(context.Background(), ex, tiny(ex), dir, train.RunOptions{}); err != nil {
			t.Fatal(err)
		}
		newest := filepath.Join(dir, "ckpt-00000008.safetensors")
		st, err := os.Stat(newest)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(newest, st.Size()/2); err != nil {
			t.Fatal(err)
		}
		if _, _, err := All.Open(newest, nil); err == nil {
			t.Fatal("a truncated checkpoint loaded")
		}
		var log strings.Builder
		more := tiny(ex)
		more.RunSettings().Epochs = 3
		if err := run(context.Background(), ex, more, dir, train.RunOptions{Resume: true, Out: &log}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), "warning") || !strings.Contains(log.String(), "resumed "+filepath.Join(dir, "ckpt-00000004.safetensors")) {
			t.Errorf("log does not report the fallback:\n%s", log.String())
		}
		wantGoodLatest(t, ex, dir, 12)
	})
}

// A run killed after an epoch's last checkpoint but before its pictures
// writes them when resumed, byte for byte as the uninterrupted run did.
func TestResumeWritesMissingPictures(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		dir := t.TempDir()
		if err := run(context.Background(), ex, tiny(ex), dir, train.RunOptions{MaxSteps: 4}); err != nil {
			t.Fatal(err)
		}
		want := map[string][]byte{}
		pngs, _ := filepath.Glob(filepath.Join(dir, "*.png"))
		for _, p := range pngs {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			want[p] = b
			os.Remove(p)
		}
		if len(want) == 0 {
			t.Fatal("no pictures at the end of epoch 1")
		}
		if err := run(context.Background(), ex, nil, dir, train.RunOptions{Resume: true, MaxSteps: 4}); err != nil {
			t.Fatal(err)
		}
		for p, b := range want {
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, b) {
				t.Errorf("%s not rewritten as it was (%v)", p, err)
			}
		}
	})
}

// A checkpoint whose critic optimizer state is damaged is refused and leaves
// the trainer exactly as it was, network optimizer included.
func TestRestoreFailureChangesNothing(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		a, err := train.NewTrainer(ex, tiny(ex))
		if err != nil {
			t.Fatal(err)
		}
		feed, err := ex.(train.Tester).FakeData().Feed(a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.TrainStep(feed.Batches(0)); err != nil {
			t.Fatal(err)
		}
		ts, meta, err := a.State()
		if err != nil {
			t.Fatal(err)
		}
		for k := range ts {
			if strings.HasPrefix(k, "critic.adam.m.") {
				delete(ts, k)
				break
			}
		}
		b, err := train.NewTrainer(ex, tiny(ex))
		if err != nil {
			t.Fatal(err)
		}
		before := b.Network.State()
		if err := b.Restore(ts, meta); err == nil {
			t.Fatal("restore with a missing critic moment succeeded")
		}
		if b.Network.Step != 0 || b.Step != 0 {
			t.Fatalf("network step %d, step %d after a failed restore", b.Network.Step, b.Step)
		}
		for k, v := range b.Network.State() {
			if tensor.Dot(v, v) != tensor.Dot(before[k], before[k]) {
				t.Fatalf("%s changed by a failed restore", k)
			}
		}
	})
}

// A config is read strictly, whatever the experiment: unknown fields,
// trailing data and nulls are refused, naming the file.
func TestConfigCodecIsStrict(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		dir := t.TempDir()
		path := filepath.Join(dir, train.ConfigFile)
		good, err := train.EncodeConfig(tiny(ex))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, good, 0o644); err != nil {
			t.Fatal(err)
		}
		gotEx, cfg, err := All.LoadConfig(path)
		if err != nil || gotEx != ex {
			t.Fatalf("own config: %v (%v)", err, gotEx)
		}
		again, _ := train.EncodeConfig(cfg)
		if !bytes.Equal(again, good) {
			t.Errorf("config does not round-trip:\n%s\n%s", good, again)
		}
		s := string(good)
		for name, bad := range map[string]string{
			"unknown field": strings.Replace(s, "{", `{"bogus": 1,`, 1),
			"trailing data": s + "{}",
			"null":          strings.Replace(s, `"epochs": 2`, `"epochs": null`, 1),
			"nested null":   regexp.MustCompile(`"beta1": [0-9.e+-]+`).ReplaceAllLiteralString(s, `"beta1": null`),
		} {
			if bad == s {
				t.Fatalf("%s: mutation did not apply", name)
			}
			if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := All.LoadConfig(path)
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("%s: got %v, want an error naming %s", name, err, path)
			}
		}
	})
}

// poisonCheckpoint rewrites the checkpoint at path with v in its first
// model tensor: a file whose checksum is right but that holds a non-finite
// value (written by another build, or edited).
func poisonCheckpoint(t *testing.T, path string, v float64) {
	t.Helper()
	ts, meta, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range ts {
		if strings.HasPrefix(k, "model.") {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	ts[names[0]].SetAt(0, v)
	if err := checkpoint.Save(path, ts, meta); err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.Verify(path); err != nil {
		t.Fatalf("poisoned checkpoint does not verify: %v", err)
	}
}

// A checkpoint holding NaN or Inf with a valid checksum is never resumed,
// sampled or predicted from: a run folder falls back to the previous good
// checkpoint (with a warning), the file itself is refused.
func TestNonFiniteCheckpointFallsBack(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			dir := t.TempDir()
			if err := run(context.Background(), ex, tiny(ex), dir, train.RunOptions{}); err != nil {
				t.Fatal(err)
			}
			newest := filepath.Join(dir, "ckpt-00000008.safetensors")
			poisonCheckpoint(t, newest, v)
			if _, _, err := All.Open(newest, nil); err == nil || !strings.Contains(err.Error(), "NaN or infinite") {
				t.Errorf("%g: opening the poisoned file: %v, want a refusal", v, err)
			}
			var warn strings.Builder
			tr, path, err := All.Open(dir, &warn)
			if err != nil || tr.Step != 4 || !strings.HasSuffix(path, "ckpt-00000004.safetensors") {
				t.Fatalf("%g: opening the folder: %v (%s)", v, err, path)
			}
			if !strings.Contains(warn.String(), "NaN or infinite") {
				t.Errorf("%g: no warning about the poisoned file: %q", v, warn.String())
			}
			var log strings.Builder
			if err := run(context.Background(), ex, nil, dir, train.RunOptions{Resume: true, Out: &log}); err != nil {
				t.Fatalf("%g: resume: %v", v, err)
			}
			if !strings.Contains(log.String(), "resumed "+filepath.Join(dir, "ckpt-00000004.safetensors")) {
				t.Errorf("%g: log does not report the fallback:\n%s", v, log.String())
			}
			wantGoodLatest(t, ex, dir, 8)
		}
	})
}

// A step that fails before any checkpoint is written says so, naming the
// step that failed, and claims no good checkpoint.
func TestNaNBeforeFirstCheckpoint(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		dir := t.TempDir()
		err := run(context.Background(), ex, tiny(ex), dir, train.RunOptions{OnStep: func(tr *train.Trainer) {
			if tr.Step == 1 {
				poison(tr, math.NaN())
			}
		}})
		var ne *train.NumericError
		if !errors.As(err, &ne) || ne.Step != 2 {
			t.Fatalf("got %v, want a *NumericError of step 2", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "no good checkpoint in "+dir) || strings.Contains(msg, "kept") {
			t.Errorf("message: %s", msg)
		}
		// The folder stays usable: resume starts over from step 0.
		var log strings.Builder
		if err := run(context.Background(), ex, nil, dir, train.RunOptions{Resume: true, Out: &log, MaxSteps: 2}); err != nil {
			t.Fatalf("resume after a failure before the first checkpoint: %v", err)
		}
		wantGoodLatest(t, ex, dir, 2)
	})
}

// Every experiment's config refuses sizes whose products would overflow
// (batch size × critic steps, epochs × steps an epoch) or that no machine
// could allocate, and every float flag refuses NaN and ±Inf.
func TestSettingsBounds(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		for name, edit := range map[string]func(s *train.Settings){
			"batch size":     func(s *train.Settings) { s.BatchSize = 1 << 32 },
			"critic steps":   func(s *train.Settings) { s.CriticSteps = 1 << 32 },
			"product":        func(s *train.Settings) { s.BatchSize, s.CriticSteps = 1<<32, 1<<32 },
			"epochs":         func(s *train.Settings) { s.Epochs = math.MaxInt },
			"log every":      func(s *train.Settings) { s.LogEvery = math.MaxInt },
			"negative every": func(s *train.Settings) { s.CheckpointEvery = -1 },
			"keep":           func(s *train.Settings) { s.KeepCheckpoints = math.MaxInt },
		} {
			cfg := tiny(ex)
			edit(cfg.RunSettings())
			if err := cfg.Validate(); err == nil {
				t.Errorf("%s: accepted", name)
			}
			if err := run(context.Background(), ex, cfg, filepath.Join(t.TempDir(), "run"), train.RunOptions{}); err == nil {
				t.Errorf("%s: a run started", name)
			}
		}
		for _, f := range append(train.SettingsFlags(), ex.Flags()...) {
			if f.Type != "float" {
				continue
			}
			for _, v := range []string{"NaN", "Inf", "-Inf", "1e400"} {
				if err := f.Set(tiny(ex), v); err == nil {
					t.Errorf("--%s %s accepted", f.Name, v)
				}
			}
		}
	})
}

// A second run into a folder that a run is training in (fresh or resumed)
// fails at once, naming the process that holds the folder's lock, and
// changes nothing there; the lock goes with the run.
func TestRunFolderLock(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		dir := t.TempDir()
		var second []error
		err := run(context.Background(), ex, tiny(ex), dir, train.RunOptions{OnStep: func(tr *train.Trainer) {
			if tr.Step != 2 {
				return
			}
			b, _ := os.ReadFile(filepath.Join(dir, train.LockFile))
			if strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
				t.Errorf("lock file holds %q, want this process's PID %d", b, os.Getpid())
			}
			cfg := tiny(ex)
			cfg.RunSettings().Seed = 99
			second = append(second,
				run(context.Background(), ex, cfg, dir, train.RunOptions{}),
				run(context.Background(), ex, nil, dir, train.RunOptions{Resume: true}))
		}})
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("process %d trains in %s", os.Getpid(), dir)
		for i, err := range second {
			if !errors.Is(err, train.ErrLocked) || !strings.Contains(err.Error(), want) {
				t.Errorf("second run %d: got %v, want ErrLocked naming %q", i, err, want)
			}
		}
		_, cfg, err := All.LoadConfig(filepath.Join(dir, train.ConfigFile))
		if err != nil || cfg.RunSettings().Seed != tiny(ex).RunSettings().Seed {
			t.Errorf("config.json changed by the refused run (%v)", err)
		}
		if _, err := os.Stat(filepath.Join(dir, train.LockFile)); !os.IsNotExist(err) {
			t.Errorf("lock file left after the run (%v)", err)
		}
		wantGoodLatest(t, ex, dir, 8)
	})
}

// A lock file left by a process that is gone (a SIGKILL) is taken over, and
// said so.
func TestStaleLockIsTakenOver(t *testing.T) {
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skip("no true(1) to get a dead process's PID from")
	}
	pid := gone.ProcessState.Pid()
	forEach(t, func(t *testing.T, ex train.Experiment) {
		dir := t.TempDir()
		if err := run(context.Background(), ex, tiny(ex), dir, train.RunOptions{MaxSteps: 2}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, train.LockFile), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var log strings.Builder
		if err := run(context.Background(), ex, nil, dir, train.RunOptions{Resume: true, Out: &log, MaxSteps: 3}); err != nil {
			t.Fatalf("resume over a stale lock: %v", err)
		}
		if want := fmt.Sprintf("left by process %d, which is gone", pid); !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
		wantGoodLatest(t, ex, dir, 3)
	})
}

// A config.json edited by hand after its checkpoints were written (a seed,
// a learning rate, a null) is reported on resume, naming the field and both
// values, and nothing is trained; a resume that lengthens the run writes the
// new length into config.json.
func TestEditedConfigIsReported(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		dir := t.TempDir()
		if err := run(context.Background(), ex, tiny(ex), dir, train.RunOptions{MaxSteps: 4}); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, train.ConfigFile)
		good, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		seed := tiny(ex).RunSettings().Seed
		lr := regexp.MustCompile(`("network_adam": \{\s*"learning_rate": )[0-9.e+-]+`)
		for name, tc := range map[string]struct{ edit, want string }{
			"seed": {strings.Replace(string(good), fmt.Sprintf(`"seed": %d`, seed), `"seed": 12345`, 1),
				fmt.Sprintf("seed 12345 in config.json, %d in the checkpoint", seed)},
			"lr":   {lr.ReplaceAllString(string(good), "${1}0.5"), "network_adam.learning_rate 0.5 in config.json"},
			"null": {strings.Replace(string(good), fmt.Sprintf(`"seed": %d`, seed), `"seed": null`, 1), "seed is null"},
		} {
			if tc.edit == string(good) {
				t.Fatalf("%s: edit did not apply", name)
			}
			if err := os.WriteFile(path, []byte(tc.edit), 0o644); err != nil {
				t.Fatal(err)
			}
			err := run(context.Background(), ex, nil, dir, train.RunOptions{Resume: true})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s: got %v, want an error naming %s and %q", name, err, path, tc.want)
			}
			if got := checkpointSteps(t, dir); !slices.Equal(got, []int{4}) {
				t.Errorf("%s: checkpoints %v after the refused resume", name, got)
			}
		}
		if err := os.WriteFile(path, good, 0o644); err != nil {
			t.Fatal(err)
		}
		more := tiny(ex)
		more.RunSettings().Epochs = 3
		if err := run(context.Background(), ex, more, dir, train.RunOptions{Resume: true, MaxSteps: 5}); err != nil {
			t.Fatal(err)
		}
		_, cfg, err := All.LoadConfig(path)
		if err != nil || cfg.RunSettings().Epochs != 3 {
			t.Errorf("config.json after lengthening the run: %v, %v", cfg, err)
		}
		// and the run goes on, its config and checkpoint agreeing.
		if err := run(context.Background(), ex, nil, dir, train.RunOptions{Resume: true, MaxSteps: 6}); err != nil {
			t.Fatal(err)
		}
		wantGoodLatest(t, ex, dir, 6)
	})
}

// Every experiment estimates a run's memory from its config alone; a run
// whose estimate exceeds the limit is refused before anything is built or
// written, with the estimate in the message.
func TestMemoryEstimateRefuses(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		est, ok := ex.(train.MemoryEstimator)
		if !ok {
			t.Fatalf("%s gives no memory estimate", ex.Name())
		}
		cfg := tiny(ex)
		small := est.MemoryEstimate(cfg)
		if !(small > 0) || small > 1<<30 {
			t.Errorf("tiny config estimated at %s", train.Bytes(small))
		}
		big := tiny(ex)
		big.RunSettings().BatchSize *= 64
		if b := est.MemoryEstimate(big); !(b > small) {
			t.Errorf("64× the batch estimated at %s, the tiny config at %s", train.Bytes(b), train.Bytes(small))
		}
		dir := filepath.Join(t.TempDir(), "run")
		err := run(context.Background(), ex, cfg, dir, train.RunOptions{MemoryLimit: small / 2})
		if !errors.Is(err, train.ErrTooBig) || !strings.Contains(err.Error(), "needs about "+train.Bytes(small)) {
			t.Fatalf("got %v, want ErrTooBig with the estimate %s", err, train.Bytes(small))
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("the refused run left %s (%v)", dir, err)
		}
		// Within the limit it runs.
		if err := run(context.Background(), ex, cfg, dir, train.RunOptions{MemoryLimit: small * 2, MaxSteps: 1}); err != nil {
			t.Fatal(err)
		}
	})
}

// Folders left by a failure before the first checkpoint stay usable: one
// killed after a few metric rows and pictures (and its lock, and a write
// cut short) resumes from step 0 and ends byte-identical to an
// uninterrupted run, metrics included; one whose config.json is unreadable
// and that holds no checkpoint is taken by a fresh run (and --resume says
// so); an empty one or one holding only a stale lock is taken by a fresh run.
func TestFoldersLeftBeforeFirstCheckpoint(t *testing.T) {
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skip("no true(1) to get a dead process's PID from")
	}
	dead := strconv.Itoa(gone.ProcessState.Pid()) + "\n"
	forEach(t, func(t *testing.T, ex train.Experiment) {
		a, b := t.TempDir(), t.TempDir()
		cfg := tiny(ex)
		cfg.RunSettings().LogEvery = 1
		if err := run(context.Background(), ex, cfg, a, train.RunOptions{MaxSteps: 5}); err != nil {
			t.Fatal(err)
		}
		if err := train.SaveConfig(filepath.Join(b, train.ConfigFile), cfg); err != nil {
			t.Fatal(err)
		}
		rows, err := os.ReadFile(filepath.Join(a, train.MetricsFile))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(rows), "\n")
		for name, content := range map[string]string{
			train.MetricsFile:                  strings.Join(lines[:3], ""), // header and two rows
			train.LockFile:                     dead,
			".ckpt-00000004.safetensors.tmp-1": "cut",
		} {
			if err := os.WriteFile(filepath.Join(b, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := run(context.Background(), ex, nil, b, train.RunOptions{Resume: true, MaxSteps: 5}); err != nil {
			t.Fatal(err)
		}
		sameFile(t, filepath.Join(a, checkpoint.FileName(train.CheckpointPrefix, 5)), filepath.Join(b, checkpoint.FileName(train.CheckpointPrefix, 5)))
		a5, _ := os.ReadFile(filepath.Join(a, train.MetricsFile))
		b5, _ := os.ReadFile(filepath.Join(b, train.MetricsFile))
		if strings.Count(string(a5), "\n") != strings.Count(string(b5), "\n") {
			t.Errorf("metrics: %d lines after the resume, %d uninterrupted", strings.Count(string(b5), "\n"), strings.Count(string(a5), "\n"))
		}

		for name, files := range map[string]map[string]string{
			"unreadable config": {train.ConfigFile: `{"experi`},
			"empty config":      {train.ConfigFile: ""},
			"empty folder":      {},
			"stale lock":        {train.LockFile: dead, ".config.json.tmp-3": "{"},
		} {
			dir := t.TempDir()
			for n, c := range files {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, ok := files[train.ConfigFile]; ok {
				err := run(context.Background(), ex, nil, dir, train.RunOptions{Resume: true})
				if err == nil || !strings.Contains(err.Error(), "start a fresh run there") {
					t.Errorf("%s: resume: %v, want a hint to start afresh", name, err)
				}
			}
			if err := run(context.Background(), ex, tiny(ex), dir, train.RunOptions{MaxSteps: 2}); err != nil {
				t.Errorf("%s: a fresh run refused the folder: %v", name, err)
				continue
			}
			wantGoodLatest(t, ex, dir, 2)
		}
	})
}

// A checkpoint whose run metadata is not finite (a learning rate of NaN or
// Inf) or not a step count, with a valid checksum, is skipped like one
// holding a non-finite tensor.
func TestNonFiniteMetadataFallsBack(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		for key, v := range map[string]string{"wakesleep.network.lr": "NaN", "wakesleep.critic.lr": "+Inf", "wakesleep.step": "-3"} {
			dir := t.TempDir()
			if err := run(context.Background(), ex, tiny(ex), dir, train.RunOptions{}); err != nil {
				t.Fatal(err)
			}
			newest := filepath.Join(dir, "ckpt-00000008.safetensors")
			ts, meta, err := checkpoint.Load(newest)
			if err != nil {
				t.Fatal(err)
			}
			meta[key] = v
			if err := checkpoint.Save(newest, ts, meta); err != nil {
				t.Fatal(err)
			}
			var warn strings.Builder
			tr, _, err := All.Open(dir, &warn)
			if err != nil || tr.Step != 4 || !strings.Contains(warn.String(), key) {
				t.Errorf("%s = %s: %v, step %v, warning %q", key, v, err, tr, warn.String())
			}
			if _, _, err := All.Open(newest, nil); err == nil {
				t.Errorf("%s = %s: the file itself was opened", key, v)
			}
		}
	})
}

// config.json is written only once the data are checked against the
// config: data that do not fit leave no run folder, and the same folder
// takes a fresh run once the mistake is fixed.
func TestDataCheckedBeforeConfigWritten(t *testing.T) {
	forEach(t, func(t *testing.T, ex train.Experiment) {
		dir := filepath.Join(t.TempDir(), "run")
		cfg := tiny(ex)
		cfg.RunSettings().CriticSteps = 1000 // more images a step than the data hold
		if err := run(context.Background(), ex, cfg, dir, train.RunOptions{}); err == nil {
			t.Fatal("a run whose batches exceed the data started")
		}
		if _, err := os.Stat(filepath.Join(dir, train.ConfigFile)); !os.IsNotExist(err) {
			t.Errorf("config.json written before the data were checked (%v)", err)
		}
		if err := run(context.Background(), ex, tiny(ex), dir, train.RunOptions{MaxSteps: 1}); err != nil {
			t.Fatalf("the folder refuses a fresh run afterwards: %v", err)
		}
	})
}
