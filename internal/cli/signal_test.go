package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/train"
)

// TestSignalsEndEveryCommand starts each long command as a process (this
// test binary, running Main), sends it SIGINT or SIGTERM while it works,
// and wants it ended with exit 130 within about a second (two, on a busy
// machine); a training run saves the step it was in.
func TestSignalsEndEveryCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs each long command as a process")
	}
	data, run := goodRun()
	tmp := t.TempDir()
	mm := filepath.Join(tmp, "mm")
	if code, _, stderr := runCLI("train", "movingmnist", "--data", data, "--run", mm, "--sequences-per-epoch", "16", "--batch-size", "8",
		"--patch", "8", "--hidden", "2", "--kernel", "1", "--critic-channels", "1", "--epochs", "1"); code != 0 {
		t.Fatal(stderr)
	}
	trainRun := filepath.Join(tmp, "train")
	for _, tc := range []struct {
		name string
		args []string
		sig  syscall.Signal
	}{
		{"train", append([]string{"train", "--data", data, "--run", trainRun, "--epochs", "100000", "--checkpoint-every", "1000000"}, tinyFlags...), syscall.SIGINT},
		{"eval", []string{"eval", "--checkpoint", run, "--data", data, "--n", "32", "--draws", "10000", "--alignments", "2x2z", "--out", filepath.Join(tmp, "eval")}, syscall.SIGTERM},
		{"diagnose", []string{"diagnose", "--checkpoint", run, "--probe-train", "60000", "--probe-test", "10000", "--batches", "64"}, syscall.SIGINT},
		{"probe", []string{"probe", "--study", "plasticity", "--checkpoints", run, "--data", data, "--grad-batches", "10000", "--out", filepath.Join(tmp, "probe")}, syscall.SIGINT},
		{"classifier", []string{"classifier", "train", "--epochs", "1000", "--out", filepath.Join(tmp, "c.safetensors")}, syscall.SIGTERM},
		{"predict", []string{"predict", "--checkpoint", mm, "--data", data, "--eval", "--eval-n", "1000000", "--eval-out", filepath.Join(tmp, "pe"), "--gif", "-"}, syscall.SIGINT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], tc.args...)
			cmd.Env = append(os.Environ(), "WAKESLEEP_TEST_MAIN=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			ended := make(chan error, 1)
			go func() { ended <- cmd.Wait() }()
			select {
			case err := <-ended:
				t.Fatalf("ended before the signal (%v): %s", err, stderr.String())
			case <-time.After(1500 * time.Millisecond):
			}
			sent := time.Now()
			cmd.Process.Signal(tc.sig)
			var err error
			select {
			case err = <-ended:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("still running 10 s after %v: %s", tc.sig, stderr.String())
			}
			took := time.Since(sent)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 130 {
				t.Errorf("after %v: %v, want exit 130: %s", tc.sig, err, stderr.String())
			}
			if took > 2*time.Second {
				t.Errorf("took %v after %v to end", took, tc.sig)
			}
			if !strings.Contains(stderr.String(), "interrupted") {
				t.Errorf("stderr does not say interrupted: %s", stderr.String())
			}
			if tc.name == "train" {
				if _, step, err := checkpoint.Latest(trainRun, train.CheckpointPrefix); err != nil || step == 0 {
					t.Errorf("no checkpoint saved on interrupt (%v, step %d): %s", err, step, stderr.String())
				}
			}
			t.Logf("ended %v after %v", took, tc.sig)
		})
	}
}

// The watchdog: a command that holds (a training run finishing its step to
// save it) is waited for past the grace period; a second signal ends it. Not
// parallel: it signals this process.
func TestWatchdogHoldsForTheStep(t *testing.T) {
	codes := make(chan int, 4)
	oldExit, oldGrace := exit, grace
	exit, grace = func(code int) { codes <- code }, 50*time.Millisecond
	defer func() { exit, grace = oldExit, oldGrace }()
	var stderr syncBuffer
	ctx, done := interruptible("train", &stderr)
	defer done()
	holding(ctx).Store(true)
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the signal did not cancel the context")
	}
	select {
	case c := <-codes:
		t.Fatalf("exit %d while holding", c)
	case <-time.After(300 * time.Millisecond):
	}
	if !strings.Contains(stderr.String(), "finishing the step in progress") {
		t.Errorf("stderr: %q", stderr.String())
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case c := <-codes:
		if c != 130 {
			t.Errorf("exit %d, want 130", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a second signal did not end the command")
	}
	if !strings.Contains(stderr.String(), "interrupted again") {
		t.Errorf("stderr: %q", stderr.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
