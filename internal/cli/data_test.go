package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCorruptCompressedData trains on compressed data whose gzip trailer
// is wrong, for every experiment and every compressed input it reads (IDX
// .gz of the MNIST-shaped experiments, a CIFAR-10 .tar.gz): each fails on
// one line naming the checksum, and leaves no run folder behind, so that the
// same --run can be used once the data are fixed.
func TestCorruptCompressedData(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	// MNIST folder whose training images' gzip CRC is wrong.
	idxDir := filepath.Join(tmp, "idx")
	os.Mkdir(idxDir, 0o755)
	if err := writeMNISTDir(idxDir, 32, 28, 28); err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(idxDir, "train-images-idx3-ubyte.gz")
	b := read(t, gz)
	b[len(b)-6] ^= 0xff
	write(t, gz, b)
	// CIFAR-10 binary batches in a .tar.gz with a wrong CRC.
	batches := t.TempDir()
	writeFakeBatches(t, batches, 4)
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	ents, _ := os.ReadDir(batches)
	for _, e := range ents {
		data := read(t, filepath.Join(batches, e.Name()))
		tw.WriteHeader(&tar.Header{Name: "cifar-10-batches-bin/" + e.Name(), Size: int64(len(data)), Mode: 0o644, Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	tw.Close()
	zw.Close()
	tb := tgz.Bytes()
	tb[len(tb)-6] ^= 0xff
	archive := filepath.Join(tmp, "cifar.tar.gz")
	write(t, archive, tb)

	for _, tc := range []struct{ ex, data string }{
		{"mnist", idxDir}, {"fashionmnist", idxDir}, {"movingmnist", idxDir}, {"cifar10", archive},
	} {
		run := filepath.Join(tmp, "run-"+tc.ex)
		code, _, stderr := runCLI("train", tc.ex, "--data", tc.data, "--run", run)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if last := lines[len(lines)-1]; code != 1 || !strings.HasPrefix(last, "wakesleep train: ") || !strings.Contains(last, "checksum") {
			t.Errorf("%s: exit %d, stderr %q; want 1 and an error line naming the checksum", tc.ex, code, stderr)
		}
		if _, err := os.Stat(run); !os.IsNotExist(err) {
			t.Errorf("%s: a run folder was left (%v)", tc.ex, err)
		}
	}
}
