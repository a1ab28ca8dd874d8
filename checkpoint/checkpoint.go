// Package checkpoint saves and loads named tensors in the safetensors format
// (https://huggingface.co/docs/safetensors), written from scratch here:
//
//	8 bytes    N, little-endian uint64: length of the header
//	N bytes    JSON header: {"<name>": {"dtype": "F32", "shape": [2, 3],
//	           "data_offsets": [begin, end]}, ..., "__metadata__": {"k": "v"}}
//	the rest   the data section: each tensor's raw little-endian row-major
//	           bytes at [begin, end) relative to the start of this section
//
// Files written here pad the header with spaces to a multiple of 8 bytes and
// order the data by element size (8-byte types first) and then by name, so
// every tensor is aligned for zero-copy readers. The data types are F32 and
// F64 (for *tensor.Tensor), U8 (raw bytes, e.g. a marshalled RNG state) and
// I64. Save adds metadata key ChecksumKey, the hex SHA-256 of the data section.
//
// Reading is strict, like the reference Rust implementation: the header must
// be a JSON object, names unique, every dtype known, every tensor's byte range
// exactly the size its shape implies, and the ranges must tile the data
// section with no gap, overlap or trailing bytes. A file carrying ChecksumKey
// must match it; files from other tools, without the key, are accepted
// unverified. All such failures wrap ErrCorrupt (or ErrChecksum) and name the
// file.
//
// Interoperability is checked by scripts/read_safetensors.py, through the
// reader of interop/wakesleep_torch.py, which uses only the standard library
// and torch.frombuffer (PyTorch 1.13 has no safetensors package); `go test
// -run TestPythonReader -torch` runs it on testdata/golden.safetensors, whose
// bytes TestGolden pins.
//
// Keep-last-K rotation (Rotate) and resume (Latest) work on files named
// "<prefix>-<step>.safetensors" in one directory; see FileName.
package checkpoint

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/wakesleep/wakesleep/internal/regular"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strings"

	"github.com/wakesleep/wakesleep/internal/atomicfile"
	"github.com/wakesleep/wakesleep/tensor"
)

// ChecksumKey is the metadata key holding the lowercase hex SHA-256 of the
// data section. Save sets it; Load verifies it and removes it from the
// returned metadata.
const ChecksumKey = "wakesleep.sha256"

// MaxHeaderSize bounds the JSON header, as the reference implementation does
// (100 MB), so a corrupt length cannot ask for an absurd allocation.
const MaxHeaderSize = 100 << 20

var (
	// ErrCorrupt is wrapped by every error about a malformed or truncated file.
	ErrCorrupt = errors.New("corrupt safetensors file")
	// ErrChecksum is wrapped when the data section does not match ChecksumKey.
	ErrChecksum = errors.New("checksum mismatch")
)

// File is the whole content of a safetensors file. Entry names are shared by
// the three maps: a name may appear in only one of them.
type File struct {
	Tensors map[string]*tensor.Tensor // F32 and F64 entries, any shape
	Bytes   map[string][]byte         // U8 entries; written 1-D, read flattened
	Int64s  map[string][]int64        // I64 entries; written 1-D, read flattened
	Meta    map[string]string         // "__metadata__", without ChecksumKey on read
}

// Save writes tensors and meta to path atomically (temporary file in the same
// directory, fsync, rename, fsync of the directory). It is SaveFile without
// U8 or I64 entries.
func Save(path string, tensors map[string]*tensor.Tensor, meta map[string]string) error {
	return SaveFile(path, &File{Tensors: tensors, Meta: meta})
}

// Load reads and verifies a file written by Save, or any safetensors file
// whose entries are all F32 or F64. Files with U8 or I64 entries need LoadFile.
func Load(path string) (map[string]*tensor.Tensor, map[string]string, error) {
	f, err := LoadFile(path)
	if err != nil {
		return nil, nil, err
	}
	for name := range f.Bytes {
		return nil, nil, fmt.Errorf("load %q: entry %q is U8, not a float tensor: use checkpoint.LoadFile", path, name)
	}
	for name := range f.Int64s {
		return nil, nil, fmt.Errorf("load %q: entry %q is I64, not a float tensor: use checkpoint.LoadFile", path, name)
	}
	return f.Tensors, f.Meta, nil
}

// SaveFile writes f to path atomically, like Save. A math/rand/v2 PCG or
// ChaCha8 state (MarshalBinary) goes in f.Bytes and is stored as a 1-D U8
// tensor, so the file stays loadable by any safetensors reader.
func SaveFile(path string, f *File) error {
	data, err := Encode(f)
	if err != nil {
		return fmt.Errorf("save %q: %w", path, err)
	}
	return atomicfile.WriteFile(path, data, 0o644)
}

// LoadFile reads and verifies the file at path. Errors name the file.
func LoadFile(path string) (*File, error) {
	data, err := regular.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("load %q: %w", path, err)
	}
	return f, nil
}

