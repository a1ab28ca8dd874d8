package cifar10

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/tensor"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the committed fuzz seed corpus in testdata/fuzz")

// record returns one binary-batch record: label, then pixels where pixel j
// of the image is byte(j·seed).
func record(label byte, seed int) []byte {
	r := make([]byte, RecordBytes)
	r[0] = label
	for j := 0; j < ImageBytes; j++ {
		r[1+j] = byte(j * seed)
	}
	return r
}

// batch concatenates records with labels 0, 1, … (mod 10).
func batch(n int) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, record(byte(i%NumClasses), i+1)...)
	}
	return b
}

func TestReadBinaryBatchGood(t *testing.T) {
	data := batch(3)
	s, err := ReadBinaryBatch(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 3 || len(s.Images) != 3*ImageBytes || !bytes.Equal(s.Labels, []byte{0, 1, 2}) {
		t.Fatalf("got N=%d labels=%v", s.N, s.Labels)
	}
	for i := 0; i < 3; i++ {
		if !bytes.Equal(s.Image(i), data[i*RecordBytes+1:(i+1)*RecordBytes]) {
			t.Fatalf("image %d differs from its record", i)
		}
	}
	if s.Classes[3] != "cat" {
		t.Fatalf("classes %v", s.Classes)
	}
}

func TestReadBinaryBatchMalformed(t *testing.T) {
	good := batch(2)
	badLabel := batch(3)
	badLabel[RecordBytes] = 10 // record 1's label
	cifar100 := bytes.Repeat(append([]byte{1}, record(2, 1)...), 3)
	for _, tc := range []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"empty", nil, ErrTruncated, "empty"},
		{"truncated", good[:len(good)-1], ErrTruncated, "6145 bytes is 1 whole 3073-byte records and 3072 bytes more"},
		{"one byte", good[:1], ErrTruncated, "0 whole 3073-byte records and 1 bytes more"},
		{"trailing", append(append([]byte{}, good...), 7), ErrTruncated, "2 whole 3073-byte records and 1 bytes more"},
		{"record size", cifar100, ErrFormat, "wrong record size: 9222 bytes is 3 records of 3074 bytes (CIFAR-100?), not of 3073"},
		{"label", badLabel, ErrFormat, "record 1: label 10 is not below 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadBinaryBatch(bytes.NewReader(tc.data))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestReadBinaryBatchFileNamesFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "data_batch_1.bin")
	if err := os.WriteFile(p, batch(2)[:5000], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadBinaryBatchFile(p)
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), strconv.Quote(p)) {
		t.Fatalf("error %v does not name %s", err, p)
	}
}

func writeBatches(t *testing.T, dir string, n int) {
	t.Helper()
	names := []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"}
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), batch(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadBinaryDir(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "cifar-10-batches-bin")
	os.Mkdir(sub, 0o755)
	writeBatches(t, sub, 2)
	for _, p := range []string{sub, dir} { // the batches' folder, or the folder above it
		train, test, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if train.N != 10 || test.N != 2 || train.Labels[2] != 0 || train.Labels[3] != 1 {
			t.Fatalf("%s: train %d test %d labels %v", p, train.N, test.N, train.Labels)
		}
	}
	os.Remove(filepath.Join(sub, "data_batch_4.bin"))
	if _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "data_batch_4.bin") {
		t.Fatalf("missing batch: error %v", err)
	}
}

// testImage is a 32×32 image whose pixel (x, y) is (8x, 8y, 100) in RGB.
func testImage(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.Set(x, y, color.NRGBA{uint8(8 * x), uint8(8 * y), 100, 255})
		}
	}
	return m
}

func encodePNG(m image.Image) []byte {
	var b bytes.Buffer
	png.Encode(&b, m)
	return b.Bytes()
}

func encodeJPEG(m image.Image) []byte {
	var b bytes.Buffer
	jpeg.Encode(&b, m, &jpeg.Options{Quality: 95})
	return b.Bytes()
}

// tree is a small image tree: "split/class/file" → contents.
func tree() map[string][]byte {
	p, j := encodePNG(testImage(32, 32)), encodeJPEG(testImage(32, 32))
	return map[string][]byte{
		"train/dog/0000.png": p, "train/cat/0001.jpg": j, "train/cat/0000.png": p,
		"train/cat/README.txt": []byte("not an image"),
		"test/cat/0000.jpeg":   j, "test/dog/0000.png": p,
	}
}

