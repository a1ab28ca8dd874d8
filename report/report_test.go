package report

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/metrics"
)

func init() { now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC) } }

func writePNG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	if err := imaging.SavePNG(path, img); err != nil {
		t.Fatal(err)
	}
}

// fakeRun writes a run folder as training leaves it: a metrics.csv of 100
// rows (one column NaN in places), a config, pictures of two epochs and an
// eval folder.
func fakeRun(t *testing.T) string { return fakeRunShifted(t, 0) }

// fakeRunShifted is fakeRun with shift added to the losses.
func fakeRunShifted(t *testing.T, shift float64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnist-test-run")
	if err := os.MkdirAll(filepath.Join(dir, EvalDir), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := metrics.OpenCSV(filepath.Join(dir, MetricsFile), 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 100; i++ {
		gp := 1 / float64(i)
		if i%10 == 0 {
			gp = math.NaN()
		}
		l.Log(map[string]float64{"step": float64(10 * i), "epoch": float64(1 + i/50), "critic/loss": shift - math.Log(float64(i)) + 0.3*math.Sin(float64(i)),
			"net/loss": shift + 5*math.Exp(-float64(i)/30), "critic_x/gp": gp, "lr_network": 1e-3, "step_time_s": 0.02})
	}
	l.Close()
	os.WriteFile(filepath.Join(dir, ConfigFile), []byte(`{"experiment": "mnist", "epochs": 3, "note": "<script>alert(1)</script>"}`), 0o644)
	writePNG(t, filepath.Join(dir, "samples-epoch001.png"), 30, 30)
	writePNG(t, filepath.Join(dir, "samples-epoch002.png"), 30, 30)
	writePNG(t, filepath.Join(dir, "recon-epoch002.png"), 60, 30)
	writePNG(t, filepath.Join(dir, EvalDir, "alignment.png"), 40, 20)
	os.WriteFile(filepath.Join(dir, EvalDir, evalReport), []byte("# Evaluation\n\n| quantity | bits |\n|---|---|\n| KL(wake‖sleep) | `0.8` |\n\n![wake vs sleep](alignment.png)\n\nSome **bold** <text>.\n"), 0o644)
	os.WriteFile(filepath.Join(dir, EvalDir, "eval.json"), []byte(`{"step": 1000}`), 0o644)
	os.WriteFile(filepath.Join(dir, EvalDir, "prediction.md"), []byte("## Prediction\n\nframe MSE\n"), 0o644)
	return dir
}

func TestSmooth(t *testing.T) {
	nan := math.NaN()
	got := Smooth([]float64{nan, 2, 2, nan, 2, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10}, 3)
	if !math.IsNaN(got[0]) || got[1] != 2 || got[2] != 2 || got[3] != 2 || got[4] != 2 {
		t.Errorf("start %v: want NaN, then 2 (debiased, NaN skipped)", got[:5])
	}
	for i := 6; i < len(got); i++ {
		if !(got[i] > got[i-1] && got[i] < 10) {
			t.Fatalf("smoothed %v does not rise toward 10", got)
		}
	}
	if got[len(got)-1] < 9.99 {
		t.Errorf("after 15 rows of span 3 the average is %v, want ≈ 10", got[len(got)-1])
	}
}

func TestColumns(t *testing.T) {
	a := Run{Table: &metrics.Table{Columns: []string{"step", "critic/loss", "epoch", "lr_network", "net/loss", "step_time_s"}}}
	b := Run{Table: &metrics.Table{Columns: []string{"step", "critic/loss", "critic_z/gp", "lr_critic"}}}
	if got := strings.Join(Columns([]Run{a, b}), " "); got != "critic/loss net/loss critic_z/gp lr_critic lr_network step_time_s" {
		t.Errorf("columns %q", got)
	}
	for col, want := range map[string]string{"critic_x/gp": "gradient penalty (WGAN-GP)", "net/osc_x": "oscillatory objective (Eq. 7)", "lr_critic": "learning rate", "pred/mse": "prediction MSE", "other": ""} {
		if got := describe(col); got != want {
			t.Errorf("describe(%q) = %q, want %q", col, got, want)
		}
	}
}

func TestRefresh(t *testing.T) {
	dir := fakeRun(t)
	if err := Refresh(dir); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, CurvesFile))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Five plotted columns: four panels in the first row, one in the second.
	if img.Bounds().Dx() != panelCols*panelW || img.Bounds().Dy() != 2*panelH {
		t.Errorf("curves %v, want %d×%d", img.Bounds(), panelCols*panelW, 2*panelH)
	}
	b, err := os.ReadFile(filepath.Join(dir, PageFile))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{
		"<h1>wakesleep run mnist-test-run</h1>", "mnist run, step 1000, epoch 3 of 3", "newest of each: epoch 2",
		`alt="samples-epoch002.png"`, `alt="recon-epoch002.png"`, "&lt;script&gt;alert(1)&lt;/script&gt;",
		"<h3>Evaluation</h3>", "<td>KL(wake‖sleep)</td><td><code>0.8</code></td>", `alt="wake vs sleep"`,
		"Some <b>bold</b> &lt;text&gt;.", "Written 2026-01-02 03:04 UTC by wakesleep", "<h4>Prediction</h4>\n<p>frame MSE</p>",
		"<summary>eval.json</summary><pre>{&#34;step&#34;: 1000}</pre>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"samples-epoch001.png", "<script>", "http://", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q", bad)
		}
	}
}