// Verify reports whether the file at path loads and, if it carries
// ChecksumKey, matches it.
func Verify(path string) error {
	_, err := LoadFile(path)
	return err
}

// dtype descriptions: safetensors name and element size in bytes.
var dtypeSize = map[string]int{"F64": 8, "I64": 8, "F32": 4, "U8": 1}

type entry struct {
	name  string
	dtype string
	shape []int
	raw   func(dst []byte) // writes the little-endian data
	size  int              // bytes
}

type headerEntry struct {
	Dtype       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets []uint64 `json:"data_offsets"`
}

// Encode returns f in the safetensors format, with ChecksumKey added to the
// metadata. It fails on an empty or duplicate name, the reserved name
// "__metadata__", or a nil tensor.
func Encode(f *File) ([]byte, error) {
	var ents []entry
	seen := map[string]bool{}
	add := func(e entry) error {
		switch {
		case e.name == "":
			return errors.New("empty tensor name")
		case e.name == "__metadata__":
			return errors.New(`tensor name "__metadata__" is reserved`)
		case seen[e.name]:
			return fmt.Errorf("tensor name %q used twice", e.name)
		}
		seen[e.name] = true
		ents = append(ents, e)
		return nil
	}
	for name, t := range f.Tensors {
		if t == nil {
			return nil, fmt.Errorf("tensor %q is nil", name)
		}
		e := entry{name: name, shape: t.Shape()}
		if t.DType() == tensor.Float32 {
			v := t.Float32s()
			e.dtype, e.size = "F32", 4*len(v)
			e.raw = func(dst []byte) {
				for i, x := range v {
					binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(x))
				}
			}
		} else {
			v := t.Float64s()
			e.dtype, e.size = "F64", 8*len(v)
			e.raw = func(dst []byte) {
				for i, x := range v {
					binary.LittleEndian.PutUint64(dst[8*i:], math.Float64bits(x))
				}
			}
		}
		if err := add(e); err != nil {
			return nil, err
		}
	}
	for name, b := range f.Bytes {
		if err := add(entry{name: name, dtype: "U8", shape: []int{len(b)}, size: len(b),
			raw: func(dst []byte) { copy(dst, b) }}); err != nil {
			return nil, err
		}
	}
	for name, v := range f.Int64s {
		if err := add(entry{name: name, dtype: "I64", shape: []int{len(v)}, size: 8 * len(v),
			raw: func(dst []byte) {
				for i, x := range v {
					binary.LittleEndian.PutUint64(dst[8*i:], uint64(x))
				}
			}}); err != nil {
			return nil, err
		}
	}
	// Largest elements first keeps every tensor aligned to its element size.
	sort.Slice(ents, func(i, j int) bool {
		si, sj := dtypeSize[ents[i].dtype], dtypeSize[ents[j].dtype]
		if si != sj {
			return si > sj
		}
		return ents[i].name < ents[j].name
	})

	total := 0
	header := make(map[string]any, len(ents)+1)
	for _, e := range ents {
		header[e.name] = headerEntry{Dtype: e.dtype, Shape: nonNil(e.shape), DataOffsets: []uint64{uint64(total), uint64(total + e.size)}}
		total += e.size
	}
	data := make([]byte, total)
	off := 0
	for _, e := range ents {
		e.raw(data[off : off+e.size])
		off += e.size
	}
	sum := sha256.Sum256(data)
	meta := make(map[string]string, len(f.Meta)+1)
	for k, v := range f.Meta {
		meta[k] = v
	}
	meta[ChecksumKey] = hex.EncodeToString(sum[:])
	header["__metadata__"] = meta

	hj, err := json.Marshal(header) // map keys come out sorted: deterministic bytes
	if err != nil {
		return nil, err
	}
	// Pad with spaces so the data section starts 8-byte aligned.
	if r := (8 + len(hj)) % 8; r != 0 {
		hj = append(hj, bytes.Repeat([]byte{' '}, 8-r)...)
	}
	out := make([]byte, 0, 8+len(hj)+len(data))
	out = binary.LittleEndian.AppendUint64(out, uint64(len(hj)))
	out = append(out, hj...)
	return append(out, data...), nil
}

func nonNil(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}

