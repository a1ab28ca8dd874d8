package idx

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the committed fuzz seed corpus in testdata/fuzz")

// encode builds an IDX stream: magic, sizes, then body.
func encode(magic uint32, dims []int, body []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, magic)
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(body)
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// tinyImages is 2 images of 3×2 pixels.
var (
	tinyPixels = seq(12)
	tinyImages = encode(MagicImages, []int{2, 3, 2}, tinyPixels)
	tinyLabels = encode(MagicLabels, []int{4}, []byte{7, 2, 1, 0})
	bigImages  = encode(MagicImages, []int{100, 20, 20}, seq(40000))
)

func TestReadImagesGood(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"raw", tinyImages},
		{"gzip", gz(tinyImages)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, rows, cols, px, err := ReadImages(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if n != 2 || rows != 3 || cols != 2 || !bytes.Equal(px, tinyPixels) {
				t.Fatalf("got n=%d rows=%d cols=%d px=%v", n, rows, cols, px)
			}
		})
	}
}

func TestReadLabelsGood(t *testing.T) {
	for _, data := range [][]byte{tinyLabels, gz(tinyLabels)} {
		lab, err := ReadLabels(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(lab, []byte{7, 2, 1, 0}) {
			t.Fatalf("labels %v", lab)
		}
	}
	// Zero labels is a valid (empty) file.
	lab, err := ReadLabels(bytes.NewReader(encode(MagicLabels, []int{0}, nil)))
	if err != nil || len(lab) != 0 {
		t.Fatalf("empty: %v %v", lab, err)
	}
}

func TestReadImagesLarge(t *testing.T) {
	// Larger than readN's first chunk, so the buffer has to grow.
	px := seq(3 << 20)
	n, rows, cols, got, err := ReadImages(bytes.NewReader(gz(encode(MagicImages, []int{3, 1024, 1024}, px))))
	if err != nil || n != 3 || rows != 1024 || cols != 1024 || !bytes.Equal(got, px) {
		t.Fatalf("n=%d rows=%d cols=%d err=%v equal=%v", n, rows, cols, err, bytes.Equal(got, px))
	}
}

func TestMalformed(t *testing.T) {
	corruptGzip := gz(tinyImages)
	corruptGzip[len(corruptGzip)-6] ^= 0xff // CRC-32 in the gzip trailer
	for _, tc := range []struct {
		name   string
		labels bool
		data   []byte
		is     error
		substr string
	}{
		{"empty", false, nil, ErrTruncated, "want 4 magic-number bytes, got 0"},
		{"short magic", false, []byte{0, 0, 8}, ErrTruncated, "want 4 magic-number bytes, got 3"},
		{"labels as images", false, tinyLabels, ErrFormat, "magic number 2049 (0x00000801), want 2051 (an image file): this is a label file"},
		{"images as labels", true, tinyImages, ErrFormat, "want 2049 (a label file): this is an image file"},
		{"not idx", false, []byte("PK\x03\x04rest"), ErrFormat, "not an IDX file"},
		{"float idx", false, encode(0x0d03, []int{1, 1, 1}, []byte{0, 0, 0, 0}), ErrFormat, "element type 0x0d"},
		{"two dims", false, encode(0x0802, []int{1, 1}, []byte{0}), ErrFormat, "2 dimensions"},
		{"short dims", false, encode(MagicImages, []int{2}, nil), ErrTruncated, "want 12 dimension bytes, got 4"},
		{"zero rows", false, encode(MagicImages, []int{2, 0, 2}, nil), ErrFormat, "dimension 1 is zero"},
		{"huge", false, encode(MagicImages, []int{1 << 30, 1 << 30, 1 << 30}, nil), ErrFormat, "more than"},
		{"truncated pixels", false, tinyImages[:len(tinyImages)-5], ErrTruncated, "want 12 pixel bytes, got 7"},
		{"truncated gzip header", false, gz(tinyImages)[:20], ErrTruncated, "want 12 dimension bytes, got 5"},
		{"truncated gzip", false, gz(bigImages)[:200], ErrTruncated, "want 40000 pixel bytes, got"},
		{"truncated gzip trailer", false, gz(tinyImages)[:len(gz(tinyImages))-4], ErrTruncated, "gzip stream cut short"},
		{"truncated labels", true, tinyLabels[:len(tinyLabels)-1], ErrTruncated, "want 4 label bytes, got 3"},
		{"trailing", false, append(append([]byte{}, tinyImages...), 9), ErrFormat, "trailing bytes after 12 pixel bytes"},
		{"gzip crc", false, corruptGzip, ErrFormat, "checksum"},
		{"gzip header", false, []byte{0x1f, 0x8b, 0, 0, 0, 0, 0, 0, 0, 0}, ErrFormat, "gzip"},
		{"gzip header cut", false, []byte{0x1f, 0x8b, 8}, ErrTruncated, "gzip header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.labels {
				_, err = ReadLabels(bytes.NewReader(tc.data))
			} else {
				_, _, _, _, err = ReadImages(bytes.NewReader(tc.data))
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.substr) {
				t.Fatalf("error %q: want errors.Is %v and substring %q", err, tc.is, tc.substr)
			}
		})
	}
}

