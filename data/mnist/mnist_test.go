package mnist

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/tensor"
)

// Checksums of the embedded files, as shipped in the GoMNIST module (the
// train-images one is also given in shared/data/README.md).
var wantSHA256 = map[string]string{
	"train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
	"train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
	"t10k-images-idx3-ubyte.gz":  "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
	"t10k-labels-idx1-ubyte.gz":  "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

func TestEmbeddedChecksums(t *testing.T) {
	for name, want := range wantSHA256 {
		b, err := embedded.ReadFile("files/" + name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s: sha256 %s, want %s", name, got, want)
		}
	}
}

func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		split string
		n     int
		first []uint8 // well-known first labels of each split
	}{
		{"test", 10000, []uint8{7, 2, 1, 0, 4, 1, 4, 9, 5, 9}},
		{"train", 60000, []uint8{5, 0, 4, 1, 9, 2, 1, 3, 1, 4}},
	} {
		t.Run(tc.split, func(t *testing.T) {
			if tc.split == "train" && testing.Short() {
				t.Skip("decompressing 47 MB")
			}
			s, err := Load(tc.split)
			if err != nil {
				t.Fatal(err)
			}
			if s.N != tc.n || s.Rows != 28 || s.Cols != 28 || len(s.Images) != tc.n*784 || len(s.Labels) != tc.n {
				t.Fatalf("N=%d Rows=%d Cols=%d len(Images)=%d len(Labels)=%d", s.N, s.Rows, s.Cols, len(s.Images), len(s.Labels))
			}
			if !bytes.Equal(s.Labels[:10], tc.first) {
				t.Errorf("first labels %v, want %v", s.Labels[:10], tc.first)
			}
			var counts [NumClasses]int
			for _, l := range s.Labels {
				counts[l]++
			}
			for c, k := range counts {
				if k < tc.n/20 {
					t.Errorf("class %d has only %d items", c, k)
				}
			}
		})
	}
	if _, err := Load("validation"); err == nil || !strings.Contains(err.Error(), `unknown split "validation"`) {
		t.Errorf("bad split: %v", err)
	}
}

func TestBatch(t *testing.T) {
	s := &Set{Images: []uint8{0, 255, 51, 102, 0, 0, 0, 0}, Labels: []uint8{1, 2}, N: 2, Rows: 2, Cols: 2}
	for _, tc := range []struct {
		dt    tensor.DType
		scale string
		want  []float64
	}{
		{tensor.Float64, ScaleUnit, []float64{0, 0, 0, 0, 0, 1, 0.2, 0.4}},
		{tensor.Float32, ScaleSym, []float64{-1, -1, -1, -1, -1, 1, -0.6, -0.2}},
	} {
		b := s.Batch([]int{1, 0}, tc.dt, tc.scale)
		if b.DType() != tc.dt || !tensor.SameShape(b.Shape(), []int{2, 4}) {
			t.Fatalf("%s: %v", tc.scale, b)
		}
		for i, w := range tc.want {
			if math.Abs(b.At(i)-w) > 1e-6 {
				t.Errorf("%s %v: element %d = %v, want %v", tc.scale, tc.dt, i, b.At(i), w)
			}
		}
	}
	if ValidateScale("bits") == nil || ValidateScale(ScaleSym) != nil {
		t.Error("ValidateScale")
	}
	for _, bad := range []func(){
		func() { s.Batch([]int{2}, tensor.Float32, ScaleUnit) },
		func() { s.Batch([]int{0}, tensor.Float32, "bits") },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(r.(string), "mnist: ") {
					t.Errorf("want an mnist panic, got %v", r)
				}
			}()
			bad()
		}()
	}
}

