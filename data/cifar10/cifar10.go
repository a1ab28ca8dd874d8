// Package cifar10 reads the CIFAR-10 images (Krizhevsky 2009, "Learning
// multiple layers of features from tiny images"; 50,000 training and 10,000
// test images of 32×32 RGB pixels in ten classes) from the forms they come in:
//
//   - the official binary batches (data_batch_1.bin … data_batch_5.bin,
//     test_batch.bin): records of one label byte then 3072 pixel bytes,
//     channel-major (1024 red, 1024 green, 1024 blue, each row-major);
//   - a folder tree split/class/*.png|*.jpg (the layout of torchvision's
//     ImageFolder), class names sorted to give the labels;
//   - a tarball (.tar, .tar.gz or .tgz) holding either of the above, read
//     directly without unpacking, such as the official cifar-10-binary.tar.gz
//     or a JPEG copy cifar10-jpeg.tar.gz.
//
// Load picks the reader from what a path holds. Every reader returns a Set
// with the pixels in the binary batches' order, [N, 3, 32, 32] bytes.
//
// Errors name the file and the problem, e.g.
//
//	read "data_batch_1.bin": truncated: 30729999 bytes is 9999 whole 3073-byte records and 3072 bytes more
//	read "data_batch_1.bin": record 17: label 12 is not below 10
//	read "train/cat/0001.png": image is 28×28, want 32×32
//	read "train/cat/0002.jpg": decode: invalid JPEG format: missing SOI marker
//
// Truncation errors wrap ErrTruncated and every other content problem
// wraps ErrFormat. The readers never panic on input.
package cifar10

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"github.com/wakesleep/wakesleep/internal/regular"
	"image"
	"image/color"
	_ "image/jpeg" // registers the JPEG decoder for image.Decode
	_ "image/png"  // registers the PNG decoder for image.Decode
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/wakesleep/wakesleep/tensor"
)

// Geometry of a CIFAR-10 image and of a binary-batch record.
const (
	Size        = 32                              // height and width in pixels
	Channels    = 3                               // red, green, blue
	ImageBytes  = Channels * Size * Size          // 3072
	RecordBytes = 1 + ImageBytes                  // label byte + pixels: 3073
	NumClasses  = 10                              // labels 0..9
	MaxRecords  = 1 << 17                         // bound on the records of one file (the official ones hold 10,000)
	maxFileSize = int64(MaxRecords) * RecordBytes // 402,784,256 bytes
)

// ClassNames are the ten CIFAR-10 classes in label order (batches.meta.txt
// of the official distribution; also their alphabetical order).
var ClassNames = [NumClasses]string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

var (
	// ErrTruncated is wrapped by errors for data that end early.
	ErrTruncated = errors.New("truncated")
	// ErrFormat is wrapped by errors for any other malformed content.
	ErrFormat = errors.New("bad cifar-10 data")
)

// Pixel scalings accepted by Batch (the same names as package mnist's).
const (
	ScaleUnit = "unit" // p/255, in [0, 1]
	ScaleSym  = "sym"  // p/127.5 − 1, in [−1, 1]
)

// Set is one split of CIFAR-10 (or any data set of 32×32 RGB images).
type Set struct {
	Images  []uint8  // [N, 3, 32, 32]: channel-major per image, as the binary batches
	Labels  []uint8  // [N], each < len(Classes)
	Classes []string // class names, by label
	N       int
}

// Image returns the 3072 bytes of image i. Panics if i is outside [0, N).
func (s *Set) Image(i int) []uint8 {
	if i < 0 || i >= s.N {
		panic(fmt.Sprintf("cifar10: image %d outside [0, %d)", i, s.N))
	}
	return s.Images[i*ImageBytes : (i+1)*ImageBytes]
}

// ValidateScale returns an error unless s is ScaleUnit or ScaleSym.
func ValidateScale(s string) error {
	if s != ScaleUnit && s != ScaleSym {
		return fmt.Errorf("unknown pixel scaling %q (want %q or %q)", s, ScaleUnit, ScaleSym)
	}
	return nil
}