func writeTree(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkTree checks the sets read from tree().
func checkTree(t *testing.T, train, test *Set) {
	t.Helper()
	if train.N != 3 || test.N != 2 {
		t.Fatalf("train %d, test %d images", train.N, test.N)
	}
	// Sorted: cat/0000.png, cat/0001.jpg, dog/0000.png.
	if !bytes.Equal(train.Labels, []byte{0, 0, 1}) || strings.Join(train.Classes, ",") != "cat,dog" {
		t.Fatalf("labels %v classes %v", train.Labels, train.Classes)
	}
	// PNG is lossless: exact channel-major pixels.
	img := train.Image(0)
	for _, c := range []struct{ x, y, ch, want int }{{0, 0, 0, 0}, {3, 0, 0, 24}, {0, 5, 1, 40}, {31, 31, 2, 100}} {
		if got := int(img[c.ch*1024+c.y*32+c.x]); got != c.want {
			t.Fatalf("pixel (%d,%d) channel %d = %d, want %d", c.x, c.y, c.ch, got, c.want)
		}
	}
	// JPEG at quality 95: close.
	jp := train.Image(1)
	for i := range img {
		if d := int(jp[i]) - int(img[i]); d > 12 || d < -12 {
			t.Fatalf("JPEG pixel %d = %d, PNG %d", i, jp[i], img[i])
		}
	}
}

func TestLoadFolder(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, tree())
	train, test, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkTree(t, train, test)
}

func TestFolderMalformed(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		data       []byte
		msg        string
	}{
		{"wrong size", "train/cat/0002.png", encodePNG(testImage(28, 28)), "image is 28×28, want 32×32"},
		{"unreadable", "train/dog/0005.jpg", []byte("\xff\xd8 this is no JPEG"), "decode:"},
		{"png as jpg", "test/cat/0009.jpg", []byte("garbage"), "decode: image: unknown format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := tree()
			files[tc.file] = tc.data
			writeTree(t, dir, files)
			_, _, err := Load(dir)
			want := filepath.Join(dir, filepath.FromSlash(tc.file))
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), strconv.Quote(want)) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want one naming %s with %q", err, want, tc.msg)
			}
		})
	}
	t.Run("empty split", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string][]byte{"train/cat/0.png": encodePNG(testImage(32, 32)), "test/cat/notes.txt": nil})
		if _, _, err := Load(dir); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "no PNG or JPEG") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("nothing", func(t *testing.T) {
		if _, _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "neither binary batches") {
			t.Fatalf("error %v", err)
		}
	})
}

