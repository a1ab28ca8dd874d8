package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/tensor"
)

var (
	update = flag.Bool("update", false, "rewrite testdata/golden.safetensors and the fuzz seed corpus")
	torch  = flag.Bool("torch", false, "run scripts/read_safetensors.py (PyTorch) on testdata/golden.safetensors")
)

func sampleFile() *File {
	rng := rand.New(rand.NewPCG(7, 8))
	w := tensor.New(tensor.Float32, 3, 5)
	for i := range w.Len() {
		w.SetAt(i, rng.NormFloat64())
	}
	b := tensor.New(tensor.Float64, 5)
	for i := range b.Len() {
		b.SetAt(i, rng.NormFloat64())
	}
	state, _ := rand.NewPCG(1, 2).MarshalBinary()
	return &File{
		Tensors: map[string]*tensor.Tensor{
			"enc.w":  w,
			"enc.b":  b,
			"scalar": tensor.Scalar(tensor.Float32, math.Pi),
			"empty":  tensor.New(tensor.Float64, 0, 4),
		},
		Bytes:  map[string][]byte{"rng": state},
		Int64s: map[string][]int64{"counts": {-1, 0, 1 << 40}},
		Meta:   map[string]string{"step": "1200", "config": `{"lr":0.0001}`},
	}
}

// goldenFile is small and hand-valued, so the committed bytes are readable.
func goldenFile() *File {
	return &File{
		Tensors: map[string]*tensor.Tensor{
			"w":     tensor.FromFloat32([]float32{1, -2, 0.5, 3.25, 0, -0.125}, 2, 3),
			"b":     tensor.FromFloat64([]float64{0.1, -1e300}, 2),
			"s":     tensor.Scalar(tensor.Float32, 7),
			"empty": tensor.New(tensor.Float32, 0, 3),
		},
		Bytes:  map[string][]byte{"rng": {0, 1, 2, 254, 255}},
		Int64s: map[string][]int64{"steps": {-3, 1 << 40}},
		Meta:   map[string]string{"step": "42", "note": "golden"},
	}
}

