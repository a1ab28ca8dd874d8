package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// browser is a headless Chromium driven over the DevTools protocol on a
// pair of pipes (--remote-debugging-pipe: the browser reads commands on
// its fd 3 and writes replies and events on fd 4, each message JSON ended by
// a NUL byte), with the standard library only.
type browser struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	msgs    chan map[string]any
	id      int
	session string
	events  []map[string]any // events since the last navigate
	stderr  bytes.Buffer
}

// chromium returns the Chromium binary, or skips the test when there is
// none (fails it when WAKESLEEP_REQUIRE_CHROMIUM=1, as CI sets).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("WAKESLEEP_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("no chromium on PATH, and WAKESLEEP_REQUIRE_CHROMIUM=1 (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH (set WAKESLEEP_REQUIRE_CHROMIUM=1 to fail instead)")
	return ""
}

func startBrowser(ctx context.Context, t *testing.T, bin string) *browser {
	t.Helper()
	toR, toW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromR, fromW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{in: toW, msgs: make(chan map[string]any, 64)}
	b.cmd = exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--no-default-browser-check", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-extensions", "--mute-audio", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-pipe", "about:blank")
	b.cmd.ExtraFiles = []*os.File{toR, fromW} // fd 3, fd 4
	b.cmd.Stderr = &b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	toR.Close()
	fromW.Close()
	go func() {
		defer close(b.msgs)
		r := bufio.NewReader(fromR)
		for {
			line, err := r.ReadBytes(0)
			if err != nil {
				return
			}
			var m map[string]any
			if json.Unmarshal(line[:len(line)-1], &m) == nil {
				b.msgs <- m
			}
		}
	}()
	t.Cleanup(func() {
		b.call(ctx, "Browser.close", nil, false)
		toW.Close()
		done := make(chan error, 1)
		go func() { done <- b.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			b.cmd.Process.Kill()
			<-done
		}
	})
	return b
}

// call sends a command (to the page's session if inSession) and returns
// its result, keeping the events that arrive meanwhile.
func (b *browser) call(ctx context.Context, method string, params map[string]any, inSession bool) (map[string]any, error) {
	b.id++
	msg := map[string]any{"id": b.id, "method": method, "params": params}
	if params == nil {
		msg["params"] = map[string]any{}
	}
	if inSession {
		msg["sessionId"] = b.session
	}
	data, _ := json.Marshal(msg)
	if _, err := b.in.Write(append(data, 0)); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w (browser stderr: %s)", method, ctx.Err(), b.stderr.String())
		case m, ok := <-b.msgs:
			if !ok {
				return nil, fmt.Errorf("%s: browser closed the pipe (stderr: %s)", method, b.stderr.String())
			}
			if id, _ := m["id"].(float64); int(id) == b.id {
				if e, ok := m["error"]; ok {
					return nil, fmt.Errorf("%s: %v", method, e)
				}
				res, _ := m["result"].(map[string]any)
				return res, nil
			}
			if _, ok := m["method"]; ok {
				b.events = append(b.events, m)
			}
		}
	}
}

// waitEvent waits for the event named method, keeping the others.
func (b *browser) waitEvent(ctx context.Context, method string) error {
	for i, e := range b.events {
		if e["method"] == method {
			b.events = append(b.events[:i:i], b.events[i+1:]...)
			return nil
		}
	}
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", method, ctx.Err())
		case m, ok := <-b.msgs:
			if !ok {
				return fmt.Errorf("waiting for %s: browser closed the pipe", method)
			}
			if m["method"] == method {
				return nil
			}
			if _, ok := m["method"]; ok {
				b.events = append(b.events, m)
			}
		}
	}
}

// attach opens a page and enables the domains that report console messages,
// uncaught exceptions and the browser's own log (failed loads, blocked
// requests).
func (b *browser) attach(ctx context.Context) error {
	res, err := b.call(ctx, "Target.createTarget", map[string]any{"url": "about:blank"}, false)
	if err != nil {
		return err
	}
	res, err = b.call(ctx, "Target.attachToTarget", map[string]any{"targetId": res["targetId"], "flatten": true}, false)
	if err != nil {
		return err
	}
	b.session, _ = res["sessionId"].(string)
	for _, m := range []string{"Runtime.enable", "Log.enable", "Page.enable"} {
		if _, err := b.call(ctx, m, nil, true); err != nil {
			return err
		}
	}
	return nil
}

// pageCheck is what loading a page showed.
type pageCheck struct {
	Errors []string // console errors, exceptions, error log entries
	Images int      // <img> elements
	Broken []string // those that did not decode
	Title  string   // the first <h1>
}

