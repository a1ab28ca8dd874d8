package metrics

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCSV(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.csv")
	l, err := NewCSV(p, []string{"step", "loss", "kl,z"})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(map[string]float64{"step": 1, "loss": 0.5, "kl,z": 2})
	// Each row is on disk before Close.
	if got := read(t, p); got != "step,loss,\"kl,z\"\n1,0.5,2\n" {
		t.Fatalf("after one row: %q", got)
	}
	l.Log(map[string]float64{"step": 2, "loss": math.NaN()})
	l.Log(map[string]float64{"step": 120000, "loss": math.Inf(-1), "kl,z": 1e-7})
	if err := l.Log(map[string]float64{"lr": 1}); err == nil || !strings.Contains(err.Error(), `"lr" is not one of the columns`) {
		t.Errorf("unknown column: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := l.Log(map[string]float64{"step": 3}); err == nil {
		t.Error("Log after Close: no error")
	}
	want := "step,loss,\"kl,z\"\n1,0.5,2\n2,NaN,\n120000,-Inf,1e-07\n"
	if got := read(t, p); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	for _, cols := range [][]string{nil, {"a", "a"}, {""}} {
		if _, err := NewCSV(filepath.Join(t.TempDir(), "x.csv"), cols); err == nil {
			t.Errorf("columns %q accepted", cols)
		}
	}
}

func TestJSONL(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.jsonl")
	l, err := NewJSONL(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Log(map[string]float64{"step": 1, "loss": 0.25, "a": math.NaN()})
	l.Log(map[string]float64{"step": 2, "loss": 1e21})
	l.Close()
	want := `{"a":null,"loss":0.25,"step":1}` + "\n" + `{"loss":1e+21,"step":2}` + "\n"
	if got := read(t, p); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	for _, line := range strings.Split(strings.TrimSpace(want), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("invalid JSON %s", line)
		}
	}
	// Fixed columns: that order, other keys rejected.
	p2 := filepath.Join(dir, "m2.jsonl")
	l2, _ := NewJSONL(p2, []string{"step", "loss"})
	l2.Log(map[string]float64{"loss": 3, "step": 9})
	if l2.Log(map[string]float64{"x": 1}) == nil {
		t.Error("unknown key accepted")
	}
	l2.Close()
	if got := read(t, p2); got != `{"step":9,"loss":3}`+"\n" {
		t.Errorf("got %q", got)
	}
}

func TestResumeCSV(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.csv")
	cols := []string{"step", "loss"}
	l, _ := NewCSV(p, cols)
	for s := 1; s <= 5; s++ {
		l.Log(map[string]float64{"step": float64(s * 100), "loss": 1 / float64(s)})
	}
	l.Close()
	// A crash mid-row leaves a partial line.
	f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("600,0.1")
	f.Close()

	l, err := ResumeCSV(p, cols, 300)
	if err != nil {
		t.Fatal(err)
	}
	l.Log(map[string]float64{"step": 400, "loss": 9})
	l.Close()
	want := "step,loss\n100,1\n200,0.5\n300,0.3333333333333333\n400,9\n"
	if got := read(t, p); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	// Nothing to drop: the file is only appended to.
	l, _ = ResumeCSV(p, cols, 1000)
	l.Log(map[string]float64{"step": 500})
	l.Close()
	if got := read(t, p); got != want+"500,\n" {
		t.Fatalf("got %q", got)
	}

	// A missing file starts fresh, a header without newline is rewritten.
	p2 := filepath.Join(t.TempDir(), "new.csv")
	l, err = ResumeCSV(p2, cols, 10)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	os.WriteFile(p2, []byte("step,lo"), 0o644)
	l, _ = ResumeCSV(p2, cols, 10)
	l.Log(map[string]float64{"step": 11, "loss": 1})
	l.Close()
	if got := read(t, p2); got != "step,loss\n11,1\n" {
		t.Errorf("got %q", got)
	}

	for name, c := range map[string]struct {
		content string
		cols    []string
		want    string
	}{
		"header":     {"step,acc\n1,2\n", cols, "header [step acc] differs"},
		"no step":    {"loss\n1\n", []string{"loss"}, `needs a "step" column`},
		"bad step":   {"step,loss\nx,1\n", cols, `step "x" is not a number`},
		"short row":  {"step,loss\n1\n", cols, "malformed row"},
		"empty step": {"step,loss\n,1\n", cols, "not a number"},
	} {
		bad := filepath.Join(t.TempDir(), "bad.csv")
		os.WriteFile(bad, []byte(c.content), 0o644)
		if _, err := ResumeCSV(bad, c.cols, 1); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestResumeJSONL(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.jsonl")
	os.WriteFile(p, []byte(`{"step":1,"loss":2}`+"\n"+`{"step":2,"loss":null}`+"\n"+`{"step":3,"loss":1}`+"\n"+`{"step":4,"lo`), 0o644)
	l, err := ResumeJSONL(p, nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	l.Log(map[string]float64{"step": 3, "loss": 5})
	l.Close()
	want := `{"step":1,"loss":2}` + "\n" + `{"step":2,"loss":null}` + "\n" + `{"loss":5,"step":3}` + "\n"
	if got := read(t, p); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	os.WriteFile(p, []byte(`{"loss":1}`+"\n"), 0o644)
	if _, err := ResumeJSONL(p, nil, 2); err == nil || !strings.Contains(err.Error(), `no numeric "step"`) {
		t.Errorf("missing step: %v", err)
	}
	if _, err := ResumeJSONL(p, []string{"loss"}, 2); err == nil {
		t.Error("columns without step accepted")
	}
}

func TestConcurrentLog(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.csv")
	l, _ := NewCSV(p, []string{"step"})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				l.Log(map[string]float64{"step": float64(i*50 + j)})
			}
		}()
	}
	wg.Wait()
	l.Close()
	if n := strings.Count(read(t, p), "\n"); n != 401 {
		t.Errorf("%d lines", n)
	}
}

func TestOpenCSV(t *testing.T) {
	p := filepath.Join(t.TempDir(), "metrics.csv")
	os.WriteFile(p, []byte("old content\n"), 0o644)
	l, err := OpenCSV(p, 0) // fresh run: truncates
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, p); got != "" {
		t.Fatalf("not truncated: %q", got)
	}
	for s := 1; s <= 4; s++ {
		l.Log(map[string]float64{"step": float64(s), "net/loss": float64(10 * s), "epoch": 1})
	}
	l.Log(map[string]float64{"step": 5}) // missing columns stay empty
	if err := l.Log(map[string]float64{"step": 6, "new": 1}); err == nil {
		t.Error("a new column after the header was accepted")
	}
	l.Close()
	want := "step,epoch,net/loss\n1,1,10\n2,1,20\n3,1,30\n4,1,40\n5,,\n"
	if got := read(t, p); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}

	// Resume at step 2: the header is read back, rows 3.. dropped.
	l, err = OpenCSV(p, 2)
	if err != nil {
		t.Fatal(err)
	}
	l.Log(map[string]float64{"net/loss": 7, "step": 3})
	l.Close()
	if got := read(t, p); got != "step,epoch,net/loss\n1,1,10\n2,1,20\n3,,7\n" {
		t.Fatalf("after resume: %q", got)
	}

	// Resuming without a file, or with an empty one, starts a fresh log.
	for _, content := range []string{"", "-"} {
		q := filepath.Join(t.TempDir(), "m.csv")
		if content != "-" {
			os.WriteFile(q, []byte(content), 0o644)
		}
		l, err := OpenCSV(q, 10)
		if err != nil {
			t.Fatal(err)
		}
		l.Log(map[string]float64{"step": 11, "a": 1})
		l.Close()
		if got := read(t, q); got != "step,a\n11,1\n" {
			t.Errorf("content %q: got %q", content, got)
		}
	}
	os.WriteFile(p, []byte("loss\n1\n"), 0o644)
	if _, err := OpenCSV(p, 3); err == nil || !strings.Contains(err.Error(), `no "step" column`) {
		t.Errorf("header without step: %v", err)
	}
}