func equalFiles(t *testing.T, got, want *File) {
	t.Helper()
	if len(got.Tensors) != len(want.Tensors) || len(got.Bytes) != len(want.Bytes) || len(got.Int64s) != len(want.Int64s) {
		t.Fatalf("entry counts differ: got %d/%d/%d", len(got.Tensors), len(got.Bytes), len(got.Int64s))
	}
	for name, w := range want.Tensors {
		g := got.Tensors[name]
		if g == nil || g.DType() != w.DType() || !tensor.SameShape(g.Shape(), w.Shape()) {
			t.Fatalf("tensor %q: got %v, want %v", name, g, w)
		}
		for i := range w.Len() {
			if math.Float64bits(g.At(i)) != math.Float64bits(w.At(i)) {
				t.Fatalf("tensor %q element %d: %v != %v", name, i, g.At(i), w.At(i))
			}
		}
	}
	for name, w := range want.Bytes {
		if !bytes.Equal(got.Bytes[name], w) {
			t.Fatalf("bytes %q: %v != %v", name, got.Bytes[name], w)
		}
	}
	for name, w := range want.Int64s {
		if g := got.Int64s[name]; !slices.Equal(g, w) {
			t.Fatalf("int64s %q: %v != %v", name, g, w)
		}
	}
	if len(got.Meta) != len(want.Meta) {
		t.Fatalf("meta %v, want %v", got.Meta, want.Meta)
	}
	for k, v := range want.Meta {
		if got.Meta[k] != v {
			t.Fatalf("meta %q = %q, want %q", k, got.Meta[k], v)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ck.safetensors")
	want := sampleFile()
	if err := SaveFile(p, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	equalFiles(t, got, want)
	if _, ok := got.Meta[ChecksumKey]; ok {
		t.Error("checksum key leaked into the returned metadata")
	}
	// The RNG state restores to a generator that continues identically.
	var a, b rand.PCG
	a.UnmarshalBinary(want.Bytes["rng"])
	if err := b.UnmarshalBinary(got.Bytes["rng"]); err != nil || a.Uint64() != b.Uint64() {
		t.Errorf("rng state: %v", err)
	}

	// Save/Load: float tensors only.
	p2 := filepath.Join(dir, "ck2.safetensors")
	if err := Save(p2, want.Tensors, want.Meta); err != nil {
		t.Fatal(err)
	}
	ts, meta, err := Load(p2)
	if err != nil {
		t.Fatal(err)
	}
	equalFiles(t, &File{Tensors: ts, Meta: meta}, &File{Tensors: want.Tensors, Meta: want.Meta})
	if _, _, err := Load(p); err == nil || !strings.Contains(err.Error(), "use checkpoint.LoadFile") {
		t.Errorf("Load of a file with U8 entries: %v", err)
	}
	// Nothing but the two checkpoints is left in the directory.
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("directory holds %d entries", len(ents))
	}
	// Nil metadata and no tensors are fine.
	p3 := filepath.Join(dir, "ck3.safetensors")
	if err := Save(p3, nil, nil); err != nil {
		t.Fatal(err)
	}
	if ts, meta, err := Load(p3); err != nil || len(ts) != 0 || len(meta) != 0 {
		t.Errorf("empty: %v %v %v", ts, meta, err)
	}
}

func TestAlignment(t *testing.T) {
	data, err := Encode(sampleFile())
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(data)
	if (8+n)%8 != 0 {
		t.Errorf("data section starts at %d, not 8-aligned", 8+n)
	}
	var hdr map[string]json.RawMessage
	json.Unmarshal(data[8:8+n], &hdr)
	for name, raw := range hdr {
		var h headerEntry
		if name == "__metadata__" || json.Unmarshal(raw, &h) != nil {
			continue
		}
		if h.DataOffsets[0]%uint64(dtypeSize[h.Dtype]) != 0 {
			t.Errorf("%q (%s) at offset %d: misaligned", name, h.Dtype, h.DataOffsets[0])
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	x := tensor.New(tensor.Float32, 1)
	for _, tc := range []struct {
		name string
		f    *File
		want string
	}{
		{"empty name", &File{Tensors: map[string]*tensor.Tensor{"": x}}, "empty tensor name"},
		{"reserved", &File{Tensors: map[string]*tensor.Tensor{"__metadata__": x}}, "reserved"},
		{"twice", &File{Tensors: map[string]*tensor.Tensor{"a": x}, Bytes: map[string][]byte{"a": nil}}, `"a" used twice`},
		{"nil", &File{Tensors: map[string]*tensor.Tensor{"a": nil}}, `"a" is nil`},
	} {
		if _, err := Encode(tc.f); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	p := filepath.Join(t.TempDir(), "x.safetensors")
	if err := Save(p, map[string]*tensor.Tensor{"": x}, nil); err == nil || !strings.Contains(err.Error(), strconv.Quote(p)) {
		t.Errorf("Save error does not name the file: %v", err)
	}
	if err := Save(filepath.Join(t.TempDir(), "no", "x.safetensors"), nil, nil); err == nil {
		t.Error("missing directory: no error")
	}
}

func TestTruncated(t *testing.T) {
	dir := t.TempDir()
	data, _ := Encode(sampleFile())
	n := int(binary.LittleEndian.Uint64(data))
	for _, cut := range []int{0, 5, 8, 8 + n/2, 8 + n, 8 + n + 3, len(data) - 1} {
		p := filepath.Join(dir, "cut-"+strconv.Itoa(cut))
		os.WriteFile(p, data[:cut], 0o644)
		_, err := LoadFile(p)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), strconv.Quote(p)) || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("cut at %d: %v", cut, err)
		}
	}
}

func TestFlippedByte(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ck.safetensors")
	if err := SaveFile(p, sampleFile()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	data[len(data)-10] ^= 0x04
	os.WriteFile(p, data, 0o644)
	_, err := LoadFile(p)
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), strconv.Quote(p)) {
		t.Fatalf("got %v", err)
	}
	if Verify(p) == nil {
		t.Error("Verify passed a corrupt file")
	}
}

// craft builds a file from a literal header and data section.
func craft(header string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(out, header...), data...)
}