// Batch returns the images idx as a tensor [len(idx), 3, 32, 32] of type
// dt, pixel p scaled to p/255 (ScaleUnit) or p/127.5 − 1 (ScaleSym).
// Panics on an unknown scale or an index outside [0, N).
func (s *Set) Batch(idx []int, dt tensor.DType, scale string) *tensor.Tensor {
	if err := ValidateScale(scale); err != nil {
		panic("cifar10: " + err.Error())
	}
	var lut [256]float64
	for p := range lut {
		if scale == ScaleUnit {
			lut[p] = float64(p) / 255
		} else {
			lut[p] = float64(p)/127.5 - 1
		}
	}
	out := tensor.New(dt, len(idx), Channels, Size, Size)
	for b, i := range idx {
		src := s.Image(i)
		if dt == tensor.Float32 {
			dst := out.Float32s()[b*ImageBytes : (b+1)*ImageBytes]
			for j, p := range src {
				dst[j] = float32(lut[p])
			}
			continue
		}
		dst := out.Float64s()[b*ImageBytes : (b+1)*ImageBytes]
		for j, p := range src {
			dst[j] = lut[p]
		}
	}
	return out
}

// Head returns a Set of the first n images (all if n ≤ 0 or n ≥ N),
// sharing storage with s.
func (s *Set) Head(n int) *Set {
	if n <= 0 || n >= s.N {
		return s
	}
	return &Set{Images: s.Images[:n*ImageBytes], Labels: s.Labels[:n], Classes: s.Classes, N: n}
}

// Spread returns n indices evenly spaced over 0 … total−1 (i·total/n for
// i < n), so that a subset of a set sorted by class (an image tree) holds
// every class; all total indices if n ≤ 0 or n ≥ total.
func Spread(total, n int) []int {
	if n <= 0 || n > total {
		n = total
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i * total / n
	}
	return idx
}

// Spread returns a copy of the n images of s at Spread(s.N, n).
func (s *Set) Spread(n int) *Set {
	idx := Spread(s.N, n)
	out := &Set{Images: make([]uint8, 0, len(idx)*ImageBytes), Labels: make([]uint8, len(idx)), Classes: s.Classes, N: len(idx)}
	for i, j := range idx {
		out.Images = append(out.Images, s.Image(j)...)
		out.Labels[i] = s.Labels[j]
	}
	return out
}

func classNames() []string { return append([]string(nil), ClassNames[:]...) }

// ReadBinaryBatch reads one official binary batch: records of a label byte
// (0..9) then 3072 pixel bytes. The stream must hold a whole, positive
// number of records, at most MaxRecords.
func ReadBinaryBatch(r io.Reader) (*Set, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return decodeBinary(data)
}

// ReadBinaryBatchFile is ReadBinaryBatch on the file at path; errors name it.
func ReadBinaryBatchFile(path string) (*Set, error) {
	f, err := regular.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := ReadBinaryBatch(f)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", path, err)
	}
	return s, nil
}

func decodeBinary(data []byte) (*Set, error) {
	n := len(data) / RecordBytes
	switch rem := len(data) % RecordBytes; {
	case len(data) == 0:
		return nil, fmt.Errorf("%w: empty: want whole %d-byte records", ErrTruncated, RecordBytes)
	case int64(len(data)) > maxFileSize:
		return nil, fmt.Errorf("%w: more than %d records", ErrFormat, MaxRecords)
	case rem != 0 && len(data)%(RecordBytes+1) == 0:
		// CIFAR-100's records carry two label bytes (coarse, fine).
		return nil, fmt.Errorf("%w: wrong record size: %d bytes is %d records of %d bytes (CIFAR-100?), not of %d",
			ErrFormat, len(data), len(data)/(RecordBytes+1), RecordBytes+1, RecordBytes)
	case rem != 0:
		return nil, fmt.Errorf("%w: %d bytes is %d whole %d-byte records and %d bytes more",
			ErrTruncated, len(data), n, RecordBytes, rem)
	}
	s := &Set{Images: make([]uint8, n*ImageBytes), Labels: make([]uint8, n), Classes: classNames(), N: n}
	for i := 0; i < n; i++ {
		rec := data[i*RecordBytes : (i+1)*RecordBytes]
		if rec[0] >= NumClasses {
			return nil, fmt.Errorf("%w: record %d: label %d is not below %d", ErrFormat, i, rec[0], NumClasses)
		}
		s.Labels[i] = rec[0]
		copy(s.Images[i*ImageBytes:], rec[1:])
	}
	return s, nil
}

