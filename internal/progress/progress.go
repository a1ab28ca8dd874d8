// Package progress draws a one-line progress bar:
//
//	train  12000/60000  20% [####................] 512.3 it/s 00:23<01:34 loss=1.23
//
// On a terminal the line is redrawn in place with '\r', at most five times a
// second. Anywhere else (a log file, a pipe, CI) it prints a plain line each
// time another tenth of the total is done, and at Finish, so logs stay short.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

const (
	redrawEvery = 200 * time.Millisecond // terminal: at most 5 redraws a second
	plainEvery  = 10 * time.Second       // non-terminal, unknown total: one line per 10 s
	barWidth    = 20
)

// Bar is a progress bar. Its methods are safe for concurrent use.
type Bar struct {
	mu        sync.Mutex
	w         io.Writer
	total     int
	label     string
	tty       bool
	now       func() time.Time
	start     time.Time
	n         int
	base      int // count done before this session (Resume); not in the rate
	printedN  int // non-terminal: count shown by the last plain line, -1 if none
	info      string
	lastDraw  time.Time
	lastTenth int // non-terminal: last tenth of total printed
	lastLen   int // terminal: length of the line on screen
	finished  bool
}

// New returns a bar counting to total (≤ 0 if unknown) that writes to w.
// w counts as a terminal if it is an *os.File on a character device.
func New(w io.Writer, total int, label string) *Bar {
	return newBar(w, total, label, isTerminal(w), time.Now)
}

func newBar(w io.Writer, total int, label string, tty bool, now func() time.Time) *Bar {
	return &Bar{w: w, total: total, label: label, tty: tty, now: now, start: now(), printedN: -1}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Add advances the count by n and redraws if due.
func (b *Bar) Add(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n += n
	b.maybeDraw()
}

// Resume sets the count to n items done before this session, e.g. the step
// of a resumed run. They show in the count and percentage but not in the
// rate, so the rate and ETA reflect only this session's progress.
func (b *Bar) Resume(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n, b.base = n, n
	if b.total > 0 {
		b.lastTenth = min(n*10/b.total, 10) // no catch-up lines
	}
	b.maybeDraw()
}

// SetInfo sets the text shown after the bar, e.g. "loss=1.23 kl=0.4".
func (b *Bar) SetInfo(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.info = s
	b.maybeDraw()
}

// Finish draws the final state and ends the line. Later calls do nothing.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	if b.tty {
		b.drawTTY()
		fmt.Fprintln(b.w)
		return
	}
	if b.printedN != b.n {
		b.plain()
	}
}

func (b *Bar) maybeDraw() {
	if b.finished {
		return
	}
	t := b.now()
	if b.tty {
		if b.lastDraw.IsZero() || t.Sub(b.lastDraw) >= redrawEvery || (b.total > 0 && b.n >= b.total) {
			b.lastDraw = t
			b.drawTTY()
		}
		return
	}
	if b.total > 0 {
		if tenth := min(b.n*10/b.total, 10); tenth > b.lastTenth {
			b.lastTenth, b.lastDraw = tenth, t
			b.plain()
		}
		return
	}
	if b.lastDraw.IsZero() || t.Sub(b.lastDraw) >= plainEvery {
		b.lastDraw = t
		b.plain()
	}
}

func (b *Bar) plain() {
	b.printedN = b.n
	fmt.Fprintln(b.w, b.line(false))
}

func (b *Bar) drawTTY() {
	s := b.line(true)
	pad := ""
	if k := b.lastLen - len(s); k > 0 {
		pad = strings.Repeat(" ", k) // wipe the tail of a longer previous line
	}
	b.lastLen = len(s)
	fmt.Fprint(b.w, "\r"+s+pad)
}

// line renders the current state; withBar adds the [###...] gauge.
func (b *Bar) line(withBar bool) string {
	elapsed := b.now().Sub(b.start)
	var sb strings.Builder
	if b.label != "" {
		sb.WriteString(b.label + "  ")
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(b.n-b.base) / s
	}
	if b.total > 0 {
		frac := min(float64(b.n)/float64(b.total), 1)
		w := len(fmt.Sprint(b.total))
		fmt.Fprintf(&sb, "%*d/%d %3.0f%%", w, b.n, b.total, 100*frac)
		if withBar {
			k := int(frac * barWidth)
			sb.WriteString(" [" + strings.Repeat("#", k) + strings.Repeat(".", barWidth-k) + "]")
		}
		eta := "--:--"
		if rate > 0 {
			eta = clock(time.Duration(float64(b.total-min(b.n, b.total)) / rate * float64(time.Second)))
		}
		fmt.Fprintf(&sb, " %s it/s %s<%s", rateString(rate), clock(elapsed), eta)
	} else {
		fmt.Fprintf(&sb, "%d %s it/s %s", b.n, rateString(rate), clock(elapsed))
	}
	if b.info != "" {
		sb.WriteString(" " + b.info)
	}
	return sb.String()
}

func rateString(r float64) string {
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f", r)
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.2f", r)
}

// clock formats d as mm:ss, or h:mm:ss from an hour on.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}
