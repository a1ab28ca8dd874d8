// Package rawblas calls OpenBLAS's cblas_sgemm directly through cgo, with no
// checks or dispatch: the reference the blas package's benchmarks measure
// its own overhead against. It has code only under the openblas build tag,
// and only tests use it.
package rawblas
