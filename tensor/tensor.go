// Package tensor holds dense, contiguous, row-major arrays of float32 or float64
// and the kernels that compute on them. It knows nothing about gradients: the
// autodiff package records these kernels and differentiates them.
//
// Every tensor has one data type. Float32 is what models train in; Float64
// exists so that finite-difference gradient checks run the very same code with
// enough precision to be meaningful.
//
// Kernels panic with a "tensor: ..." message on caller bugs (mismatched shapes
// or data types); they never see user input directly.
package tensor

import (
	"fmt"
	"math"
	"sync"
)

// DType is the element type of a tensor.
type DType int

const (
	Float32 DType = iota
	Float64
)

func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// Tensor is a dense row-major array. Exactly one of f32 and f64 is in use.
type Tensor struct {
	shape []int
	dtype DType
	f32   []float32
	f64   []float64
}

// Size returns the number of elements of a shape (1 for a scalar shape).
func Size(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor: negative dimension in shape %v", shape))
		}
		n *= d
	}
	return n
}

// New returns a zero tensor of the given type and shape.
func New(dt DType, shape ...int) *Tensor { return newTensor(dt, true, shape) }

// newUninit is New for a result that its kernel overwrites in full: storage
// that Recycle handed back comes with its old values, not zeroed first (fresh
// storage is zero anyway). Only for kernels that write every element.
func newUninit(dt DType, shape ...int) *Tensor { return newTensor(dt, false, shape) }

func newTensor(dt DType, zero bool, shape []int) *Tensor {
	n := Size(shape)
	t := &Tensor{shape: append([]int(nil), shape...), dtype: dt}
	switch dt {
	case Float32:
		t.f32 = getStorage[float32](&pool32, n, zero)
	case Float64:
		t.f64 = getStorage[float64](&pool64, n, zero)
	default:
		panic("tensor: unknown dtype")
	}
	return t
}

// Recycle hands t's storage back, to be reused by a later tensor of the
// same size (zeroed first, as New promises). The caller guarantees that
// neither t nor any tensor sharing its data (a Reshape of it, or the tensor
// it is a Reshape of) is read or written again; autodiff.Grad calls it for
// the adjoints it has finished with. Small tensors are left to the garbage
// collector.
//
// Reusing storage spares the allocator, the garbage collector and the page
// faults of fresh memory: a training step's backward pass makes hundreds
// of megabytes of short-lived adjoints, most of a few recurring sizes.
func Recycle(t *Tensor) {
	if t.dtype == Float32 {
		putStorage(&pool32, t.f32)
	} else {
		putStorage(&pool64, t.f64)
	}
}

// minPooled is the smallest storage (in elements) that Recycle keeps: below
// 16 KiB of float32s the allocator is cheap enough.
const minPooled = 1 << 12

// pool32 and pool64 map a length to a *sync.Pool of *[]T of that length.
// sync.Pool lets the garbage collector drop what is not reused soon.
var pool32, pool64 sync.Map

func getStorage[T Float](pools *sync.Map, n int, zero bool) []T {
	if n >= minPooled {
		if p, ok := pools.Load(n); ok {
			if s, ok := p.(*sync.Pool).Get().(*[]T); ok {
				if zero {
					clear(*s)
				}
				return *s
			}
		}
	}
	return make([]T, n)
}

func putStorage[T Float](pools *sync.Map, s []T) {
	n := len(s)
	if n < minPooled || cap(s) != n {
		return
	}
	p, ok := pools.Load(n)
	if !ok {
		p, _ = pools.LoadOrStore(n, new(sync.Pool))
	}
	p.(*sync.Pool).Put(&s)
}

// FromFloat32 wraps data (not copied) as a tensor of the given shape.
// Panics if len(data) does not match the shape.
func FromFloat32(data []float32, shape ...int) *Tensor {
	if len(data) != Size(shape) {
		panic(fmt.Sprintf("tensor: %d values for shape %v", len(data), shape))
	}
	return &Tensor{shape: append([]int(nil), shape...), dtype: Float32, f32: data}
}

// FromFloat64 wraps data (not copied) as a tensor of the given shape.
// Panics if len(data) does not match the shape.
func FromFloat64(data []float64, shape ...int) *Tensor {
	if len(data) != Size(shape) {
		panic(fmt.Sprintf("tensor: %d values for shape %v", len(data), shape))
	}
	return &Tensor{shape: append([]int(nil), shape...), dtype: Float64, f64: data}
}

// Scalar returns a 0-d tensor holding v.
func Scalar(dt DType, v float64) *Tensor {
	t := New(dt)
	t.SetAt(0, v)
	return t
}

// Full returns a tensor filled with v.
func Full(dt DType, v float64, shape ...int) *Tensor {
	t := New(dt, shape...)
	t.Fill(v)
	return t
}

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Shape returns the shape. The caller must not modify it.
func (t *Tensor) Shape() []int { return t.shape }

// Dim returns the size of axis i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Rank returns the number of axes.
func (t *Tensor) Rank() int { return len(t.shape) }