func TestWritePageOverlay(t *testing.T) {
	a, b := fakeRun(t), fakeRunShifted(t, 3)
	os.Rename(b, b+"-2")
	b += "-2"
	out := filepath.Join(t.TempDir(), "both.html")
	if err := WritePage(out, []string{a, b}); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(out)
	if !bytes.Contains(page, []byte("<h1>wakesleep runs mnist-test-run, mnist-test-run-2</h1>")) || bytes.Count(page, []byte("<h3>Config</h3>")) != 2 ||
		!bytes.Contains(page, []byte(`<a href="#run-1">mnist-test-run-2</a>`)) || !bytes.Contains(page, []byte(`<h2 id="run-1">mnist-test-run-2</h2>`)) {
		t.Error("the page does not show both runs")
	}
	// Each run's smoothed curve in its own colour.
	img, err := Curves([]Run{must(ReadRun(a)), must(ReadRun(b))})
	if err != nil {
		t.Fatal(err)
	}
	for k := range 2 {
		c, n := imaging.DefaultColors[k], 0
		for i := 0; i < len(img.Pix); i += 4 {
			if img.Pix[i] == c.R && img.Pix[i+1] == c.G && img.Pix[i+2] == c.B {
				n++
			}
		}
		if n < 500 {
			t.Errorf("run %d's colour covers %d pixels", k, n)
		}
	}
	if err := WritePage(out, []string{a, t.TempDir()}); err == nil {
		t.Error("a folder without metrics.csv: no error")
	}
}

func must(r Run, err error) Run {
	if err != nil {
		panic(err)
	}
	return r
}

func TestRefreshBeforeFirstRow(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, MetricsFile), []byte("step,net/loss\n"), 0o644)
	err := Refresh(dir)
	if !errors.Is(err, ErrNoRows) {
		t.Fatalf("Refresh = %v, want ErrNoRows", err)
	}
	page, rerr := os.ReadFile(filepath.Join(dir, PageFile))
	if rerr != nil || !bytes.Contains(page, []byte("No curves")) || !bytes.Contains(page, []byte("No config.json")) {
		t.Errorf("page before the first row: %v\n%s", rerr, page)
	}
}

func TestEnvelope(t *testing.T) {
	var x, y []float64
	for i := range 1000 {
		x, y = append(x, float64(i)), append(y, math.Sin(float64(i)/50))
	}
	y[500] = 40 // a spike
	for i := 700; i < 720; i++ {
		y[i] = math.NaN() // a gap longer than a run
	}
	ex, ey := envelope(x, y, 100)
	if len(ex) > 100 || len(ex) != len(ey) {
		t.Fatalf("%d and %d points, want ≤ 100", len(ex), len(ey))
	}
	spike, gap := false, false
	for i := range ex {
		spike = spike || ey[i] == 40
		gap = gap || math.IsNaN(ey[i])
		if i > 0 && ex[i] <= ex[i-1] {
			t.Fatalf("x not increasing at %d: %v", i, ex[i-1:i+1])
		}
	}
	if !spike || !gap {
		t.Errorf("the spike (%v) or the gap (%v) was thinned away", spike, gap)
	}
	if sx, _ := envelope(x[:50], y[:50], 100); len(sx) != 50 {
		t.Error("a short curve was thinned")
	}
}

// The legend goes to the first panel with a value and names every run, even
// one that did not log that column.
func TestLegendPlacement(t *testing.T) {
	nan := math.NaN()
	a := Run{Name: "a", Table: &metrics.Table{Columns: []string{"step", "critic/loss", "net/loss"}, Rows: [][]float64{{1, nan, 2}, {2, nan, 1}}}}
	b := Run{Name: "b", Table: &metrics.Table{Columns: []string{"step", "net/loss"}, Rows: [][]float64{{1, 3}, {2, 4}}}}
	plots := CurvesPlots([]Run{a, b})
	labels := func(p *imaging.Plot) (l []string) {
		for _, s := range p.Series {
			if s.Label != "" {
				l = append(l, s.Label)
			}
		}
		return l
	}
	if len(plots) != 2 || len(labels(plots[0])) != 0 || strings.Join(labels(plots[1]), " ") != "a b" {
		t.Errorf("legends %v and %v, want none on critic/loss (all NaN), a b on net/loss", labels(plots[0]), labels(plots[1]))
	}
	plots = CurvesPlots([]Run{b, a})
	if strings.Join(labels(plots[0]), " ") != "b a" {
		t.Errorf("legend %v, want b a on net/loss, the first panel", labels(plots[0]))
	}
	if got := labels(CurvesPlots([]Run{b})[0]); strings.Join(got, "|") != "raw|moving average (span 1 rows)" {
		t.Errorf("one run's legend %q", got)
	}
}