// load navigates to the file at path, waits for it to load and returns what
// went wrong.
func (b *browser) load(ctx context.Context, path string) (pageCheck, error) {
	var pc pageCheck
	abs, err := filepath.Abs(path)
	if err != nil {
		return pc, err
	}
	b.events = nil
	if _, err := b.call(ctx, "Page.navigate", map[string]any{"url": "file://" + abs}, true); err != nil {
		return pc, err
	}
	if err := b.waitEvent(ctx, "Page.loadEventFired"); err != nil {
		return pc, err
	}
	// Every image decoded and has a size: a corrupt data URI loads as a
	// broken image without any console message.
	res, err := b.call(ctx, "Runtime.evaluate", map[string]any{"returnByValue": true, "expression": `JSON.stringify({
		images: document.images.length,
		broken: Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt || i.src.slice(0, 60)),
		title: (document.querySelector("h1") || {}).textContent || ""})`}, true)
	if err != nil {
		return pc, err
	}
	v, _ := res["result"].(map[string]any)
	s, _ := v["value"].(string)
	var got struct {
		Images int      `json:"images"`
		Broken []string `json:"broken"`
		Title  string   `json:"title"`
	}
	if err := json.Unmarshal([]byte(s), &got); err != nil {
		return pc, fmt.Errorf("page state %q: %v", s, err)
	}
	pc.Images, pc.Broken, pc.Title = got.Images, got.Broken, got.Title
	for _, e := range b.events {
		p, _ := e["params"].(map[string]any)
		switch e["method"] {
		case "Runtime.consoleAPICalled":
			if ty := p["type"]; ty == "error" || ty == "assert" {
				pc.Errors = append(pc.Errors, fmt.Sprintf("console.%s: %v", ty, p["args"]))
			}
		case "Runtime.exceptionThrown":
			pc.Errors = append(pc.Errors, fmt.Sprintf("exception: %v", p["exceptionDetails"]))
		case "Log.entryAdded":
			if en, _ := p["entry"].(map[string]any); en["level"] == "error" {
				pc.Errors = append(pc.Errors, fmt.Sprintf("log (%v): %v", en["source"], en["text"]))
			}
		}
	}
	return pc, nil
}

// TestPageInChromium opens a run's report.html in headless Chromium: it must
// render every picture with no console error. Three spoiled copies of the
// page prove that the check can fail: a console.error, a corrupt picture and
// a request the page's security policy refuses.
func TestPageInChromium(t *testing.T) {
	bin := chromium(t)
	dir := fakeRun(t)
	if err := Refresh(dir); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, PageFile)
	good, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	spoil := func(name, html string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(html), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	withBody := func(extra string) string { return strings.Replace(string(good), "</body>", extra+"</body>", 1) }
	consoleErr := spoil("console.html", `<!DOCTYPE html><html><head><meta charset="utf-8"><title>x</title></head><body><h1>x</h1><script>console.error("deliberate")</script></body></html>`)
	brokenImg := spoil("broken.html", withBody(`<img alt="corrupt" src="data:image/png;base64,iVBORw0KGgoAAAAN">`))
	external := spoil("external.html", withBody(`<img alt="remote" src="http://127.0.0.1:9/x.png">`))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := startBrowser(ctx, t, bin)
	if err := b.attach(ctx); err != nil {
		t.Fatal(err)
	}

	pc, err := b.load(ctx, page)
	if err != nil {
		t.Fatal(err)
	}
	if len(pc.Errors) > 0 || len(pc.Broken) > 0 {
		t.Errorf("report.html: console errors %q, broken pictures %q", pc.Errors, pc.Broken)
	}
	// The curves, the run's two pictures and the eval picture.
	if pc.Images != 4 || !strings.Contains(pc.Title, filepath.Base(dir)) {
		t.Errorf("report.html shows %d pictures (want 4) under the title %q", pc.Images, pc.Title)
	}

	// The page of two runs: their curves overlaid, then each run.
	both := filepath.Join(t.TempDir(), "both.html")
	if err := WritePage(both, []string{dir, fakeRunShifted(t, 3)}); err != nil {
		t.Fatal(err)
	}
	if pc, err := b.load(ctx, both); err != nil {
		t.Fatal(err)
	} else if len(pc.Errors) > 0 || len(pc.Broken) > 0 || pc.Images != 7 {
		t.Errorf("page of two runs: console errors %q, broken pictures %q, %d pictures (want 7)", pc.Errors, pc.Broken, pc.Images)
	}

	for _, c := range []struct {
		name, path string
		bad        func(pageCheck) bool
	}{
		{"console.error", consoleErr, func(pc pageCheck) bool { return len(pc.Errors) > 0 }},
		{"corrupt picture", brokenImg, func(pc pageCheck) bool { return len(pc.Broken) == 1 }},
		{"refused request", external, func(pc pageCheck) bool { return len(pc.Errors) > 0 }},
	} {
		pc, err := b.load(ctx, c.path)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %+v", c.name, pc)
		if !c.bad(pc) {
			t.Errorf("negative control %q went unnoticed: %+v", c.name, pc)
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("chromium took over a minute")
	}
}