// Len returns the number of elements.
func (t *Tensor) Len() int {
	if t.dtype == Float32 {
		return len(t.f32)
	}
	return len(t.f64)
}

// Float32s returns the backing slice of a float32 tensor. Panics otherwise.
func (t *Tensor) Float32s() []float32 {
	if t.dtype != Float32 {
		panic("tensor: Float32s on " + t.dtype.String() + " tensor")
	}
	return t.f32
}

// Float64s returns the backing slice of a float64 tensor. Panics otherwise.
func (t *Tensor) Float64s() []float64 {
	if t.dtype != Float64 {
		panic("tensor: Float64s on " + t.dtype.String() + " tensor")
	}
	return t.f64
}

// At returns element i of the flat data as float64.
func (t *Tensor) At(i int) float64 {
	if t.dtype == Float32 {
		return float64(t.f32[i])
	}
	return t.f64[i]
}

// SetAt sets element i of the flat data.
func (t *Tensor) SetAt(i int, v float64) {
	if t.dtype == Float32 {
		t.f32[i] = float32(v)
	} else {
		t.f64[i] = v
	}
}

// Item returns the single value of a one-element tensor. Panics otherwise.
func (t *Tensor) Item() float64 {
	if t.Len() != 1 {
		panic(fmt.Sprintf("tensor: Item on shape %v", t.shape))
	}
	return t.At(0)
}

// Values returns a float64 copy of the data.
func (t *Tensor) Values() []float64 {
	out := make([]float64, t.Len())
	if t.dtype == Float64 {
		copy(out, t.f64)
		return out
	}
	for i, v := range t.f32 {
		out[i] = float64(v)
	}
	return out
}

// Fill sets every element to v.
func (t *Tensor) Fill(v float64) {
	if t.dtype == Float32 {
		f := float32(v)
		for i := range t.f32 {
			t.f32[i] = f
		}
		return
	}
	for i := range t.f64 {
		t.f64[i] = v
	}
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	c := &Tensor{shape: append([]int(nil), t.shape...), dtype: t.dtype}
	if t.dtype == Float32 {
		c.f32 = append([]float32(nil), t.f32...)
	} else {
		c.f64 = append([]float64(nil), t.f64...)
	}
	return c
}

// CopyFrom copies src's values into t. Panics if sizes or types differ.
func (t *Tensor) CopyFrom(src *Tensor) {
	mustSameType(t, src)
	if t.Len() != src.Len() {
		panic(fmt.Sprintf("tensor: CopyFrom %v into %v", src.shape, t.shape))
	}
	if t.dtype == Float32 {
		copy(t.f32, src.f32)
	} else {
		copy(t.f64, src.f64)
	}
}

// Reshape returns a tensor sharing t's data with a new shape. One dimension may
// be -1 and is then inferred. Panics if the sizes differ.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range shape {
		if d == -1 {
			if infer >= 0 {
				panic("tensor: Reshape with two -1 dimensions")
			}
			infer = i
		} else {
			known *= d
		}
	}
	if infer >= 0 {
		if known == 0 || t.Len()%known != 0 {
			panic(fmt.Sprintf("tensor: cannot reshape %v to %v", t.shape, shape))
		}
		shape[infer] = t.Len() / known
	}
	if Size(shape) != t.Len() {
		panic(fmt.Sprintf("tensor: cannot reshape %v to %v", t.shape, shape))
	}
	return &Tensor{shape: shape, dtype: t.dtype, f32: t.f32, f64: t.f64}
}

// AsType returns t converted to dt (t itself if it already has that type).
func (t *Tensor) AsType(dt DType) *Tensor {
	if t.dtype == dt {
		return t
	}
	out := New(dt, t.shape...)
	if dt == Float64 {
		for i, v := range t.f32 {
			out.f64[i] = float64(v)
		}
	} else {
		for i, v := range t.f64 {
			out.f32[i] = float32(v)
		}
	}
	return out
}

// HasNaNOrInf reports whether any element is NaN or ±Inf.
func (t *Tensor) HasNaNOrInf() bool {
	if t.dtype == Float32 {
		// NaN and ±Inf are the values whose exponent bits are all ones.
		for _, v := range t.f32 {
			if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
				return true
			}
		}
		return false
	}
	for _, v := range t.f64 {
		if math.Float64bits(v)&0x7ff0000000000000 == 0x7ff0000000000000 {
			return true
		}
	}
	return false
}

// String prints the shape, type and up to eight values.
func (t *Tensor) String() string {
	n := t.Len()
	if n > 8 {
		n = 8
	}
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = t.At(i)
	}
	more := ""
	if t.Len() > n {
		more = " ..."
	}
	return fmt.Sprintf("Tensor%v %s %v%s", t.shape, t.dtype, vals, more)
}

// SameShape reports whether two shapes are equal.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func mustSameType(a, b *Tensor) {
	if a.dtype != b.dtype {
		panic(fmt.Sprintf("tensor: mixing %s and %s", a.dtype, b.dtype))
	}
}
