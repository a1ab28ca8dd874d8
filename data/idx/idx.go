// Package idx reads the IDX files that MNIST and Fashion-MNIST ship in, either
// raw or gzip-compressed (detected by the gzip magic bytes 0x1f 0x8b).
//
// An IDX file is a big-endian header followed by the raw elements:
//
//	bytes 0-1  zero
//	byte  2    element type (0x08 = unsigned byte, the only one read here)
//	byte  3    number of dimensions d
//	then       d big-endian uint32 sizes, then the elements, last axis fastest
//
// Images are magic 2051 (0x00000803: ubyte, 3 dimensions N×rows×cols) and
// labels 2049 (0x00000801: ubyte, 1 dimension N). Format: Y. LeCun and
// C. Cortes, "The MNIST database of handwritten digits".
//
// Every problem with a file (wrong magic, wrong dimension count, sizes that are
// zero or absurd, truncation, trailing bytes, a broken gzip stream) is returned
// as an error; the readers never panic on input. Errors from the path variants
// name the file, e.g.
//
//	read "train-images-idx3-ubyte.gz": truncated: want 47040000 pixel bytes, got 1234
//
// Truncation errors wrap ErrTruncated and header problems wrap ErrFormat.
package idx

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/wakesleep/wakesleep/internal/regular"
	"io"
)

// Magic numbers of the two IDX kinds read here.
const (
	MagicImages = 2051 // 0x00000803: unsigned bytes, 3 dimensions
	MagicLabels = 2049 // 0x00000801: unsigned bytes, 1 dimension
)

// MaxElements bounds the element count a header may declare (2 GiB), so that a
// corrupt header cannot ask for an absurd allocation. MNIST's largest file
// holds 47,040,000 bytes.
const MaxElements = 1 << 31

var (
	// ErrTruncated is wrapped by errors for files that end early.
	ErrTruncated = errors.New("truncated")
	// ErrFormat is wrapped by errors for malformed headers and trailing bytes.
	ErrFormat = errors.New("bad idx file")
)

// ReadImages reads an image file (magic 2051) from r and returns the number of
// images, their height and width, and the pixels, n*rows*cols bytes in
// row-major [n, rows, cols] order.
func ReadImages(r io.Reader) (n, rows, cols int, pixels []uint8, err error) {
	dims, data, err := read(r, MagicImages, "pixel")
	if err != nil {
		return 0, 0, 0, nil, fmt.Errorf("idx: %w", err)
	}
	return dims[0], dims[1], dims[2], data, nil
}

// ReadLabels reads a label file (magic 2049) from r.
func ReadLabels(r io.Reader) ([]uint8, error) {
	_, data, err := read(r, MagicLabels, "label")
	if err != nil {
		return nil, fmt.Errorf("idx: %w", err)
	}
	return data, nil
}

// ReadImagesFile is ReadImages on the file at path; errors name the file.
func ReadImagesFile(path string) (n, rows, cols int, pixels []uint8, err error) {
	f, err := regular.Open(path)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	defer f.Close()
	dims, data, err := read(f, MagicImages, "pixel")
	if err != nil {
		return 0, 0, 0, nil, fmt.Errorf("read %q: %w", path, err)
	}
	return dims[0], dims[1], dims[2], data, nil
}

// ReadLabelsFile is ReadLabels on the file at path; errors name the file.
func ReadLabelsFile(path string) ([]uint8, error) {
	f, err := regular.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	_, data, err := read(f, MagicLabels, "label")
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", path, err)
	}
	return data, nil
}

// read decodes one IDX stream of unsigned bytes with the given magic number.
// what names the elements in messages ("pixel", "label").
func read(r io.Reader, magic uint32, what string) (dims []int, data []uint8, err error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, nil, fmt.Errorf("%w: gzip header cut short", ErrTruncated)
			}
			return nil, nil, fmt.Errorf("%w: gzip: %v", ErrFormat, err)
		}
		defer zr.Close()
		src = zr
	}

	var m [4]byte
	if k, err := io.ReadFull(src, m[:]); err != nil {
		return nil, nil, shortRead(err, "magic-number", 4, k)
	}
	got := binary.BigEndian.Uint32(m[:])
	if got != magic {
		return nil, nil, badMagic(got, magic)
	}
	nd := int(m[3])
	hdr := make([]byte, 4*nd)
	if k, err := io.ReadFull(src, hdr); err != nil {
		return nil, nil, shortRead(err, "dimension", len(hdr), k)
	}
	dims = make([]int, nd)
	total := 1
	for i := range dims {
		d := int(binary.BigEndian.Uint32(hdr[4*i:]))
		dims[i] = d
		if d == 0 && i > 0 {
			return nil, nil, fmt.Errorf("%w: dimension %d is zero (sizes %v)", ErrFormat, i, dims[:i+1])
		}
		if d > MaxElements || total*d > MaxElements {
			return nil, nil, fmt.Errorf("%w: sizes %v declare more than %d elements", ErrFormat, dims[:i+1], MaxElements)
		}
		total *= d
	}

	data, err = readN(src, total)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			if len(data) == total { // all data there, gzip trailer missing
				return nil, nil, fmt.Errorf("%w: gzip stream cut short after the %d %s bytes", ErrTruncated, total, what)
			}
			return nil, nil, fmt.Errorf("%w: want %d %s bytes, got %d", ErrTruncated, total, what, len(data))
		}
		return nil, nil, ioError(err, what+" bytes")
	}
	// One more read: finds trailing garbage, and makes gzip verify its checksum.
	var one [1]byte
	k, err := io.ReadFull(src, one[:])
	switch {
	case k > 0:
		return nil, nil, fmt.Errorf("%w: trailing bytes after %d %s bytes (sizes %v)", ErrFormat, total, what, dims)
	case errors.Is(err, io.EOF):
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, nil, fmt.Errorf("%w: gzip stream cut short after the %d %s bytes", ErrTruncated, total, what)
	default:
		return nil, nil, ioError(err, fmt.Sprintf("after the %d %s bytes", total, what))
	}
	return dims, data, nil
}

// readN reads exactly n bytes. The buffer grows with the data actually read,
// so a header that lies about its size costs no large allocation. On error it
// returns what it read so far.
func readN(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, 1<<20))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*cap(buf), n))
			copy(grown, buf)
			buf = grown
		}
		k, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err != nil {
			if err == io.EOF && len(buf) == n {
				break
			}
			return buf, err
		}
	}
	return buf, nil
}

func shortRead(err error, what string, want, got int) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: want %d %s bytes, got %d", ErrTruncated, want, what, got)
	}
	return ioError(err, what+" bytes")
}

// ioError classifies a failed read: a corrupt gzip stream is a format error,
// anything else is passed on (wrapped) as an I/O error.
func ioError(err error, where string) error {
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) {
		return fmt.Errorf("%w: corrupt gzip stream (%s): %v", ErrFormat, where, err)
	}
	return fmt.Errorf("read %s: %w", where, err)
}

func badMagic(got, want uint32) error {
	kind := map[uint32]string{MagicImages: "an image file", MagicLabels: "a label file"}
	var detail string
	switch t := (got >> 8) & 0xff; {
	case kind[got] != "":
		detail = "this is " + kind[got]
	case got>>16 != 0:
		detail = "not an IDX file"
	case t != 0x08:
		detail = fmt.Sprintf("element type 0x%02x is not unsigned byte", t)
	default:
		detail = fmt.Sprintf("%d dimensions", got&0xff)
	}
	return fmt.Errorf("%w: magic number %d (0x%08x), want %d (%s): %s", ErrFormat, got, got, want, kind[want], detail)
}