func TestHeaderLies(t *testing.T) {
	d8 := make([]byte, 8)
	for _, tc := range []struct {
		name, header string
		data         []byte
		want         string
	}{
		{"offsets out of range", `{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, d8, "needs data bytes [0, 16) but the data section holds 8"},
		{"overlap", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, d8, "overlap"},
		{"gap", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, d8, "gap of 4 bytes"},
		{"stray bytes", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, d8, "4 stray bytes"},
		{"bad dtype", `{"a":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}}`, d8, `unsupported dtype "BF16"`},
		{"shape vs size", `{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}`, d8, "needs 16 bytes but data_offsets [0, 8] give 8"},
		{"shape overflow", `{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, d8, "bad shape"},
		{"negative dim", `{"a":{"dtype":"U8","shape":[-8],"data_offsets":[0,8]}}`, d8, "bad shape"},
		{"backwards", `{"a":{"dtype":"U8","shape":[8],"data_offsets":[8,0]}}`, d8, "run backwards"},
		{"three offsets", `{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,4,8]}}`, d8, "must be [begin, end]"},
		{"negative offset", `{"a":{"dtype":"U8","shape":[8],"data_offsets":[-1,8]}}`, d8, `tensor "a"`},
		{"duplicate", `{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}`, d8, `"a" appears twice`},
		{"meta not strings", `{"__metadata__":{"step":3}}`, nil, "must map strings to strings"},
		{"not an object", `[1,2]`, nil, "not a JSON object"},
		{"bad json", `{"a":{"dtype":"U8",`, nil, `tensor "a": unexpected EOF`},
		{"bad json key", `{1:2}`, nil, "header JSON"},
		{"garbage after", `{}x`, nil, "garbage after the JSON object"},
		{"empty header", ``, nil, "not a JSON object"},
		{"bad checksum", `{"__metadata__":{"wakesleep.sha256":"00"}}`, nil, "checksum mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(craft(tc.header, tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrChecksum) {
				t.Errorf("%v wraps neither ErrCorrupt nor ErrChecksum", err)
			}
		})
	}
	if _, err := Decode(binary.LittleEndian.AppendUint64(nil, 1<<40)); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("huge header length: %v", err)
	}
}

func TestForeignFile(t *testing.T) {
	// As another tool would write it: no checksum, unpadded header, F32 then
	// I64 in any order, zero-size tensor, metadata null.
	var data []byte
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(1.5))
	data = binary.LittleEndian.AppendUint64(data, uint64(1<<62))
	f, err := Decode(craft(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"n":{"dtype":"I64","shape":[1,1],"data_offsets":[4,12]},"__metadata__":null}`, data))
	if err != nil {
		t.Fatal(err)
	}
	if f.Tensors["x"].At(0) != 1.5 || f.Int64s["n"][0] != 1<<62 || f.Tensors["z"].Len() != 0 || f.Meta == nil {
		t.Errorf("decoded %+v", f)
	}
}

func TestGolden(t *testing.T) {
	got, err := Encode(goldenFile())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "golden.safetensors")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode output differs from %s (run go test -update if the change is intended)", path)
	}
	f, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	equalFiles(t, f, goldenFile())
}

// TestPythonReader checks the layout with an independent reader:
// scripts/read_safetensors.py, which uses only json, struct and torch.frombuffer.
// Importing torch takes seconds, so it runs only with -torch: TestGolden pins
// the bytes it was checked against (run it again after go test -update).
func TestPythonReader(t *testing.T) {
	if !*torch {
		t.Skip("run with -torch")
	}
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		t.Skipf("%s with torch not available: %v", python, err)
	}
	out, err := exec.Command(python, "../scripts/read_safetensors.py", filepath.Join("testdata", "golden.safetensors")).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var res struct {
		Tensors map[string]struct {
			Dtype  string
			Shape  []int
			Values []float64
		}
		Metadata map[string]string
		SHA256   string `json:"sha256"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.SHA256 != "ok" || res.Metadata["step"] != "42" {
		t.Errorf("sha256 %q, metadata %v", res.SHA256, res.Metadata)
	}
	g := goldenFile()
	check := func(name, dtype string, shape []int, vals []float64) {
		r, ok := res.Tensors[name]
		if !ok || r.Dtype != dtype || !tensor.SameShape(r.Shape, shape) || len(r.Values) != len(vals) {
			t.Errorf("%s: python read %+v", name, r)
			return
		}
		for i := range vals {
			if r.Values[i] != vals[i] {
				t.Errorf("%s[%d]: python %v, want %v", name, i, r.Values[i], vals[i])
			}
		}
	}
	for name, x := range g.Tensors {
		check(name, "torch."+x.DType().String(), x.Shape(), x.Values())
	}
	check("rng", "torch.uint8", []int{5}, []float64{0, 1, 2, 254, 255})
	check("steps", "torch.int64", []int{2}, []float64{-3, 1 << 40})
}