// Binary batch file names of the official distribution, by split.
func batchNames(split string) ([]string, error) {
	switch split {
	case "train":
		return []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}, nil
	case "test":
		return []string{"test_batch.bin"}, nil
	}
	return nil, fmt.Errorf("cifar10: unknown split %q (want \"train\" or \"test\")", split)
}

// LoadBinaryDir reads a split from the official binary batches in dir
// ("train": data_batch_1.bin … data_batch_5.bin, "test": test_batch.bin).
func LoadBinaryDir(dir, split string) (*Set, error) {
	names, err := batchNames(split)
	if err != nil {
		return nil, err
	}
	var parts []*Set
	for _, name := range names {
		s, err := ReadBinaryBatchFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		parts = append(parts, s)
	}
	return concat(parts), nil
}

func concat(parts []*Set) *Set {
	if len(parts) == 1 {
		return parts[0]
	}
	out := &Set{Classes: classNames()}
	for _, p := range parts {
		out.Images = append(out.Images, p.Images...)
		out.Labels = append(out.Labels, p.Labels...)
		out.N += p.N
	}
	return out
}

// imageExt reports whether name is a PNG or JPEG file by its extension.
func imageExt(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

// decodeImage decodes a 32×32 PNG or JPEG into dst (3072 bytes,
// channel-major). Gray and paletted images are expanded to RGB; alpha is
// ignored.
func decodeImage(data []byte, dst []uint8) error {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%w: decode: %v", ErrFormat, err)
	}
	if cfg.Width != Size || cfg.Height != Size {
		return fmt.Errorf("%w: image is %d×%d, want %d×%d", ErrFormat, cfg.Width, cfg.Height, Size, Size)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%w: decode: %v", ErrFormat, err)
	}
	b := img.Bounds()
	const plane = Size * Size
	for y := 0; y < Size; y++ {
		for x := 0; x < Size; x++ {
			var r, g, bl uint8
			switch m := img.(type) {
			case *image.YCbCr: // JPEG: convert exactly as image/color does, without allocating
				yi, ci := m.YOffset(b.Min.X+x, b.Min.Y+y), m.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			case *image.Gray:
				v := m.Pix[m.PixOffset(b.Min.X+x, b.Min.Y+y)]
				r, g, bl = v, v, v
			default:
				c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				r, g, bl = c.R, c.G, c.B
			}
			p := y*Size + x
			dst[p], dst[plane+p], dst[2*plane+p] = r, g, bl
		}
	}
	return nil
}

// folderBuilder collects the images of one split of a folder tree, keyed by
// path so that the order does not depend on how they were listed.
type folderBuilder struct {
	files map[string][]byte // "class/name" → encoded image
	paths map[string]string // "class/name" → the file's path, for messages
}

func newFolderBuilder() *folderBuilder {
	return &folderBuilder{files: map[string][]byte{}, paths: map[string]string{}}
}

func (fb *folderBuilder) add(key, path string, data []byte) {
	fb.files[key] = data
	fb.paths[key] = path
}

// build decodes every image, classes sorted by name (labels 0, 1, …) and
// images by file name within a class. where names the split for messages.
func (fb *folderBuilder) build(where string) (*Set, error) {
	if len(fb.files) == 0 {
		return nil, fmt.Errorf("%s: %w: no PNG or JPEG images in class folders", where, ErrFormat)
	}
	keys := make([]string, 0, len(fb.files))
	classSet := map[string]bool{}
	for k := range fb.files {
		keys = append(keys, k)
		classSet[path.Dir(k)] = true
	}
	sort.Strings(keys)
	classes := make([]string, 0, len(classSet))
	for c := range classSet {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	if len(classes) > 256 {
		return nil, fmt.Errorf("%s: %w: %d class folders, at most 256", where, ErrFormat, len(classes))
	}
	label := map[string]uint8{}
	for i, c := range classes {
		label[c] = uint8(i)
	}
	s := &Set{Images: make([]uint8, len(keys)*ImageBytes), Labels: make([]uint8, len(keys)), Classes: classes, N: len(keys)}
	// Decode on every core; report the first failing file in sorted order.
	errs := make([]error, len(keys))
	workers := max(1, min(runtime.GOMAXPROCS(0), len(keys)/64))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				k := keys[i]
				errs[i] = decodeImage(fb.files[k], s.Images[i*ImageBytes:(i+1)*ImageBytes])
				s.Labels[i] = label[path.Dir(k)]
			}
		}(w*len(keys)/workers, (w+1)*len(keys)/workers)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("read %q: %w", fb.paths[keys[i]], err)
		}
	}
	return s, nil
}

