package regular

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestOnlyRegularFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(file); err != nil || string(b) != "x" {
		t.Fatalf("regular file: %q %v", b, err)
	}
	fifo := filepath.Join(dir, "fifo")
	bad := map[string]string{dir: "is a directory", "/dev/zero": "not a regular file"}
	if syscall.Mkfifo(fifo, 0o644) == nil {
		bad[fifo] = "not a regular file"
	}
	for p, want := range bad {
		done := make(chan error, 1)
		go func() { _, err := ReadFile(p); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v, want %q", p, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: ReadFile did not return", p)
		}
	}
}
