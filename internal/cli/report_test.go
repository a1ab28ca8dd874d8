package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/report"
)

func TestReportCommand(t *testing.T) {
	runDir := func(name string) string {
		d := filepath.Join(t.TempDir(), name)
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "metrics.csv"), []byte("step,epoch,net/loss\n1,1,3\n2,1,2.5\n3,1,2\n"), 0o644)
		os.WriteFile(filepath.Join(d, "config.json"), []byte(`{"experiment": "mnist", "epochs": 1}`), 0o644)
		return d
	}
	a, b := runDir("a"), runDir("b")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"report", a}, &stdout, &stderr); code != 0 {
		t.Fatalf("report %s: exit %d: %s", a, code, stderr.String())
	}
	for _, f := range []string{report.CurvesFile, report.PageFile} {
		if _, err := os.Stat(filepath.Join(a, f)); err != nil {
			t.Errorf("report wrote no %s", f)
		}
	}
	out := filepath.Join(t.TempDir(), "both.html")
	if code := Main([]string{"report", a, b, "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("report a b: exit %d: %s", code, stderr.String())
	}
	if page, err := os.ReadFile(out); err != nil || !strings.Contains(string(page), "wakesleep runs a, b") {
		t.Errorf("overlay page: %v", err)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"report"}, 2, "name one or more run folders"},
		{[]string{"report", filepath.Join(a, "nope")}, 2, "is not a run folder"},
		{[]string{"report", t.TempDir()}, 1, "holds no metrics.csv"},
		{[]string{"report", a, "--out", t.TempDir()}, 2, "is not a regular file"},
	} {
		stderr.Reset()
		if code := Main(c.args, &stdout, &stderr); code != c.code || !strings.Contains(stderr.String(), c.msg) {
			t.Errorf("%v: exit %d, %q; want %d and %q", c.args, code, stderr.String(), c.code, c.msg)
		}
	}
}