// tarball packs files (sorted by the map's iteration is fine: the reader
// sorts) into a tar, gzip-compressed if zip.
func tarball(files map[string][]byte, zip bool) []byte {
	var b bytes.Buffer
	var w *gzip.Writer
	tw := tar.NewWriter(&b)
	if zip {
		w = gzip.NewWriter(&b)
		tw = tar.NewWriter(w)
	}
	tw.WriteHeader(&tar.Header{Name: "./train/", Typeflag: tar.TypeDir, Mode: 0o755})
	for name, data := range files {
		tw.WriteHeader(&tar.Header{Name: name, Size: int64(len(data)), Mode: 0o644, Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	tw.Close()
	if zip {
		w.Close()
	}
	return b.Bytes()
}

func TestReadArchive(t *testing.T) {
	for _, zip := range []bool{false, true} {
		train, test, err := ReadArchive(bytes.NewReader(tarball(tree(), zip)), "tree.tar")
		if err != nil {
			t.Fatal(err)
		}
		checkTree(t, train, test)
	}
	// The official binary tarball: cifar-10-batches-bin/*.bin.
	files := map[string][]byte{}
	for _, n := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"} {
		files["cifar-10-batches-bin/"+n] = batch(2)
	}
	files["cifar-10-batches-bin/batches.meta.txt"] = []byte("airplane\n")
	train, test, err := ReadArchive(bytes.NewReader(tarball(files, true)), "bin.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 10 || test.N != 2 {
		t.Fatalf("binary archive: train %d test %d", train.N, test.N)
	}
	// Written to disk, Load finds it by its name.
	p := filepath.Join(t.TempDir(), "c.tar.gz")
	os.WriteFile(p, tarball(tree(), true), 0o644)
	if train, test, err = Load(p); err != nil {
		t.Fatal(err)
	}
	checkTree(t, train, test)
}

func TestArchiveMalformed(t *testing.T) {
	good := tarball(tree(), true)
	badImage := tree()
	badImage["train/cat/0003.png"] = encodePNG(testImage(32, 16))
	badBatch := map[string][]byte{"b/data_batch_1.bin": batch(2)[:100]}
	missing := map[string][]byte{"b/data_batch_1.bin": batch(1), "b/test_batch.bin": batch(1)}
	// The gzip trailer (CRC-32, then the length mod 2³²) comes after the
	// tar end-of-archive marker: each must still be checked.
	badCRC, badSize := bytes.Clone(good), bytes.Clone(good)
	badCRC[len(badCRC)-6] ^= 0xff
	badSize[len(badSize)-1] ^= 0x01
	badBin := tarball(map[string][]byte{"b/data_batch_1.bin": batch(1)}, true)
	badBin[len(badBin)-8] ^= 0x10
	for _, tc := range []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"truncated gzip", good[:len(good)/2], ErrTruncated, "archive ends early"},
		{"gzip crc", badCRC, ErrFormat, "checksum"},
		{"gzip crc, binary batches", badBin, ErrFormat, "checksum"},
		{"gzip length", badSize, ErrFormat, "checksum"},
		{"gzip trailer cut", good[:len(good)-4], ErrTruncated, "archive ends early"},
		{"garbage after gzip", append(bytes.Clone(good), "garbage after the stream"...), ErrFormat, "invalid header"},
		{"not an archive", []byte(strings.Repeat("hello world ", 100)), ErrFormat, `read "x.tgz"`},
		{"bad image", tarball(badImage, true), ErrFormat, `read "x.tgz:train/cat/0003.png": bad cifar-10 data: image is 32×16, want 32×32`},
		{"bad batch", tarball(badBatch, false), ErrTruncated, `read "x.tgz:b/data_batch_1.bin": truncated: 100 bytes`},
		{"missing batch", tarball(missing, false), ErrFormat, "holds binary batches but not data_batch_2.bin"},
		{"empty", tarball(nil, true), ErrFormat, "neither train/<class>/ images nor binary batches"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadArchive(bytes.NewReader(tc.data), "x.tgz")
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestBatch(t *testing.T) {
	s, err := ReadBinaryBatch(bytes.NewReader(batch(2)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		scale    string
		dt       tensor.DType
		lo, hi   float64
		idx, pos int
	}{{ScaleUnit, tensor.Float32, 0, 1, 1, 7}, {ScaleSym, tensor.Float64, -1, 1, 0, 3000}} {
		x := s.Batch([]int{1, 0}, tc.dt, tc.scale)
		if !tensor.SameShape(x.Shape(), []int{2, 3, 32, 32}) {
			t.Fatalf("shape %v", x.Shape())
		}
		p := float64(s.Image(tc.idx)[tc.pos])
		want := p / 255
		if tc.scale == ScaleSym {
			want = p/127.5 - 1
		}
		b := 1 - tc.idx // Batch order is {1, 0}
		if got := x.At(b*ImageBytes + tc.pos); got-want > 1e-6 || want-got > 1e-6 {
			t.Fatalf("%s: pixel %g, want %g", tc.scale, got, want)
		}
	}
}

// sharedArchive is where the project's shared data folder keeps a JPEG copy
// of CIFAR-10, relative to the repository root.
const sharedArchive = "../shared/data/cifar10-jpeg.tar.gz"

// findShared returns the path of the shared JPEG archive, looking in the
// working folder and its parents.
func findShared() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, sharedArchive)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s not found from the working folder or its parents", sharedArchive)
		}
		dir = parent
	}
}

// TestFind finds the data in $WAKESLEEP_DATA, else the current folder, and
// otherwise says, on one line, where to put them.
func TestFind(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv(DataEnv, "")
	if _, err := Find(); err == nil || !errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "cifar-10-binary.tar.gz") {
		t.Errorf("no data: %v", err)
	}
	env := filepath.Join(dir, "env")
	for _, d := range []string{filepath.Join(env, "cifar-10-batches-bin"), filepath.Join(dir, "cifar-10-batches-bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := Find(); err != nil || p != "cifar-10-batches-bin" {
		t.Errorf("in the current folder: %q, %v", p, err)
	}
	t.Setenv(DataEnv, env)
	if p, err := Find(); err != nil || p != filepath.Join(env, "cifar-10-batches-bin") {
		t.Errorf("in $%s: %q, %v", DataEnv, p, err)
	}
}

