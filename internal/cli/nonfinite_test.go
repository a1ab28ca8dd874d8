package cli

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/checkpoint"
)

// TestNonFiniteCheckpointNeverUsed: a checkpoint holding Inf or NaN with a
// valid checksum is refused by every command that reads one (sample,
// reconstruct, eval, diagnose, predict, probe); given its run folder they
// fall back to the previous good checkpoint with a warning; train --resume
// likewise.
func TestNonFiniteCheckpointNeverUsed(t *testing.T) {
	data, good := goodRun()
	for _, v := range []float64{math.Inf(1), math.NaN()} {
		run := filepath.Join(t.TempDir(), "run")
		if err := os.Mkdir(run, 0o755); err != nil {
			t.Fatal(err)
		}
		ents, _ := os.ReadDir(good)
		for _, e := range ents {
			if !e.IsDir() {
				write(t, filepath.Join(run, e.Name()), read(t, filepath.Join(good, e.Name())))
			}
		}
		newest := latestCkpt(t, run)
		ts, meta, err := checkpoint.Load(newest)
		if err != nil {
			t.Fatal(err)
		}
		for k, x := range ts {
			if strings.HasPrefix(k, "model.generator") {
				x.SetAt(0, v)
				break
			}
		}
		if err := checkpoint.Save(newest, ts, meta); err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		for _, args := range [][]string{
			{"sample", "--n", "4", "--out", filepath.Join(out, "s.png")},
			{"reconstruct", "--n", "4", "--data", data, "--out", filepath.Join(out, "r.png")},
			{"eval", "--n", "16", "--data", data, "--alignments", "2x2z", "--draws", "2", "--out", filepath.Join(out, "eval")},
			{"diagnose", "--data", data, "--probe-train", "32", "--probe-test", "32", "--batches", "1"},
			{"predict"},
			{"probe", "--study", "oscillation", "--data", data, "--fashion", data},
		} {
			code, _, stderr := runCLI(append(args, "--checkpoint", newest)...)
			if code == 0 || !strings.Contains(stderr, "NaN or infinite") {
				t.Errorf("%g %v on the poisoned file: exit %d, %q", v, args[0], code, stderr)
			}
			if args[0] == "predict" || args[0] == "probe" {
				continue // no Moving MNIST run here; probe's stimuli are slow
			}
			code, _, stderr = runCLI(append(args, "--checkpoint", run)...)
			if code != 0 || !strings.Contains(stderr, "warning") || !strings.Contains(stderr, "NaN or infinite") {
				t.Errorf("%g %v on the run folder: exit %d, %q; want 0 and a warning", v, args[0], code, stderr)
			}
		}
		code, _, stderr := runCLI("train", "--run", run, "--resume", "--data", data, "--epochs", "2", "--max-steps", "3")
		if code != 0 || !strings.Contains(stderr, "NaN or infinite") || !strings.Contains(stderr, "resumed ") {
			t.Errorf("%g train --resume: exit %d, %q", v, code, stderr)
		}
	}
}
