package autodiff

import "github.com/wakesleep/wakesleep/tensor"

// Normalize is the normalisation of batch norm (kind tensor.NormPerChannel,
// without its γ and β) or of pixel norm (tensor.NormPerPosition) as one op:
//
//	per channel:  y = (x − μ_c) / √(mean_c (x − μ_c)² + ε)   (each channel over the batch and space)
//	per position: y = x / √(mean_c x² + ε)                   (each sample and position over the channels)
//
// It computes what the composite of MeanKeep, Sub, Square, AddScalar, Sqrt
// and Div computes, within float32 rounding, in two or three passes over x
// instead of seven or more, and its backward in one op (NormalizeGrad)
// instead of a dozen. Every derivative rule is built from differentiable
// ops, so it can be differentiated to any order (the gradient penalty
// through a batch-normalised critic). x is [A, C, …] (rank ≥ 2). Panics on
// a rank below 2, an empty group or eps < 0.
func Normalize(x *Var, kind tensor.NormKind, eps float64) *Var {
	y, _, _ := NormalizeMoments(x, kind, eps)
	return y
}

// NormalizeMoments is Normalize that also returns, as plain tensors of the
// statistics' shape (tensor.NormStatShape), each group's mean (zero per
// position) and biased variance (the mean square per position): what batch
// norm's running statistics are updated from.
func NormalizeMoments(x *Var, kind tensor.NormKind, eps float64) (y *Var, mean, variance *tensor.Tensor) {
	yv, r, mean, variance := tensor.NormalizeMoments(x.Value, kind, eps)
	return record("normalize", yv, normalizeVJP(kind, r), x), mean, variance
}

// y = N(x) with r(x) the reciprocal root mean square of each group:
// x̄ = NormalizeGrad(g, y, r), where r enters as a function of x (the
// op normScale, whose value is the forward's r) and y as the output itself,
// so that the adjoint is differentiable again.
func normalizeVJP(kind tensor.NormKind, r *tensor.Tensor) vjpFunc {
	return func(g *Var, in []*Var, y *Var, _ []bool) []*Var {
		rv := record("norm_scale", r, normScaleVJP(kind, y), in[0])
		return []*Var{NormalizeGrad(g, y, rv, kind)}
	}
}

// r = 1/√(mean (x − μ)² + ε) per group (μ = 0 per position), y = N(x):
// ∂r/∂x = −r²·y/n per element of the group, so x̄ = −y·(r̄·r²)/n, the
// product broadcast over each group.
func normScaleVJP(kind tensor.NormKind, yN *Var) vjpFunc {
	return func(g *Var, _ []*Var, r *Var, _ []bool) []*Var {
		n := tensor.NormGroupSize(yN.Shape(), kind)
		return []*Var{Mul(yN, Scale(Mul(g, Square(r)), -1/float64(n)))}
	}
}

// NormalizeGrad is the adjoint of Normalize's input, as an op of the
// output's adjoint g, the output y and the scale r (each group's
// 1/√(mean square + ε), of the statistics' shape tensor.NormStatShape):
//
//	per channel:  x̄ = r·(g − mean(g) − y·mean(g·y))
//	per position: x̄ = r·(g − y·mean(g·y))
//
// means over each group. Panics on mismatched shapes.
func NormalizeGrad(g, y, r *Var, kind tensor.NormKind) *Var {
	return record("normalize_grad", tensor.NormalizeGrad(g.Value, y.Value, r.Value, kind),
		normalizeGradVJP(kind), g, y, r)
}

// out = r·(g − [centred] mean(g) − y·mean(g·y)), u its adjoint:
//
//	ḡ = r·(u − [centred] mean(u) − y·mean(u·y))   (the map g ↦ out is self-adjoint)
//	ȳ = −r·(u·mean(g·y) + g·mean(u·y))
//	r̄ = Σ_group u·out / r
func normalizeGradVJP(kind tensor.NormKind) vjpFunc {
	return func(u *Var, in []*Var, out *Var, need []bool) []*Var {
		g, y, r := in[0], in[1], in[2]
		axes := normAxes(g.Rank(), kind)
		res := make([]*Var, 3)
		if need[0] {
			res[0] = NormalizeGrad(u, y, r, kind)
		}
		if need[1] {
			mgy := Mul(r, MeanKeep(Mul(g, y), axes...))
			muy := Mul(r, MeanKeep(Mul(u, y), axes...))
			res[1] = Neg(Add(Mul(u, mgy), Mul(g, muy)))
		}
		if need[2] {
			res[2] = Div(SumTo(Mul(u, out), r.Shape()), r)
		}
		return res
	}
}

// normAxes are the axes each group of kind spans, for rank ≥ 2.
func normAxes(rank int, kind tensor.NormKind) []int {
	if kind == tensor.NormPerPosition {
		return []int{1}
	}
	axes := []int{0}
	for i := 2; i < rank; i++ {
		axes = append(axes, i)
	}
	return axes
}
