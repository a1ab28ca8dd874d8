package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResumeSwitchesTeacherForcing: a Moving MNIST run started with
// --teacher-forcing may continue closed loop (--resume
// --teacher-forcing=false, a curriculum); config.json then says so, the
// run goes on from its checkpoint, and a flag that may not change on resume
// is refused with the list of those that may.
func TestResumeSwitchesTeacherForcing(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny run")
	}
	run := filepath.Join(t.TempDir(), "mm")
	tiny := []string{"--patch", "8", "--hidden", "2", "--kernel", "1", "--critic-channels", "1", "--batch-size", "2", "--sequences-per-epoch", "2", "--pictures", "0"}
	if code, _, stderr := runCLI(append([]string{"train", "movingmnist", "--run", run, "--teacher-forcing", "--epochs", "1"}, tiny...)...); code != 0 {
		t.Fatalf("train: %s", stderr)
	}
	teacher := func() string {
		b, err := os.ReadFile(filepath.Join(run, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(string(b), `"teacher_forcing"`)
		if i < 0 {
			t.Fatalf("config.json has no teacher_forcing:\n%s", b)
		}
		return strings.Fields(string(b[i:]))[1]
	}
	if got := teacher(); !strings.HasPrefix(got, "true") {
		t.Fatalf("teacher_forcing %s after a teacher-forced start", got)
	}
	code, _, stderr := runCLI("train", "--run", run, "--resume", "--patch", "4")
	if code != 2 || !strings.Contains(stderr, "--patch cannot change") || !strings.Contains(stderr, "--teacher-forcing") {
		t.Errorf("--resume --patch: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCLI("train", "--run", run, "--resume", "--teacher-forcing=false", "--epochs", "2"); code != 0 {
		t.Fatalf("resume closed loop: %s", stderr)
	}
	if got := teacher(); !strings.HasPrefix(got, "false") {
		t.Errorf("teacher_forcing %s after --resume --teacher-forcing=false", got)
	}
	if _, err := os.Stat(filepath.Join(run, "ckpt-00000002.safetensors")); err != nil {
		t.Errorf("the resumed run did not train on: %v", err)
	}
}
