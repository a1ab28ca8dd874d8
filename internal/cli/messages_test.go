package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wakesleep/wakesleep/experiment"
	"github.com/wakesleep/wakesleep/train"
)

// TestMessagesNameTheRightExperiment: a usage mistake points to the help of
// the experiment in play (named, or held by the run folder resumed); a run
// folder of one experiment given to another says it holds another
// experiment, for every pair of experiments.
func TestMessagesNameTheRightExperiment(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	runs := map[string]string{}
	for _, ex := range experiment.All {
		dir := filepath.Join(tmp, ex.Name())
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := train.SaveConfig(filepath.Join(dir, train.ConfigFile), ex.(train.Tester).TinyConfig()); err != nil {
			t.Fatal(err)
		}
		runs[ex.Name()] = dir
	}
	for _, a := range experiment.All {
		hint := fmt.Sprintf("Run 'wakesleep train %s -h' for usage.", a.Name())
		for _, args := range [][]string{
			{"train", a.Name(), "--no-such-flag"},
			{"train", "--no-such-flag", a.Name()},
			{"train", "--run", runs[a.Name()], "--resume", "--no-such-flag"},
			{"train", "--run", runs[a.Name()], "--resume", "--batch-size", "3"},
			{"train", a.Name(), "--batch-size", "x"},
		} {
			code, _, stderr := runCLI(args...)
			if code != 2 || !strings.Contains(stderr, hint) {
				t.Errorf("%v: exit %d, %q; want 2 and %q", args, code, stderr, hint)
			}
		}
		for _, b := range experiment.All {
			if a == b {
				continue
			}
			code, _, stderr := runCLI("train", b.Name(), "--run", runs[a.Name()], "--resume")
			want := fmt.Sprintf("holds another experiment: a %q run, not %q", a.Name(), b.Name())
			if code != 1 || !strings.Contains(stderr, want) || strings.Contains(stderr, "unknown field") {
				t.Errorf("resume a %s folder as %s: exit %d, %q; want %q", a.Name(), b.Name(), code, stderr, want)
			}
			code, _, stderr = runCLI("train", b.Name(), "--run", runs[a.Name()])
			want = fmt.Sprintf("(a %s run)", a.Name())
			if code != 1 || !strings.Contains(stderr, want) {
				t.Errorf("fresh %s run into a %s folder: exit %d, %q; want %q", b.Name(), a.Name(), code, stderr, want)
			}
		}
	}
}

// Two train commands into one --run: the second fails at once, naming the
// process that trains there; the first ends as if alone.
func TestTwoTrainsOneFolder(t *testing.T) {
	data, _ := goodRun()
	run := filepath.Join(t.TempDir(), "run")
	first := make(chan string)
	go func() {
		code, _, stderr := runCLI(append([]string{"train", "--data", data, "--run", run, "--epochs", "15", "--checkpoint-every", "1"}, tinyFlags...)...)
		first <- fmt.Sprint(code, " ", stderr)
	}()
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(filepath.Join(run, train.LockFile)); err == nil {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatal("the first train never took the lock")
		}
	}
	for _, args := range [][]string{
		append([]string{"train", "--data", data, "--run", run}, tinyFlags...),
		{"train", "--data", data, "--run", run, "--resume"},
	} {
		code, _, stderr := runCLI(args...)
		if want := fmt.Sprintf("process %d trains in %s", os.Getpid(), run); code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("%v: exit %d, %q; want 1 and %q", args, code, stderr, want)
		}
	}
	if got := <-first; !strings.HasPrefix(got, "0 ") {
		t.Errorf("first train: %s", got)
	}
}

// TestDevicesAndFIFOsAsFiles: a device (/dev/zero, read forever) or a FIFO
// (blocks on open) where a command wants a file is refused at once.
func TestDevicesAndFIFOsAsFiles(t *testing.T) {
	t.Parallel()
	_, run := goodRun()
	tmp := t.TempDir()
	fifo := filepath.Join(tmp, "fifo.tar.gz")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no FIFOs here")
	}
	fifoRun := filepath.Join(tmp, "fifo-run")
	os.Mkdir(fifoRun, 0o755)
	syscall.Mkfifo(filepath.Join(fifoRun, "config.json"), 0o644)
	fifoData := filepath.Join(tmp, "fifo-data")
	os.Mkdir(fifoData, 0o755)
	if err := writeMNISTDir(fifoData, 32, 28, 28); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(fifoData, "t10k-images-idx3-ubyte"))
	syscall.Mkfifo(filepath.Join(fifoData, "t10k-images-idx3-ubyte"), 0o644)
	for _, args := range [][]string{
		{"sample", "--checkpoint", "/dev/zero"},
		{"sample", "--checkpoint", fifo},
		{"sample", "--checkpoint", run, "--n", "4", "--out", fifo}, // not replaced by a PNG
		{"diagnose", "--checkpoint", run, "--probe-train", "10", "--probe-test", "10", "--batches", "1", "--out", fifo},
		{"eval", "--checkpoint", run, "--classifier", "/dev/zero"},
		{"eval", "--compare", "/dev/zero"},
		{"eval", "--compare", fifo},
		{"probe", "--study", "oscillation", "--checkpoint", "/dev/zero"},
		{"train", "--run", fifoRun, "--resume"},
		{"train", "cifar10", "--data", fifo, "--run", filepath.Join(tmp, "r1")},
		{"train", "mnist", "--data", fifoData, "--run", filepath.Join(tmp, "r2")},
	} {
		done := make(chan string, 1)
		go func() {
			code, _, stderr := runCLI(args...)
			done <- fmt.Sprint(code, " ", stderr)
		}()
		select {
		case got := <-done:
			if strings.HasPrefix(got, "0 ") || !strings.Contains(got, "not a regular file") {
				t.Errorf("%v: %s; want a failure naming a file that is not regular", args, got)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%v: still running after 20 s", args)
		}
	}
}
