package tensor

import "fmt"

// BinaryOp names a broadcasting elementwise function of two arguments.
type BinaryOp int

const (
	OpAdd BinaryOp = iota
	OpSub
	OpMul
	OpDiv
	OpGreater // 1 where a > b, else 0
	OpEqual   // 1 where a == b, else 0
)

// BroadcastShape returns the NumPy broadcast of two shapes. Panics if they
// are incompatible.
func BroadcastShape(a, b []int) []int {
	n := len(a)
	if len(b) > n {
		n = len(b)
	}
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		default:
			panic(fmt.Sprintf("tensor: shapes %v and %v do not broadcast", a, b))
		}
	}
	return out
}

// Binary applies op with NumPy broadcasting and returns a new tensor.
func Binary(op BinaryOp, a, b *Tensor) *Tensor {
	mustSameType(a, b)
	shape := BroadcastShape(a.shape, b.shape)
	out := newUninit(a.dtype, shape...)
	if SameShape(a.shape, b.shape) {
		parallelFor(out.Len(), 1, func(lo, hi int) {
			if a.dtype == Float32 {
				binRow32(op, out.f32[lo:hi], a.f32[lo:hi], b.f32[lo:hi], 1, 1)
			} else {
				binRow(op, out.f64[lo:hi], a.f64[lo:hi], b.f64[lo:hi], 1, 1)
			}
		})
		return out
	}
	it := newBroadcastIter(shape, a.shape, b.shape)
	if a.dtype == Float32 {
		binaryBroadcast(op, it, out.f32, a.f32, b.f32, binRow32)
	} else {
		binaryBroadcast(op, it, out.f64, a.f64, b.f64, binRow[float64])
	}
	return out
}

func binaryBroadcast[T Float](op BinaryOp, it *broadcastIter, d, a, b []T, rowOp func(BinaryOp, []T, []T, []T, int, int)) {
	row := it.row
	sa, sb := it.rowStride[0], it.rowStride[1]
	it.parallelRows(func(off int, offs [2]int) {
		rowOp(op, d[off:off+row], a[offs[0]:], b[offs[1]:], sa, sb)
	})
}

// parallelRows is each with the rows split across goroutines as
// parallelFor splits elements: for kernels in which each row writes only
// its own output row.
func (it *broadcastIter) parallelRows(f func(off int, offs [2]int)) {
	parallelBlocks(it.rows(), it.row, func(r0, r1 int) { it.eachRows(r0, r1, f) })
}

// binRow32 is binRow for float32: the assembly of binary_amd64.s where
// there is one for op and the strides, the same rounding either way.
func binRow32(op BinaryOp, d, a, b []float32, sa, sb int) {
	if !binRowAsm(op, d, a, b, sa, sb) {
		binRow(op, d, a, b, sa, sb)
	}
}

// binRow computes d[i] = a[i*sa] op b[i*sb] for strides sa, sb in {0, 1}.
func binRow[T Float](op BinaryOp, d, a, b []T, sa, sb int) {
	n := len(d)
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:n], b[:n]
		switch op {
		case OpAdd:
			for i := range d {
				d[i] = a[i] + b[i]
			}
		case OpSub:
			for i := range d {
				d[i] = a[i] - b[i]
			}
		case OpMul:
			for i := range d {
				d[i] = a[i] * b[i]
			}
		case OpDiv:
			for i := range d {
				d[i] = a[i] / b[i]
			}
		default:
			for i := range d {
				d[i] = cmp(op, a[i], b[i])
			}
		}
	case sa == 1 && sb == 0:
		a = a[:n]
		y := b[0]
		switch op {
		case OpAdd:
			for i := range d {
				d[i] = a[i] + y
			}
		case OpSub:
			for i := range d {
				d[i] = a[i] - y
			}
		case OpMul:
			for i := range d {
				d[i] = a[i] * y
			}
		case OpDiv:
			for i := range d {
				d[i] = a[i] / y
			}
		default:
			for i := range d {
				d[i] = cmp(op, a[i], y)
			}
		}
	case sa == 0 && sb == 1:
		b = b[:n]
		x := a[0]
		switch op {
		case OpAdd:
			for i := range d {
				d[i] = x + b[i]
			}
		case OpSub:
			for i := range d {
				d[i] = x - b[i]
			}
		case OpMul:
			for i := range d {
				d[i] = x * b[i]
			}
		case OpDiv:
			for i := range d {
				d[i] = x / b[i]
			}
		default:
			for i := range d {
				d[i] = cmp(op, x, b[i])
			}
		}
	default:
		var v T
		x, y := a[0], b[0]
		switch op {
		case OpAdd:
			v = x + y
		case OpSub:
			v = x - y
		case OpMul:
			v = x * y
		case OpDiv:
			v = x / y
		default:
			v = cmp(op, x, y)
		}
		for i := range d {
			d[i] = v
		}
	}
}