// TestSharedArchive reads the project's JPEG copy of CIFAR-10 directly from
// its tarball, where the project keeps one.
func TestSharedArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 60,000 JPEGs")
	}
	p, err := findShared()
	if err != nil {
		t.Skip(err)
	}
	train, test, err := LoadArchive(p)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 50000 || test.N != 10000 {
		t.Fatalf("train %d, test %d images", train.N, test.N)
	}
	for i, c := range train.Classes {
		if c != ClassNames[i] {
			t.Fatalf("classes %v, want %v", train.Classes, ClassNames)
		}
	}
	var count [NumClasses]int
	for _, l := range test.Labels {
		count[l]++
	}
	for c, n := range count {
		if n != 1000 {
			t.Fatalf("class %d has %d test images", c, n)
		}
	}
	// Natural images: the mean pixel is mid-gray and the set is not constant.
	var sum float64
	for _, p := range test.Images {
		sum += float64(p)
	}
	if m := sum / float64(len(test.Images)); m < 90 || m > 150 {
		t.Fatalf("mean test pixel %g", m)
	}
}

// seedCorpus is the committed seed corpus of FuzzReadBinaryBatch.
func seedCorpus() map[string][]byte {
	badLabel := batch(2)
	badLabel[RecordBytes] = 200
	return map[string][]byte{
		"valid_one":   batch(1),
		"valid_two":   batch(2),
		"empty":       {},
		"truncated":   batch(2)[:RecordBytes+17],
		"bad_label":   badLabel,
		"cifar100":    bytes.Repeat([]byte{3}, 2*(RecordBytes+1)),
		"one_byte":    {9},
		"label_only":  {3},
		"trailing":    append(batch(1), 0),
		"all_max_255": bytes.Repeat([]byte{255}, RecordBytes),
	}
}

func TestSeedCorpus(t *testing.T) {
	for name, data := range seedCorpus() {
		path := filepath.Join("testdata", "fuzz", "FuzzReadBinaryBatch", name)
		want := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
		if *updateCorpus {
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("seed %s is missing or stale; run go test -run TestSeedCorpus -update-corpus", path)
		}
	}
}

// FuzzReadBinaryBatch: no input panics; whatever decodes holds whole
// records with labels below 10, and re-encodes to the same bytes.
func FuzzReadBinaryBatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadBinaryBatch(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrFormat) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if s.N*RecordBytes != len(data) || len(s.Labels) != s.N || len(s.Images) != s.N*ImageBytes {
			t.Fatalf("%d records from %d bytes", s.N, len(data))
		}
		var re []byte
		for i := 0; i < s.N; i++ {
			if s.Labels[i] >= NumClasses {
				t.Fatalf("label %d", s.Labels[i])
			}
			re = append(append(re, s.Labels[i]), s.Image(i)...)
		}
		if !bytes.Equal(re, data) {
			t.Fatal("round trip differs")
		}
	})
}

// Spread covers every class of a set sorted by class (an image tree), and
// takes the whole set as it is.
func TestSpreadCoversEveryClass(t *testing.T) {
	const n, used = 50000, 5000 // 10 classes of 5,000, sorted by class
	seen := map[int]int{}
	for _, j := range Spread(n, used) {
		if j < 0 || j >= n {
			t.Fatalf("index %d outside the set", j)
		}
		seen[j/5000]++
	}
	for c := 0; c < 10; c++ {
		if seen[c] != 500 {
			t.Errorf("class %d: %d of the 5,000 images, want 500", c, seen[c])
		}
	}
	for _, m := range []int{0, n, n + 1} {
		if got := Spread(n, m); len(got) != n || got[3] != 3 || got[n-1] != n-1 {
			t.Errorf("Spread(%d, %d) must be every index in order", n, m)
		}
	}
	s := &Set{Images: make([]uint8, 4*ImageBytes), Labels: []uint8{0, 0, 1, 1}, Classes: []string{"a", "b"}, N: 4}
	s.Images[2*ImageBytes] = 7
	if sub := s.Spread(2); sub.N != 2 || sub.Labels[1] != 1 || sub.Image(1)[0] != 7 {
		t.Errorf("Set.Spread(2) = labels %v, first pixel of image 1 %d", sub.Labels, sub.Image(1)[0])
	}
}