// LoadFolder reads a split of a folder tree dir/split/class/*.png|*.jpg|*.jpeg.
// Classes are the sorted names of the class folders (labels 0, 1, …), so the
// ten CIFAR-10 names get their official labels. Files with other extensions
// and hidden files are skipped; every image must decode and be 32×32.
func LoadFolder(dir, split string) (*Set, error) {
	if _, err := batchNames(split); err != nil {
		return nil, err
	}
	root := filepath.Join(dir, split)
	classes, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("cifar10: %w", err)
	}
	fb := newFolderBuilder()
	for _, c := range classes {
		if !c.IsDir() || strings.HasPrefix(c.Name(), ".") {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(root, c.Name()))
		if err != nil {
			return nil, fmt.Errorf("cifar10: %w", err)
		}
		for _, e := range ents {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") || !imageExt(e.Name()) {
				continue
			}
			p := filepath.Join(root, c.Name(), e.Name())
			b, err := regular.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("read %q: %w", p, err)
			}
			fb.add(c.Name()+"/"+e.Name(), p, b)
		}
	}
	return fb.build(fmt.Sprintf("%q", root))
}

// ReadArchive reads both splits from a tar stream, gzip-compressed or not
// (detected by the gzip magic bytes). It holds either an image tree
// [prefix/]{train,test}/class/*.png|*.jpg|*.jpeg, or the official binary
// batches [prefix/]data_batch_{1..5}.bin and test_batch.bin. name is used in
// messages.
func ReadArchive(r io.Reader, name string) (train, test *Set, err error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("read %q: %w", name, archiveError(err))
		}
		defer zr.Close()
		src = zr
	}
	tr := tar.NewReader(src)
	var zr *gzip.Reader
	if z, ok := src.(*gzip.Reader); ok {
		zr = z
	}
	folders := map[string]*folderBuilder{"train": newFolderBuilder(), "test": newFolderBuilder()}
	batches := map[string]*Set{}
	inner := func(p string) string { return name + ":" + p }
	for {
		h, err := tr.Next()
		if err == io.EOF {
			// The tar end-of-archive marker is not the end of the gzip
			// stream: read that to its end too, so that gzip checks its
			// CRC-32 and length (and finds what follows the member).
			if zr != nil {
				if _, err := io.Copy(io.Discard, zr); err != nil {
					return nil, nil, fmt.Errorf("read %q: %w", name, archiveError(err))
				}
			}
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read %q: %w", name, archiveError(err))
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		p := path.Clean(strings.TrimPrefix(h.Name, "./"))
		base := path.Base(p)
		if strings.HasPrefix(base, ".") {
			continue
		}
		if h.Size > maxFileSize {
			return nil, nil, fmt.Errorf("read %q: %w: %d bytes, more than any CIFAR-10 file", inner(p), ErrFormat, h.Size)
		}
		if strings.HasSuffix(base, ".bin") && (strings.HasPrefix(base, "data_batch_") || base == "test_batch.bin") {
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, nil, fmt.Errorf("read %q: %w", inner(p), archiveError(err))
			}
			s, err := decodeBinary(data)
			if err != nil {
				return nil, nil, fmt.Errorf("read %q: %w", inner(p), err)
			}
			batches[base] = s
			continue
		}
		if !imageExt(base) {
			continue
		}
		// …/split/class/file: the split is the third path element from the end.
		parts := strings.Split(p, "/")
		if len(parts) < 3 {
			continue
		}
		fb, ok := folders[parts[len(parts)-3]]
		if !ok {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, nil, fmt.Errorf("read %q: %w", inner(p), archiveError(err))
		}
		fb.add(strings.Join(parts[len(parts)-2:], "/"), inner(p), data)
	}
	if len(batches) > 0 {
		var out [2]*Set
		for i, split := range []string{"train", "test"} {
			names, _ := batchNames(split)
			var parts []*Set
			for _, n := range names {
				s, ok := batches[n]
				if !ok {
					return nil, nil, fmt.Errorf("read %q: %w: holds binary batches but not %s", name, ErrFormat, n)
				}
				parts = append(parts, s)
			}
			out[i] = concat(parts)
		}
		return out[0], out[1], nil
	}
	if len(folders["train"].files) == 0 && len(folders["test"].files) == 0 {
		return nil, nil, fmt.Errorf("read %q: %w: neither train/<class>/ images nor binary batches inside", name, ErrFormat)
	}
	var out [2]*Set
	for i, split := range []string{"train", "test"} {
		s, err := folders[split].build(fmt.Sprintf("read %q: split %s", name, split))
		if err != nil {
			return nil, nil, err
		}
		out[i] = s
	}
	return out[0], out[1], nil
}