func cmp[T Float](op BinaryOp, x, y T) T {
	switch op {
	case OpGreater:
		if x > y {
			return 1
		}
	case OpEqual:
		if x == y {
			return 1
		}
	default:
		panic(fmt.Sprintf("tensor: unknown binary op %d", op))
	}
	return 0
}

// broadcastIter walks an output shape in rows, giving for each row its offset
// in the output and in each input. Adjacent axes with the same broadcast
// pattern are merged so that rows are as long as possible.
type broadcastIter struct {
	dims      []int    // merged output dims, the last one is the row
	strides   [][2]int // per merged dim, stride of each input (0 if broadcast)
	row       int
	rowStride [2]int
}

func newBroadcastIter(out []int, ins ...[]int) *broadcastIter {
	if len(ins) > 2 {
		panic("tensor: broadcastIter takes at most two inputs")
	}
	n := len(out)
	// full[k][i]: input k spans axis i of the output.
	type axis struct {
		size int
		full [2]bool
	}
	var axes []axis
	for i := 0; i < n; i++ {
		if out[i] == 1 {
			continue
		}
		var ax axis
		ax.size = out[i]
		for k, s := range ins {
			j := len(s) - n + i
			ax.full[k] = j >= 0 && s[j] != 1
		}
		if m := len(axes); m > 0 && axes[m-1].full == ax.full {
			axes[m-1].size *= ax.size
		} else {
			axes = append(axes, ax)
		}
	}
	if len(axes) == 0 {
		axes = []axis{{size: 1, full: [2]bool{true, true}}}
	}
	it := &broadcastIter{}
	it.dims = make([]int, len(axes))
	it.strides = make([][2]int, len(axes))
	var stride [2]int = [2]int{1, 1}
	for i := len(axes) - 1; i >= 0; i-- {
		it.dims[i] = axes[i].size
		for k := 0; k < 2; k++ {
			if axes[i].full[k] {
				it.strides[i][k] = stride[k]
				stride[k] *= axes[i].size
			}
		}
	}
	last := len(axes) - 1
	it.row = it.dims[last]
	for k := 0; k < 2; k++ {
		if axes[last].full[k] {
			it.rowStride[k] = 1
		}
	}
	return it
}

// each calls f for every row with the output offset and the input offsets.
func (it *broadcastIter) each(f func(off int, offs [2]int)) { it.eachRows(0, it.rows(), f) }

// rows is the number of rows of the output.
func (it *broadcastIter) rows() int {
	n := 1
	for _, d := range it.dims[:len(it.dims)-1] {
		n *= d
	}
	return n
}

// eachRows calls f for rows r0 … r1−1, in order, as each does for them.
func (it *broadcastIter) eachRows(r0, r1 int, f func(off int, offs [2]int)) {
	if r0 >= r1 {
		return
	}
	outer := len(it.dims) - 1
	idx := make([]int, outer)
	var offs [2]int
	rest := r0 // the multi-index of row r0, last outer axis fastest
	for i := outer - 1; i >= 0; i-- {
		idx[i] = rest % it.dims[i]
		rest /= it.dims[i]
		offs[0] += idx[i] * it.strides[i][0]
		offs[1] += idx[i] * it.strides[i][1]
	}
	off := r0 * it.row
	for r := r0; ; {
		f(off, offs)
		if r++; r == r1 {
			return
		}
		off += it.row
		i := outer - 1
		for ; i >= 0; i-- {
			idx[i]++
			offs[0] += it.strides[i][0]
			offs[1] += it.strides[i][1]
			if idx[i] < it.dims[i] {
				break
			}
			offs[0] -= it.strides[i][0] * it.dims[i]
			offs[1] -= it.strides[i][1] * it.dims[i]
			idx[i] = 0
		}
		if i < 0 {
			return
		}
	}
}

