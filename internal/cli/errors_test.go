package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wakesleep/wakesleep/checkpoint"
	mnistexp "github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/train"
)

// idxFile encodes an IDX file of unsigned bytes: magic, sizes, body.
func idxFile(magic uint32, dims []int, body []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, magic)
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(body)
	return b.Bytes()
}

func gzipped(b []byte) []byte {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b)
	w.Close()
	return z.Bytes()
}

// writeMNISTDir writes a small MNIST-shaped data folder into dir: n
// training and n test images of rows×cols with pseudo-random pixels, labels
// i mod 10. The training files are gzip-compressed, the test files raw, as
// mnist.LoadDir allows.
func writeMNISTDir(dir string, n, rows, cols int) error {
	px := make([]byte, n*rows*cols)
	x := uint32(12345)
	for i := range px {
		x = x*1664525 + 1013904223
		if x>>30 == 0 { // a quarter of the pixels are ink
			px[i] = byte(x >> 8)
		}
	}
	labels := make([]byte, n)
	for i := range labels {
		labels[i] = byte(i % 10)
	}
	imgs := idxFile(2051, []int{n, rows, cols}, px)
	labs := idxFile(2049, []int{n}, labels)
	for name, b := range map[string][]byte{
		"train-images-idx3-ubyte.gz": gzipped(imgs), "train-labels-idx1-ubyte.gz": gzipped(labs),
		"t10k-images-idx3-ubyte": imgs, "t10k-labels-idx1-ubyte": labs,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func mnistDir(t testing.TB, n, rows, cols int) string {
	t.Helper()
	dir := t.TempDir()
	if err := writeMNISTDir(dir, n, rows, cols); err != nil {
		t.Fatal(err)
	}
	return dir
}

func write(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tinyFlags make the MNIST model narrow and an epoch two steps long.
var tinyFlags = []string{"--hidden", "8", "--critic-width", "8", "--z-dim", "4",
	"--batch-size", "8", "--train-limit", "16", "--log-every", "1"}

// shared is a folder for goodRun, which outlives any one test; TestMain
// removes it.
var shared string

func TestMain(m *testing.M) {
	// The test binary is wakesleep itself when a test runs it so (see
	// TestSignalsEndEveryCommand).
	if os.Getenv("WAKESLEEP_TEST_MAIN") == "1" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	var err error
	if shared, err = os.MkdirTemp("", "wakesleep-cli-test-"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(shared)
	os.Exit(code)
}

// goodRun trains a tiny run once (one epoch of two steps, a checkpoint each
// step) and returns its data folder and run folder; tests must not modify
// either.
var goodRun = sync.OnceValues(func() (data, run string) {
	data, run = filepath.Join(shared, "data"), filepath.Join(shared, "run")
	if err := os.Mkdir(data, 0o755); err != nil {
		panic(err)
	}
	if err := writeMNISTDir(data, 32, 28, 28); err != nil {
		panic(err)
	}
	code, _, stderr := runCLI(append([]string{"train", "--data", data, "--run", run, "--epochs", "1", "--checkpoint-every", "1"}, tinyFlags...)...)
	if code != 0 {
		panic("training the tiny run failed: " + stderr)
	}
	return data, run
})

func latestCkpt(t *testing.T, run string) string {
	t.Helper()
	p, _, err := checkpoint.Latest(run, train.CheckpointPrefix)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCommandLineMistakes runs every mistake we could think of through Main:
// each must exit 1 (failure) or 2 (usage) with a one-line message on stderr
// (a usage error adds one hint line), naming the problem; none may panic.
func TestCommandLineMistakes(t *testing.T) {
	data, run := goodRun()
	ckpt := latestCkpt(t, run)
	tmp := t.TempDir()
	path := func(name string) string { return filepath.Join(tmp, name) }
	mkdir := func(name string) string {
		p := path(name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Run folders.
	empty := mkdir("empty")
	garbageCfg := mkdir("garbage-config")
	write(t, filepath.Join(garbageCfg, "config.json"), []byte("{this is not json"))
	otherExp := mkdir("other-experiment")
	write(t, filepath.Join(otherExp, "config.json"), []byte(`{"experiment": "imagenet"}`))
	unknownField := mkdir("unknown-field")
	write(t, filepath.Join(unknownField, "config.json"), []byte(`{"experiment": "mnist", "learning_rate": 1}`))
	hugeModel := mkdir("huge-model")
	hugeCfg := mnistexp.QuickConfig("local")
	hugeCfg.Model.Hidden = 1 << 30
	if err := train.SaveConfig(filepath.Join(hugeModel, "config.json"), &hugeCfg); err != nil {
		t.Fatal(err)
	}
	orphanCkpts := mkdir("orphan-checkpoints")
	write(t, filepath.Join(orphanCkpts, filepath.Base(ckpt)), read(t, ckpt))
	allCorrupt := mkdir("all-corrupt")
	write(t, filepath.Join(allCorrupt, "config.json"), read(t, filepath.Join(run, "config.json")))
	write(t, filepath.Join(allCorrupt, "ckpt-00000001.safetensors"), []byte("junk"))
	write(t, filepath.Join(allCorrupt, "ckpt-00000002.safetensors"), read(t, ckpt)[:100])
	aFile := path("a-file")
	write(t, aFile, []byte("x"))

	// Checkpoints.
	good := read(t, ckpt)
	truncated := path("truncated.safetensors")
	write(t, truncated, good[:len(good)/2])
	flipped := path("flipped.safetensors")
	fb := bytes.Clone(good)
	fb[len(fb)-3] ^= 0x40
	write(t, flipped, fb)
	notST := filepath.Join(run, "config.json")
	png := filepath.Join(run, "samples-epoch001.png")
	foreign := path("foreign.safetensors")
	if err := checkpoint.Save(foreign, nil, map[string]string{"note": "not a training checkpoint"}); err != nil {
		t.Fatal(err)
	}
	ts, meta, err := checkpoint.Load(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	badMeta := path("bad-meta.safetensors")
	m2 := map[string]string{}
	for k, v := range meta {
		m2[k] = v
	}
	m2["wakesleep.config"] = "{garbage"
	if err := checkpoint.Save(badMeta, ts, m2); err != nil {
		t.Fatal(err)
	}
	m3 := map[string]string{}
	for k, v := range meta {
		m3[k] = v
	}
	m3["wakesleep.step"] = "-5"
	badStep := path("bad-step.safetensors")
	if err := checkpoint.Save(badStep, ts, m3); err != nil {
		t.Fatal(err)
	}
	nanCkpt := path("nan.safetensors")
	for k, v := range ts {
		if strings.HasPrefix(k, "model.") {
			v.SetAt(0, math.NaN())
			break
		}
	}
	if err := checkpoint.Save(nanCkpt, ts, meta); err != nil {
		t.Fatal(err)
	}
	missingCkpt := path("missing.safetensors")

	// Data folders.
	noData := mkdir("no-data")
	truncData := mnistDir(t, 32, 28, 28)
	b := read(t, filepath.Join(truncData, "train-images-idx3-ubyte.gz"))
	write(t, filepath.Join(truncData, "train-images-idx3-ubyte.gz"), b[:len(b)/2])
	truncRaw := mnistDir(t, 32, 28, 28)
	b = read(t, filepath.Join(truncRaw, "t10k-images-idx3-ubyte"))
	write(t, filepath.Join(truncRaw, "t10k-images-idx3-ubyte"), b[:len(b)-10])
	wrongShape := mnistDir(t, 32, 10, 10)
	swapped := mnistDir(t, 32, 28, 28) // label file where the images should be
	write(t, filepath.Join(swapped, "train-images-idx3-ubyte.gz"), read(t, filepath.Join(swapped, "train-labels-idx1-ubyte.gz")))
	mismatch := mnistDir(t, 32, 28, 28)
	write(t, filepath.Join(mismatch, "t10k-labels-idx1-ubyte"), idxFile(2049, []int{3}, []byte{1, 2, 3}))
	badLabel := mnistDir(t, 32, 28, 28)
	write(t, filepath.Join(badLabel, "t10k-labels-idx1-ubyte"), idxFile(2049, []int{32}, bytes.Repeat([]byte{12}, 32)))
	trailing := mnistDir(t, 32, 28, 28)
	write(t, filepath.Join(trailing, "t10k-labels-idx1-ubyte"), append(idxFile(2049, []int{32}, make([]byte, 32)), 0))
	badGzip := mnistDir(t, 32, 28, 28)
	b = read(t, filepath.Join(badGzip, "train-labels-idx1-ubyte.gz"))
	b[len(b)-6] ^= 0xff // inside the CRC-32 trailer
	write(t, filepath.Join(badGzip, "train-labels-idx1-ubyte.gz"), b)
	dirAsFile := mnistDir(t, 32, 28, 28)
	os.Remove(filepath.Join(dirAsFile, "t10k-images-idx3-ubyte"))
	os.Mkdir(filepath.Join(dirAsFile, "t10k-images-idx3-ubyte"), 0o755)
	tooFew := mnistDir(t, 4, 28, 28)
	emptySet := mnistDir(t, 0, 28, 28)

	trainTiny := func(dataDir, runDir string, extra ...string) []string {
		return append(append([]string{"train", "--data", dataDir, "--run", runDir, "--epochs", "1"}, tinyFlags...), extra...)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // substrings of the message
		// trains: output of training (progress, warnings) may precede the
		// message, which is then the last line.
		trains bool
	}{
		{"unknown command", []string{"frobnicate"}, 2, []string{`unknown command "frobnicate"`}, false},
		{"unknown experiment", []string{"train", "imagenet"}, 2, []string{`unknown experiment "imagenet"`}, false},
		{"two experiments", []string{"train", "mnist", "mnist"}, 2, []string{"too many arguments"}, false},
		{"unknown flag", []string{"train", "--bogus"}, 2, []string{"flag provided but not defined: -bogus"}, false},
		{"flag without value", []string{"train", "--epochs"}, 2, []string{"flag needs an argument: -epochs"}, false},
		{"epochs not a number", []string{"train", "--epochs", "three"}, 2, []string{`invalid value "three" for flag -epochs`}, false},
		{"negative epochs", []string{"train", "--epochs", "-1"}, 2, []string{"epochs -1 must be positive"}, false},
		{"gamma 2", []string{"train", "--gamma", "2"}, 2, []string{"gamma 2 must be in [0, 1]"}, false},
		{"gamma NaN", []string{"train", "--gamma", "NaN"}, 2, []string{"--gamma NaN: want a finite number"}, false},
		{"lambda Inf", []string{"train", "--lambda", "Inf"}, 2, []string{"--lambda +Inf: want a finite number"}, false},
		{"negative lambda", []string{"train", "--lambda", "-1"}, 2, []string{"lambda -1"}, false},
		{"global critic gamma", []string{"train", "--algorithm", "global", "--gamma", "0.5"}, 2, []string{"gamma must be 1"}, false},
		{"batch size 0", []string{"train", "--batch-size", "0"}, 2, []string{"batch size 0 must be positive"}, false},
		{"critic steps 0", []string{"train", "--critic-steps", "0"}, 2, []string{"critic steps 0"}, false},
		{"unknown algorithm", []string{"train", "--algorithm", "foo"}, 2, []string{`--algorithm "foo"`}, false},
		{"unknown preset", []string{"train", "--preset", "foo"}, 2, []string{`--preset "foo"`}, false},
		{"unknown pixel scale", []string{"train", "--pixel-scale", "foo"}, 2, []string{`pixel scale "foo"`}, false},
		{"lr 0", []string{"train", "--lr-network", "0"}, 2, []string{"learning rate 0 must be positive"}, false},
		{"lr NaN", []string{"train", "--lr-critic", "NaN"}, 2, []string{"--lr-critic NaN: want a finite number"}, false},
		{"negative seed", []string{"train", "--seed", "-1"}, 2, []string{`invalid value "-1" for flag -seed`}, false},
		{"negative recurrent steps", []string{"train", "--recurrent-steps", "-1"}, 2, []string{"recurrent steps -1"}, false},
		{"hidden 0", []string{"train", "--hidden", "0"}, 2, []string{"--hidden 0 must be positive"}, false},
		{"negative z-dim", []string{"train", "--z-dim", "-3"}, 2, []string{"--z-dim -3 must be positive"}, false},
		{"absurd width", []string{"train", "--critic-width", "100000000"}, 2, []string{"critic_width 100000000 exceeds"}, false},
		{"negative train limit", []string{"train", "--train-limit", "-1"}, 2, []string{"train limit -1"}, false},
		{"negative max steps", []string{"train", "--max-steps", "-1"}, 2, []string{"--max-steps -1"}, false},
		{"log every 0", []string{"train", "--log-every", "0"}, 2, []string{"log every 0"}, false},
		{"keep 0", []string{"train", "--keep", "0"}, 2, []string{"keep checkpoints 0 must be ≥ 1"}, false},
		{"negative checkpoint every", []string{"train", "--checkpoint-every", "-1"}, 2, []string{"checkpoint every -1"}, false},
		{"resume without run", []string{"train", "--resume"}, 2, []string{"--resume needs --run"}, false},
		{"resume changing lr", []string{"train", "--resume", "--run", run, "--lr-network", "1"}, 2, []string{"--lr-network cannot change"}, false},
		{"resume epochs 0", []string{"train", "--resume", "--run", run, "--epochs", "0"}, 2, []string{"--epochs 0"}, false},

		{"resume empty folder", []string{"train", "--resume", "--run", empty}, 1, []string{"nothing to resume", empty}, false},
		{"resume missing folder", []string{"train", "--resume", "--run", path("nowhere"), "--data", data}, 1, []string{"nothing to resume"}, false},
		{"resume garbage config", []string{"train", "--resume", "--run", garbageCfg, "--data", data}, 1, []string{filepath.Join(garbageCfg, "config.json"), "invalid character"}, false},
		{"resume other experiment", []string{"train", "--resume", "--run", otherExp, "--data", data}, 1, []string{filepath.Join(otherExp, "config.json"), `unknown experiment "imagenet"`}, false},
		{"resume config with unknown field", []string{"train", "--resume", "--run", unknownField, "--data", data}, 1, []string{`unknown field "learning_rate"`}, false},
		{"resume config with absurd model", []string{"train", "--resume", "--run", hugeModel, "--data", data}, 1, []string{"hidden 1073741824 exceeds"}, false},
		{"resume all checkpoints corrupt", []string{"train", "--resume", "--run", allCorrupt, "--data", data}, 1, []string{"all 2 are unreadable", "ckpt-00000001", "ckpt-00000002"}, false},
		{"fresh run in a used folder", trainTiny(data, run), 1, []string{"already holds a run", "--resume"}, false},
		{"fresh run among orphan checkpoints", trainTiny(data, orphanCkpts), 1, []string{"holds checkpoints", "no config.json"}, false},
		{"run folder is a file", trainTiny(data, aFile), 1, []string{"create run folder", "not a directory"}, false},
		{"data folder missing files", trainTiny(noData, path("r1")), 1, []string{"neither train-images-idx3-ubyte.gz nor train-images-idx3-ubyte", noData}, false},
		{"data folder does not exist", trainTiny(path("no-such-folder"), path("r1")), 1, []string{"neither train-images-idx3-ubyte.gz"}, false},
		{"truncated gzip images", trainTiny(truncData, path("r1")), 1, []string{filepath.Join(truncData, "train-images-idx3-ubyte.gz"), "truncated"}, false},
		{"truncated raw images", trainTiny(truncRaw, path("r1")), 1, []string{filepath.Join(truncRaw, "t10k-images-idx3-ubyte"), "truncated"}, false},
		{"images of the wrong shape", trainTiny(wrongShape, path("r1")), 1, []string{filepath.Join(wrongShape, "train-images-idx3-ubyte.gz"), "10×10", "28×28"}, false},
		{"labels where images belong", trainTiny(swapped, path("r1")), 1, []string{filepath.Join(swapped, "train-images-idx3-ubyte.gz"), "magic number 2049", "this is a label file"}, false},
		{"label count mismatch", trainTiny(mismatch, path("r1")), 1, []string{filepath.Join(mismatch, "t10k-labels-idx1-ubyte"), "holds 3 labels but"}, false},
		{"label out of range", trainTiny(badLabel, path("r1")), 1, []string{filepath.Join(badLabel, "t10k-labels-idx1-ubyte"), "label 12 of item 0"}, false},
		{"trailing bytes", trainTiny(trailing, path("r1")), 1, []string{filepath.Join(trailing, "t10k-labels-idx1-ubyte"), "trailing bytes"}, false},
		{"corrupt gzip", trainTiny(badGzip, path("r1")), 1, []string{filepath.Join(badGzip, "train-labels-idx1-ubyte.gz"), "gzip"}, false},
		{"folder in place of a file", trainTiny(dirAsFile, path("r1")), 1, []string{filepath.Join(dirAsFile, "t10k-images-idx3-ubyte"), "is a directory"}, false},
		{"fewer images than a batch", trainTiny(tooFew, path("r2")), 1, []string{"batch size 8 × critic steps 1 exceeds the 4 training images"}, false},
		{"no images at all", trainTiny(emptySet, path("r2")), 1, []string{"exceeds the 0 training images"}, false},
		{"learning rate that overflows", trainTiny(data, path("r3"), "--lr-network", "1e39"), 1, []string{"step 1: network parameter", "NaN or infinite", "no good checkpoint"}, true},

		{"sample without checkpoint", []string{"sample"}, 2, []string{"--checkpoint is required"}, false},
		{"sample n 0", []string{"sample", "--checkpoint", ckpt, "--n", "0"}, 2, []string{"--n 0"}, false},
		{"sample stray argument", []string{"sample", "--checkpoint", ckpt, "extra"}, 2, []string{"unexpected arguments"}, false},
		{"reconstruct too many", []string{"reconstruct", "--checkpoint", ckpt, "--data", data, "--n", "33"}, 2, []string{"--n 33 exceeds the 32 test digits"}, false},
		{"sample missing checkpoint", []string{"sample", "--checkpoint", missingCkpt}, 1, []string{missingCkpt, "no such file"}, false},
		{"reconstruct missing checkpoint", []string{"reconstruct", "--checkpoint", missingCkpt, "--data", data}, 1, []string{missingCkpt, "no such file"}, false},
		{"eval empty run folder", []string{"eval", "--checkpoint", empty, "--data", data}, 1, []string{empty, "no checkpoint"}, false},
		{"sample empty run folder", []string{"sample", "--checkpoint", empty}, 1, []string{empty, "no checkpoint"}, false},
		{"sample truncated checkpoint", []string{"sample", "--checkpoint", truncated}, 1, []string{truncated, "truncated"}, false},
		{"sample flipped byte", []string{"sample", "--checkpoint", flipped}, 1, []string{"checksum mismatch"}, false},
		{"sample config.json", []string{"sample", "--checkpoint", notST}, 1, []string{notST, "corrupt safetensors file"}, false},
		{"sample a PNG", []string{"sample", "--checkpoint", png}, 1, []string{png, "corrupt safetensors file"}, false},
		{"sample foreign safetensors", []string{"sample", "--checkpoint", foreign}, 1, []string{foreign, "not a wakesleep training checkpoint"}, false},
		{"sample garbage config metadata", []string{"sample", "--checkpoint", badMeta}, 1, []string{badMeta, "checkpoint config"}, false},
		{"sample negative step", []string{"sample", "--checkpoint", badStep}, 1, []string{badStep, "is not a step count"}, false},
		{"sample NaN weights", []string{"sample", "--checkpoint", nanCkpt}, 1, []string{nanCkpt, "NaN or infinite"}, false},
		{"sample unwritable output", []string{"sample", "--checkpoint", ckpt, "--out", filepath.Join(aFile, "x.png")}, 1, []string{"x.png"}, false},
		{"reconstruct missing data", []string{"reconstruct", "--checkpoint", ckpt, "--data", noData}, 1, []string{"neither"}, false},
		{"reconstruct truncated data", []string{"reconstruct", "--checkpoint", ckpt, "--data", truncRaw}, 1, []string{"t10k-images-idx3-ubyte", "truncated"}, false},
		{"eval corrupt checkpoint", []string{"eval", "--checkpoint", truncated, "--data", data}, 1, []string{truncated, "truncated"}, false},
		{"eval missing classifier", []string{"eval", "--checkpoint", ckpt, "--classifier", missingCkpt}, 1, []string{missingCkpt}, false},
		{"eval corrupt classifier", []string{"eval", "--checkpoint", ckpt, "--classifier", truncated}, 1, []string{truncated}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(tc.args...)
			t.Logf("exit %d: %s", code, strings.TrimSpace(stderr))
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			msg := lines[len(lines)-1]
			wantLines := 1
			if code == 2 {
				wantLines = 2
				msg = lines[max(0, len(lines)-2)]
				if hint := lines[len(lines)-1]; !strings.HasPrefix(hint, "Run 'wakesleep ") {
					t.Errorf("usage hint line is %q", hint)
				}
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
				t.Errorf("stderr shows a panic:\n%s", stderr)
			}
			if !tc.trains && len(lines) != wantLines {
				t.Errorf("stderr has %d lines, want %d:\n%s", len(lines), wantLines, stderr)
			}
			if !strings.HasPrefix(msg, "wakesleep") {
				t.Errorf("message %q does not start with the command", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
		})
	}
	// Refused runs leave nothing behind: the same folder works once the
	// mistake is fixed.
	for _, r := range []string{"r1", "r2", "nowhere"} {
		if _, err := os.Stat(path(r)); !os.IsNotExist(err) {
			t.Errorf("a refused run created %s (%v)", r, err)
		}
	}
	// The overflowing run wrote no checkpoint.
	if _, _, err := checkpoint.Latest(path("r3"), train.CheckpointPrefix); err == nil {
		t.Error("the run that went non-finite wrote a checkpoint")
	}
}

// A run folder whose newest checkpoint is corrupt still gives samples, from
// the newest good one, with a warning on stderr.
func TestSampleFallsBackPastCorruptCheckpoint(t *testing.T) {
	_, run := goodRun()
	dir := t.TempDir()
	ents, err := os.ReadDir(run)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			write(t, filepath.Join(dir, e.Name()), read(t, filepath.Join(run, e.Name())))
		}
	}
	newest := latestCkpt(t, dir)
	b := read(t, newest)
	write(t, newest, b[:len(b)-100])
	out := filepath.Join(t.TempDir(), "s.png")
	code, stdout, stderr := runCLI("sample", "--checkpoint", dir, "--n", "4", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(stderr, "warning: ") || !strings.Contains(stderr, filepath.Base(newest)) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr should be one warning naming %s:\n%s", newest, stderr)
	}
	if !strings.Contains(stdout, "ckpt-00000001.safetensors (step 1)") {
		t.Errorf("stdout: %s", stdout)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
}

// -h prints the usage, once, and exits 0.
func TestHelpFlag(t *testing.T) {
	code, _, stderr := runCLI("train", "-h")
	if code != 0 || strings.Count(stderr, "Usage: wakesleep train") != 1 || !strings.Contains(stderr, "-critic-width int") {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
}