func TestPermutation(t *testing.T) {
	p := Permutation(rand.New(rand.NewPCG(1, 2)), 1000)
	seen := make([]bool, 1000)
	fixed := 0
	for i, v := range p {
		if seen[v] {
			t.Fatalf("%d twice", v)
		}
		seen[v] = true
		if v == i {
			fixed++
		}
	}
	if fixed > 10 {
		t.Errorf("%d fixed points: not shuffled", fixed)
	}
	q := Permutation(rand.New(rand.NewPCG(1, 2)), 1000)
	for i := range p {
		if p[i] != q[i] {
			t.Fatal("same seed, different permutation")
		}
	}
	// Golden: pins the algorithm, so a checkpointed RNG state resumes the same
	// epoch order. Regenerate only on purpose.
	got := Permutation(rand.New(rand.NewPCG(42, 0)), 10)
	want := []int{6, 2, 5, 3, 4, 7, 0, 1, 9, 8} // from this implementation, go1.26
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Permutation(PCG(42,0), 10) = %v, want %v", got, want)
		}
	}
	if len(Permutation(rand.New(rand.NewPCG(1, 1)), 0)) != 0 {
		t.Error("n=0")
	}
}

// writeIDX writes a tiny IDX pair into dir; gzip selects the .gz names.
func writeIDX(t *testing.T, dir, prefix string, n int, labels []uint8, gz bool) {
	t.Helper()
	enc := func(magic uint32, dims []int, body []byte) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.BigEndian, magic)
		for _, d := range dims {
			binary.Write(&b, binary.BigEndian, uint32(d))
		}
		b.Write(body)
		if !gz {
			return b.Bytes()
		}
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		w.Write(b.Bytes())
		w.Close()
		return z.Bytes()
	}
	ext := ""
	if gz {
		ext = ".gz"
	}
	px := make([]byte, n*28*28)
	for i := range px {
		px[i] = byte(i)
	}
	os.WriteFile(filepath.Join(dir, prefix+"-images-idx3-ubyte"+ext), enc(2051, []int{n, 28, 28}, px), 0o644)
	os.WriteFile(filepath.Join(dir, prefix+"-labels-idx1-ubyte"+ext), enc(2049, []int{len(labels)}, labels), 0o644)
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	writeIDX(t, dir, "train", 3, []uint8{1, 2, 3}, true)
	writeIDX(t, dir, "t10k", 2, []uint8{4, 5}, false)
	s, err := LoadDir(dir, "train")
	if err != nil || s.N != 3 || s.Labels[2] != 3 || s.Images[5] != 5 {
		t.Fatalf("train: %+v %v", s, err)
	}
	if s, err = LoadDir(dir, "test"); err != nil || s.N != 2 {
		t.Fatalf("test: %v", err)
	}

	bad := t.TempDir()
	writeIDX(t, bad, "train", 3, []uint8{1, 2}, true)
	if _, err := LoadDir(bad, "train"); err == nil || !strings.Contains(err.Error(), "holds 2 labels but") {
		t.Errorf("count mismatch: %v", err)
	}
	writeIDX(t, bad, "train", 2, []uint8{1, 12}, true)
	if _, err := LoadDir(bad, "train"); err == nil || !strings.Contains(err.Error(), "label 12 of item 1") {
		t.Errorf("label range: %v", err)
	}
	if _, err := LoadDir(bad, "test"); err == nil || !strings.Contains(err.Error(), "neither t10k-images-idx3-ubyte.gz nor t10k-images-idx3-ubyte") {
		t.Errorf("missing: %v", err)
	}
	// A truncated file: the error names it.
	p := filepath.Join(bad, "train-images-idx3-ubyte.gz")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)/2], 0o644)
	if _, err := LoadDir(bad, "train"); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated: %v", err)
	}
}

func TestLoadFashion(t *testing.T) {
	_, err := loadFashionFrom(filepath.Join(t.TempDir(), "nope"), "test")
	if err == nil || !strings.Contains(err.Error(), "apt-get install dataset-fashion-mnist") {
		t.Errorf("missing package: %v", err)
	}
	if _, err := os.Stat(FashionDir); err != nil {
		t.Skip("dataset-fashion-mnist not installed")
	}
	s, err := LoadFashion("test")
	if err != nil {
		t.Fatal(err)
	}
	want := []uint8{9, 2, 1, 1, 6, 1, 4, 6, 5, 7} // ankle boot, pullover, trouser, ...
	if s.N != 10000 || s.Rows != 28 || !bytes.Equal(s.Labels[:10], want) {
		t.Errorf("N=%d Rows=%d first labels %v, want %v", s.N, s.Rows, s.Labels[:10], want)
	}
}