func TestReadCSV(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.csv")
	l, err := OpenCSV(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	l.Log(map[string]float64{"step": 1, "loss": 0.5, "gp": math.Inf(1)})
	l.Log(map[string]float64{"step": 2, "loss": 0.25})
	l.Close()
	// A row being written when the file is read is left out.
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("3,0.1")
	f.Close()
	tab, err := ReadCSV(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(tab.Columns, " ") != "step gp loss" || len(tab.Rows) != 2 {
		t.Fatalf("read %v with %d rows, want step gp loss and 2", tab.Columns, len(tab.Rows))
	}
	if got := tab.Column("loss"); got[0] != 0.5 || got[1] != 0.25 {
		t.Errorf("loss = %v", got)
	}
	if gp := tab.Column("gp"); !math.IsInf(gp[0], 1) || !math.IsNaN(gp[1]) {
		t.Errorf("gp = %v, want +Inf then NaN (empty cell)", gp)
	}
	if tab.Column("nope") != nil {
		t.Error("a missing column should be nil")
	}
	for _, bad := range []string{"", "step,loss\n1,x\n", "step,step\n1,2\n", "a,b\n1\n"} {
		q := filepath.Join(t.TempDir(), "bad.csv")
		os.WriteFile(q, []byte(bad), 0o644)
		if _, err := ReadCSV(q); err == nil {
			t.Errorf("ReadCSV(%q) succeeded", bad)
		}
	}
}
