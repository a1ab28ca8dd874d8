package progress

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeClock advances only when told to.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestPlain(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{time.Unix(1000, 0)}
	b := newBar(&buf, 100, "train", false, clk.now)
	for range 100 {
		clk.advance(100 * time.Millisecond)
		b.Add(1)
		if b.n == 50 {
			b.SetInfo("loss=0.5")
		}
	}
	b.Finish()
	b.Finish()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 10 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	if want := "train   10/100  10% 10.0 it/s 00:01<00:09"; lines[0] != want {
		t.Errorf("first line %q, want %q", lines[0], want)
	}
	if want := "train  100/100 100% 10.0 it/s 00:10<00:00 loss=0.5"; lines[9] != want {
		t.Errorf("last line %q, want %q", lines[9], want)
	}
	if strings.Contains(buf.String(), "\r") {
		t.Error("carriage return in plain output")
	}
}

func TestPlainFinishEarly(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{time.Unix(0, 0)}
	b := newBar(&buf, 1000, "", false, clk.now)
	clk.advance(2 * time.Second)
	b.Add(15)
	b.Finish() // stopped early: one final line
	if got := buf.String(); got != "  15/1000   2% 7.50 it/s 00:02<02:11\n" {
		t.Errorf("got %q", got)
	}
}

func TestUnknownTotal(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{time.Unix(0, 0)}
	b := newBar(&buf, 0, "eval", false, clk.now)
	for range 30 {
		clk.advance(time.Second)
		b.Add(5)
	}
	b.Finish()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 || lines[3] != "eval  150 5.00 it/s 00:30" {
		t.Errorf("lines %q", lines)
	}
}

func TestTerminal(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{time.Unix(0, 0)}
	b := newBar(&buf, 50, "ep 1", true, clk.now)
	b.SetInfo("loss=12.345")
	for range 50 {
		clk.advance(10 * time.Millisecond) // 100 it/s: a redraw every 20 items
		b.Add(1)
	}
	b.Finish()
	out := buf.String()
	draws := strings.Count(out, "\r")
	// First draw, redraws at 200 ms and 400 ms, the final one at 100%, Finish.
	if draws != 5 {
		t.Errorf("%d redraws in %q", draws, out)
	}
	last := out[strings.LastIndex(out, "\r")+1:]
	if want := "ep 1  50/50 100% [####################] 100 it/s 00:01<00:00 loss=12.345\n"; last != want {
		t.Errorf("final %q, want %q", last, want)
	}
	// A shorter line wipes the rest of the longer one.
	buf.Reset()
	b = newBar(&buf, 10, "x", true, clk.now)
	b.SetInfo("a long piece of information")
	clk.advance(time.Second)
	b.SetInfo("")
	if s := buf.String(); !strings.HasSuffix(s, strings.Repeat(" ", len(" a long piece of information"))) {
		t.Errorf("no wipe: %q", s)
	}
}

func TestClock(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "00:00", 61 * time.Second: "01:01", 3725 * time.Second: "1:02:05", 1500 * time.Millisecond: "00:02",
	} {
		if got := clock(d); got != want {
			t.Errorf("clock(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) || isTerminal(&bytes.Buffer{}) {
		t.Error("a regular file or buffer is not a terminal")
	}
	if New(f, 10, "x").tty {
		t.Error("New chose terminal mode for a file")
	}
}

func TestResumeAndFinishMidway(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{time.Unix(0, 0)}
	b := newBar(&buf, 100, "train", false, clk.now)
	b.Resume(40) // no catch-up lines for 10%..40%
	if buf.Len() != 0 {
		t.Fatalf("Resume printed %q", buf.String())
	}
	clk.advance(5 * time.Second)
	b.Add(10) // 50%: rate counts only these 10 items
	clk.advance(time.Second)
	b.Add(5) // 55%: no new tenth
	b.Finish()
	want := "train   50/100  50% 2.00 it/s 00:05<00:25\n" +
		"train   55/100  55% 2.50 it/s 00:06<00:18\n" // stopped mid-tenth: final line
	if got := buf.String(); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