// Decode parses and verifies a safetensors file held in data (see the package
// doc for what is checked). Tensors do not alias data.
func Decode(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, corrupt("truncated: %d bytes, shorter than the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeaderSize {
		return nil, corrupt("header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, corrupt("truncated: header length %d but only %d bytes follow", n, len(data)-8)
	}
	hdr, body := data[8:8+n], data[8+n:]
	if len(bytes.TrimSpace(hdr)) == 0 || hdr[0] != '{' {
		return nil, corrupt("header is not a JSON object")
	}

	// Walk the top-level object by hand to catch duplicate names, which
	// encoding/json would silently collapse.
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if _, err := dec.Token(); err != nil {
		return nil, corrupt("header JSON: %v", err)
	}
	f := &File{Tensors: map[string]*tensor.Tensor{}, Bytes: map[string][]byte{}, Int64s: map[string][]int64{}, Meta: map[string]string{}}
	type span struct {
		name       string
		begin, end uint64
	}
	var spans []span
	infos := map[string]headerEntry{}
	seenMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, corrupt("header JSON: %v", err)
		}
		name := tok.(string) // object keys are always strings
		if _, dup := infos[name]; dup || (name == "__metadata__" && seenMeta) {
			return nil, corrupt("name %q appears twice in the header", name)
		}
		if name == "__metadata__" {
			seenMeta = true
			if err := dec.Decode(&f.Meta); err != nil {
				return nil, corrupt("__metadata__ must map strings to strings: %v", err)
			}
			if f.Meta == nil { // "__metadata__": null
				f.Meta = map[string]string{}
			}
			continue
		}
		var h headerEntry
		if err := dec.Decode(&h); err != nil {
			return nil, corrupt("tensor %q: %v", name, err)
		}
		size, ok := dtypeSize[h.Dtype]
		if !ok {
			return nil, corrupt("tensor %q: unsupported dtype %q (this reader handles F32, F64, I64, U8)", name, h.Dtype)
		}
		if len(h.DataOffsets) != 2 {
			return nil, corrupt("tensor %q: data_offsets must be [begin, end], got %v", name, h.DataOffsets)
		}
		b, e := h.DataOffsets[0], h.DataOffsets[1]
		if b > e {
			return nil, corrupt("tensor %q: data_offsets [%d, %d] run backwards", name, b, e)
		}
		if e > uint64(len(body)) {
			return nil, corrupt("truncated: tensor %q needs data bytes [%d, %d) but the data section holds %d", name, b, e, len(body))
		}
		need, ok := byteSize(h.Shape, size)
		if !ok {
			return nil, corrupt("tensor %q: bad shape %v", name, h.Shape)
		}
		if need != e-b {
			return nil, corrupt("tensor %q: shape %v of %s needs %d bytes but data_offsets [%d, %d] give %d", name, h.Shape, h.Dtype, need, b, e, e-b)
		}
		infos[name] = h
		spans = append(spans, span{name, b, e})
	}
	if _, err := dec.Token(); err != nil { // closing brace
		return nil, corrupt("header JSON: %v", err)
	}
	if rest := bytes.TrimSpace(hdr[dec.InputOffset():]); len(rest) != 0 {
		return nil, corrupt("header has %d bytes of garbage after the JSON object", len(rest))
	}

	// The byte ranges must tile the data section exactly.
	slices.SortFunc(spans, func(x, y span) int {
		return cmp.Or(cmp.Compare(x.begin, y.begin), cmp.Compare(x.end, y.end))
	})
	var at uint64
	for i, s := range spans {
		switch {
		case s.begin < at:
			return nil, corrupt("tensors %q and %q overlap in the data section", spans[i-1].name, s.name)
		case s.begin > at:
			return nil, corrupt("gap of %d bytes in the data section before tensor %q", s.begin-at, s.name)
		}
		at = s.end
	}
	if at != uint64(len(body)) {
		return nil, corrupt("%d stray bytes after the last tensor in the data section", uint64(len(body))-at)
	}

	if want, ok := f.Meta[ChecksumKey]; ok {
		sum := sha256.Sum256(body)
		if got := hex.EncodeToString(sum[:]); got != strings.ToLower(want) {
			return nil, fmt.Errorf("%w: data section has sha256 %s, header says %s (file corrupted after writing)", ErrChecksum, got, want)
		}
		delete(f.Meta, ChecksumKey)
	}

	for name, h := range infos {
		raw := body[h.DataOffsets[0]:h.DataOffsets[1]]
		switch h.Dtype {
		case "F32":
			v := make([]float32, len(raw)/4)
			for i := range v {
				v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
			f.Tensors[name] = tensor.FromFloat32(v, h.Shape...)
		case "F64":
			v := make([]float64, len(raw)/8)
			for i := range v {
				v[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
			}
			f.Tensors[name] = tensor.FromFloat64(v, h.Shape...)
		case "I64":
			v := make([]int64, len(raw)/8)
			for i := range v {
				v[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			}
			f.Int64s[name] = v
		case "U8":
			f.Bytes[name] = bytes.Clone(raw)
			if f.Bytes[name] == nil {
				f.Bytes[name] = []byte{}
			}
		}
	}
	return f, nil
}

// byteSize returns the data size of a tensor of the given shape; ok is false
// for a negative dimension or a size that overflows uint64.
func byteSize(shape []int, elem int) (n uint64, ok bool) {
	n = uint64(elem)
	overflow := false
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d == 0 {
			return 0, true
		}
		hi, lo := bits.Mul64(n, uint64(d))
		overflow = overflow || hi != 0
		n = lo
	}
	return n, !overflow
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}