func TestFileVariants(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "img.gz")
	lab := filepath.Join(dir, "lab")
	bad := filepath.Join(dir, "bad.gz")
	os.WriteFile(img, gz(tinyImages), 0o644)
	os.WriteFile(lab, tinyLabels, 0o644)
	os.WriteFile(bad, gz(tinyImages[:len(tinyImages)-2]), 0o644)

	if n, _, _, _, err := ReadImagesFile(img); err != nil || n != 2 {
		t.Fatalf("ReadImagesFile: %d %v", n, err)
	}
	if l, err := ReadLabelsFile(lab); err != nil || len(l) != 4 {
		t.Fatalf("ReadLabelsFile: %v %v", l, err)
	}
	_, _, _, _, err := ReadImagesFile(bad)
	want := fmt.Sprintf("read %q: truncated: want 12 pixel bytes, got 10", bad)
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	if _, err := ReadLabelsFile(img); err == nil || !strings.Contains(err.Error(), strconv.Quote(img)) {
		t.Fatalf("wrong-kind error does not name the file: %v", err)
	}
	if _, err := ReadLabelsFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

// seedCorpus is committed under testdata/fuzz (go test -fuzz format) so that
// plain `go test` runs every seed and fuzzing starts from meaningful inputs.
func seedCorpus() map[string]map[string][]byte {
	return map[string]map[string][]byte{
		"FuzzReadImages": {
			"valid_raw":      tinyImages,
			"valid_gzip":     gz(tinyImages),
			"truncated":      tinyImages[:len(tinyImages)-5],
			"truncated_gzip": gz(tinyImages)[:20],
			"wrong_magic":    tinyLabels,
			"huge_dims":      encode(MagicImages, []int{60000, 28, 28}, seq(10)),
			"trailing":       append(append([]byte{}, tinyImages...), 1, 2),
		},
		"FuzzReadLabels": {
			"valid_raw":   tinyLabels,
			"valid_gzip":  gz(tinyLabels),
			"truncated":   tinyLabels[:len(tinyLabels)-2],
			"wrong_magic": tinyImages,
			"empty":       {},
		},
	}
}

func TestSeedCorpus(t *testing.T) {
	for target, seeds := range seedCorpus() {
		for name, data := range seeds {
			path := filepath.Join("testdata", "fuzz", target, name)
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
}

func FuzzReadImages(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		n, rows, cols, px, err := ReadImages(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(px) != n*rows*cols {
			t.Fatalf("%d pixels for %d×%d×%d", len(px), n, rows, cols)
		}
		// Whatever decodes must round-trip through the raw encoding.
		n2, r2, c2, px2, err := ReadImages(bytes.NewReader(encode(MagicImages, []int{n, rows, cols}, px)))
		if err != nil || n2 != n || r2 != rows || c2 != cols || !bytes.Equal(px, px2) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzReadLabels(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		lab, err := ReadLabels(bytes.NewReader(data))
		if err != nil {
			return
		}
		lab2, err := ReadLabels(bytes.NewReader(encode(MagicLabels, []int{len(lab)}, lab)))
		if err != nil || !bytes.Equal(lab, lab2) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
