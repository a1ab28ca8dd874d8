package cli

import (
	"bytes"
	"encoding/csv"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/report"
	"github.com/wakesleep/wakesleep/train"
)

// TestKillAndResume kills `wakesleep train` with SIGKILL (no chance to save
// anything) twice, resumes it each time from what is on disk, and checks
// that it ends bit-identical to a run that was never interrupted: every
// parameter and optimizer moment, the metadata, the metric rows and the
// pictures. It does so for every experiment, each sized to 8 steps an
// epoch, so that the runs cross epoch boundaries (new data order, pictures)
// between the kills.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wakesleep binary and trains three times")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the binary with")
	}
	bin := filepath.Join(t.TempDir(), "wakesleep")
	if out, err := exec.Command(goTool, "build", "-o", bin, "github.com/wakesleep/wakesleep/cmd/wakesleep").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	digits := mnistDir(t, 64, 28, 28)
	cifar := t.TempDir()
	writeFakeBatches(t, cifar, 16)
	mnistFlags := []string{"--data", digits, "--hidden", "16", "--critic-width", "16", "--z-dim", "4"}
	common := []string{"--batch-size", "8", "--epochs", "1000", "--checkpoint-every", "1", "--keep", "2", "--log-every", "1"}
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"mnist", mnistFlags}, // 64 images in batches of 8
		{"fashionmnist", mnistFlags},
		{"cifar10", []string{"--data", cifar, "--train-limit", "64", "--channels", "2,2,2,2,2", "--critic-channels", "1,1,1,1,1,1"}},
		{"movingmnist", []string{"--data", digits, "--sequences-per-epoch", "64", "--patch", "8", "--hidden", "2", "--kernel", "1", "--critic-channels", "1", "--pictures", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flags := append(append([]string{tc.name}, tc.flags...), common...)
			killAndResume(t, bin, flags, tc.flags[1])
		})
	}
}

func killAndResume(t *testing.T, bin string, flags []string, data string) {
	tmp := t.TempDir()
	killed, uninterrupted := filepath.Join(tmp, "killed"), filepath.Join(tmp, "uninterrupted")

	// newest returns the step of the newest checkpoint in dir that loads, or
	// -1. Rotation may delete a file while it is being read: that is not an
	// error here, only a reason to look again.
	newest := func(dir string) int {
		_, step, err := checkpoint.Latest(dir, train.CheckpointPrefix)
		var fb *checkpoint.FallbackError
		if err != nil && !errors.As(err, &fb) {
			return -1
		}
		return step
	}
	// runAndKill starts args and sends SIGKILL as soon as a checkpoint of
	// step ≥ atLeast is on disk; it returns the newest good step after the
	// kill.
	runAndKill := func(atLeast int, args ...string) int {
		t.Helper()
		cmd := exec.Command(bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for newest(killed) < atLeast {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("no checkpoint of step %d after a minute:\n%s", atLeast, stderr.String())
			}
			time.Sleep(2 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("training was not killed (%v):\n%s", err, stderr.String())
		}
		step := newest(killed)
		ents, _ := os.ReadDir(killed)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Logf("killed at step %d; folder: %v", step, names)
		return step
	}
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("wakesleep %v: %v\n%s", args, err, out)
		}
	}

	// The first kill lands mid-epoch; the second just after the checkpoint
	// that ends an epoch, likely while the epoch's pictures are written.
	s1 := runAndKill(3, append([]string{"train", "--run", killed}, flags...)...)
	s2 := runAndKill((s1+3+7)/8*8, "train", "--resume", "--run", killed, "--data", data)
	total := strconv.Itoa(s2 + 5)
	run("train", "--resume", "--run", killed, "--data", data, "--max-steps", total)
	run(append([]string{"train", "--run", uninterrupted, "--max-steps", total}, flags...)...)

	// Checkpoints: every tensor bit for bit, and the metadata.
	name := checkpoint.FileName(train.CheckpointPrefix, s2+5)
	ka, ma, err := checkpoint.Load(filepath.Join(uninterrupted, name))
	if err != nil {
		t.Fatal(err)
	}
	kb, mb, err := checkpoint.Load(filepath.Join(killed, name))
	if err != nil {
		t.Fatal(err)
	}
	if len(ka) != len(kb) {
		t.Fatalf("%d tensors uninterrupted, %d killed", len(ka), len(kb))
	}
	for k, a := range ka {
		b, ok := kb[k]
		if !ok || !slices.Equal(a.Shape(), b.Shape()) {
			t.Fatalf("tensor %s: %v vs %v", k, a.Shape(), b)
		}
		for i := range a.Len() {
			if math.Float64bits(a.At(i)) != math.Float64bits(b.At(i)) {
				t.Fatalf("%s[%d]: %v uninterrupted, %v killed and resumed", k, i, a.At(i), b.At(i))
			}
		}
	}
	for k, v := range ma {
		if mb[k] != v {
			t.Errorf("metadata %s: %q uninterrupted, %q killed and resumed", k, v, mb[k])
		}
	}

	// Metric rows, less the timing column: each step once, same values.
	rows := func(dir string) [][]string {
		f, err := os.Open(filepath.Join(dir, train.MetricsFile))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		recs, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := slices.Index(recs[0], "step_time_s")
		for i := range recs {
			recs[i] = slices.Delete(recs[i], col, col+1)
		}
		return recs
	}
	ra, rb := rows(uninterrupted), rows(killed)
	if len(ra) != s2+5+1 {
		t.Errorf("uninterrupted metrics has %d rows, want header + %d", len(ra), s2+5)
	}
	for i := range max(len(ra), len(rb)) {
		if i >= len(ra) || i >= len(rb) || !slices.Equal(ra[i], rb[i]) {
			t.Fatalf("metrics.csv differs at row %d:\nuninterrupted %v\nkilled        %v", i, ra[min(i, len(ra)-1)], rb[min(i, len(rb)-1)])
		}
	}

	// Temporary files of cut-short writes are gone.
	if tmps, _ := filepath.Glob(filepath.Join(killed, ".*.tmp-*")); len(tmps) > 0 {
		t.Errorf("temporary files left: %v", tmps)
	}

	// Pictures of each epoch.
	pngs, _ := filepath.Glob(filepath.Join(uninterrupted, "*.png"))
	if len(pngs) == 0 {
		t.Error("no pictures")
	}
	for _, p := range pngs {
		if filepath.Base(p) == report.CurvesFile {
			continue // drawn from metrics.csv, step times included: compared above
		}
		b, err := os.ReadFile(filepath.Join(killed, filepath.Base(p)))
		if err != nil || !bytes.Equal(b, read(t, p)) {
			t.Errorf("%s differs (%v)", filepath.Base(p), err)
		}
	}
}