func TestRotateLatest(t *testing.T) {
	dir := t.TempDir()
	x := map[string]*tensor.Tensor{"x": tensor.Scalar(tensor.Float32, 1)}
	for _, step := range []int{1, 2, 3, 10, 100} {
		if err := Save(filepath.Join(dir, FileName("ck", step)), x, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Unpadded names parse too; other names are left alone.
	os.WriteFile(filepath.Join(dir, "ck-9.safetensors"), nil, 0o644)
	for _, other := range []string{"ck-best.safetensors", "other-5.safetensors", "ck-7.safetensors.tmp", ".ck-00000200.safetensors.tmp-123"} {
		os.WriteFile(filepath.Join(dir, other), nil, 0o644)
	}

	path, step, err := Latest(dir, "ck")
	if err != nil || step != 100 || filepath.Base(path) != "ck-00000100.safetensors" {
		t.Fatalf("Latest: %q %d %v", path, step, err)
	}
	if err := Rotate(dir, "ck", 3); err != nil {
		t.Fatal(err)
	}
	var names []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := ".ck-00000200.safetensors.tmp-123 ck-00000010.safetensors ck-00000100.safetensors ck-7.safetensors.tmp ck-9.safetensors ck-best.safetensors other-5.safetensors"
	if strings.Join(names, " ") != want {
		t.Fatalf("after Rotate: %v\nwant %s", names, want)
	}

	// Corrupt the newest: Latest falls back to step 10 and says so.
	newest := filepath.Join(dir, FileName("ck", 100))
	data, _ := os.ReadFile(newest)
	os.WriteFile(newest, data[:len(data)-1], 0o644)
	path, step, err = Latest(dir, "ck")
	var fb *FallbackError
	if !errors.As(err, &fb) || step != 10 || path != filepath.Join(dir, FileName("ck", 10)) || fb.Path != path {
		t.Fatalf("fallback: %q %d %v", path, step, err)
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), newest) {
		t.Errorf("fallback error should describe %s: %v", newest, err)
	}

	// All corrupt (ck-9 is empty): an error listing them, no path.
	os.WriteFile(path, data[:10], 0o644)
	path, _, err = Latest(dir, "ck")
	if err == nil || path != "" || errors.As(err, &fb) || !strings.Contains(err.Error(), "all 3 are unreadable") {
		t.Fatalf("all corrupt: %q %v", path, err)
	}

	if _, _, err := Latest(t.TempDir(), "ck"); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("empty dir: %v", err)
	}
	if _, _, err := Latest(filepath.Join(dir, "missing"), "ck"); err == nil || errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("missing dir: %v", err)
	}
	if err := Rotate(dir, "ck", 0); err == nil {
		t.Error("keep=0 accepted")
	}
}

func seedCorpus() map[string][]byte {
	good, _ := Encode(goldenFile())
	flipped := bytes.Clone(good)
	flipped[len(flipped)-3] ^= 1
	return map[string][]byte{
		"golden":         good,
		"truncated":      good[:len(good)-7],
		"flipped":        flipped,
		"foreign":        craft(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, []byte{0, 0, 192, 63}),
		"overlap":        craft(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)),
		"bad_dtype":      craft(`{"a":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}}`, make([]byte, 8)),
		"huge_header":    binary.LittleEndian.AppendUint64(nil, 1<<40),
		"shape_overflow": craft(`{"a":{"dtype":"F64","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}`, nil),
	}
}

func TestSeedCorpus(t *testing.T) {
	for name, data := range seedCorpus() {
		path := filepath.Join("testdata", "fuzz", "FuzzLoad", name)
		want := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
		if *update {
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != want {
			t.Errorf("seed %s missing or stale; run go test -run TestSeedCorpus -update", path)
		}
	}
}

// FuzzLoad feeds arbitrary bytes to Decode: it must never panic, and whatever
// it accepts must survive an Encode/Decode round trip unchanged.
func FuzzLoad(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrChecksum) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		again, err := Encode(got)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := Decode(again)
		if err != nil {
			t.Fatalf("decode of re-encoded file: %v", err)
		}
		equalFiles(t, back, got)
	})
}