// archiveError classifies a failed archive read: an early end is
// truncation, anything else (bad gzip, bad tar header) a format error.
func archiveError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: archive ends early", ErrTruncated)
	}
	return fmt.Errorf("%w: %v", ErrFormat, err)
}

// LoadArchive is ReadArchive on the file at path.
func LoadArchive(path string) (train, test *Set, err error) {
	f, err := regular.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("cifar10: %w", err)
	}
	defer f.Close()
	return ReadArchive(f, path)
}

// Load reads both splits from path, whichever form it holds:
//
//   - a file ending in .tar, .tar.gz or .tgz: ReadArchive;
//   - a folder holding data_batch_1.bin (or a cifar-10-batches-bin folder
//     that does): LoadBinaryDir;
//   - a folder holding train/ and test/ class folders: LoadFolder.
func Load(p string) (train, test *Set, err error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, nil, fmt.Errorf("cifar10: %w", err)
	}
	if !st.IsDir() {
		lower := strings.ToLower(p)
		if strings.HasSuffix(lower, ".tar") || strings.HasSuffix(lower, ".tar.gz") || strings.HasSuffix(lower, ".tgz") {
			return LoadArchive(p)
		}
		return nil, nil, fmt.Errorf("cifar10: %q is neither a folder nor a .tar, .tar.gz or .tgz archive", p)
	}
	for _, dir := range []string{p, filepath.Join(p, "cifar-10-batches-bin")} {
		if _, err := os.Stat(filepath.Join(dir, "data_batch_1.bin")); err == nil {
			if train, err = LoadBinaryDir(dir, "train"); err != nil {
				return nil, nil, err
			}
			if test, err = LoadBinaryDir(dir, "test"); err != nil {
				return nil, nil, err
			}
			return train, test, nil
		}
	}
	if st, err := os.Stat(filepath.Join(p, "train")); err == nil && st.IsDir() {
		if train, err = LoadFolder(p, "train"); err != nil {
			return nil, nil, err
		}
		if test, err = LoadFolder(p, "test"); err != nil {
			return nil, nil, err
		}
		return train, test, nil
	}
	return nil, nil, fmt.Errorf("cifar10: %q holds neither binary batches (data_batch_1.bin) nor a train/<class>/ image tree", p)
}

// DataEnv names the environment variable of a folder that holds the data
// sets (WAKESLEEP_DATA): Find looks there first.
const DataEnv = "WAKESLEEP_DATA"

// Candidates are the names Find looks for in a folder, in order: the
// official binary batches unpacked and packed, and a JPEG copy.
var Candidates = []string{"cifar-10-batches-bin", "cifar-10-binary.tar.gz", "cifar10-jpeg.tar.gz"}

// notFoundError is Find's error: a message that wraps fs.ErrNotExist
// without repeating its text.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }
func (e *notFoundError) Unwrap() error { return fs.ErrNotExist }

// Find returns where CIFAR-10 is when no path is given: in the folder
// $WAKESLEEP_DATA names, else in the current folder, one of Candidates, or
// the folder itself if it holds data_batch_1.bin. The error, one line, says
// where to put the official binary batches; it wraps fs.ErrNotExist.
func Find() (string, error) {
	var dirs []string
	if d := os.Getenv(DataEnv); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, ".")
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "data_batch_1.bin")); err == nil {
			return d, nil
		}
		for _, c := range Candidates {
			p := filepath.Join(d, c)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	where := "the current folder"
	if d := os.Getenv(DataEnv); d != "" {
		where = fmt.Sprintf("$%s (%s) and the current folder", DataEnv, d)
	}
	return "", &notFoundError{fmt.Sprintf("cifar10: no CIFAR-10 data in %s: put the official binary batches there (cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html, or the cifar-10-batches-bin folder it unpacks to), set $%s to the folder that holds them, or pass --data", where, DataEnv)}
}