// BroadcastTo returns x expanded to shape by NumPy rules.
func BroadcastTo(x *Tensor, shape []int) *Tensor {
	if !SameShape(BroadcastShape(x.shape, shape), shape) {
		panic(fmt.Sprintf("tensor: cannot broadcast %v to %v", x.shape, shape))
	}
	out := newUninit(x.dtype, shape...)
	if SameShape(x.shape, shape) {
		out.CopyFrom(x)
		return out
	}
	it := newBroadcastIter(shape, x.shape)
	if x.dtype == Float32 {
		broadcastKernel(it, out.f32, x.f32, fillRow32)
	} else {
		broadcastKernel(it, out.f64, x.f64, fillRow[float64])
	}
	return out
}

func broadcastKernel[T Float](it *broadcastIter, d, x []T, fill func([]T, T)) {
	row, s := it.row, it.rowStride[0]
	it.parallelRows(func(off int, offs [2]int) {
		dr := d[off : off+row]
		if s == 1 {
			copy(dr, x[offs[0]:offs[0]+row])
		} else {
			fill(dr, x[offs[0]])
		}
	})
}

// fillRow sets every element of d to v.
func fillRow[T Float](d []T, v T) {
	for i := range d {
		d[i] = v
	}
}

// fillRow32 is fillRow for float32, in assembly where there is one.
func fillRow32(d []float32, v float32) {
	if !fillAsm(d, v) {
		fillRow(d, v)
	}
}

// SumTo sums x over the axes along which shape was broadcast to x's shape,
// returning a tensor of the given shape: the adjoint of BroadcastTo.
func SumTo(x *Tensor, shape []int) *Tensor {
	if !SameShape(BroadcastShape(shape, x.shape), x.shape) {
		panic(fmt.Sprintf("tensor: cannot sum %v to %v", x.shape, shape))
	}
	out := New(x.dtype, shape...)
	if SameShape(x.shape, shape) {
		out.CopyFrom(x)
		return out
	}
	// Iterate over x (the big shape); input 0 is the reduced shape.
	it := newBroadcastIter(x.shape, shape, x.shape)
	if x.dtype == Float32 {
		sumToKernel(it, out.f32, x.f32, binRow32, sumRow32)
	} else {
		sumToKernel(it, out.f64, x.f64, binRow[float64], sumRow[float64])
	}
	return out
}

func sumToKernel[T Float](it *broadcastIter, d, x []T, rowOp func(BinaryOp, []T, []T, []T, int, int), rowSum func([]T) float64) {
	row, s := it.row, it.rowStride[0]
	it.each(func(off int, offs [2]int) {
		xr := x[off : off+row]
		if s == 1 {
			dr := d[offs[0] : offs[0]+row]
			rowOp(OpAdd, dr, dr, xr, 1, 1) // dr += xr
		} else {
			d[offs[0]] += T(rowSum(xr))
		}
	})
}

// sumRow returns the sum of x in float64, in order.
func sumRow[T Float](x []T) float64 {
	var acc float64
	for _, v := range x {
		acc += float64(v)
	}
	return acc
}

// sumRow32 is sumRow for float32, in assembly where there is one.
func sumRow32(x []float32) float64 {
	if s, ok := sumAsm(x); ok {
		return s
	}
	return sumRow(x)
}

// AddInPlace adds src to dst elementwise (dst += src), with the rounding of
// Binary(OpAdd, dst, src). Panics if shapes or types differ.
func AddInPlace(dst, src *Tensor) {
	mustSameType(dst, src)
	if !SameShape(dst.shape, src.shape) {
		panic(fmt.Sprintf("tensor: AddInPlace of %v into %v", src.shape, dst.shape))
	}
	parallelFor(dst.Len(), 1, func(lo, hi int) {
		if dst.dtype == Float32 {
			binRow32(OpAdd, dst.f32[lo:hi], dst.f32[lo:hi], src.f32[lo:hi], 1, 1)
		} else {
			binRow(OpAdd, dst.f64[lo:hi], dst.f64[lo:hi], src.f64[lo:hi], 1, 1)
		}
	})
}
