//go:build !amd64 || openblas

package blas

// Without the amd64 assembly kernel (other architectures, or the OpenBLAS
// build, where cgo rules out Go assembly in this package) nothing calls
// sgemmAsm; these keep the names defined for gonum.go and the tests.

var useAsmSgemm, useAVX512 = false, false

func asmSgemmName() string { return "" }

func sgemmAsm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	panic("blas: no assembly sgemm on this architecture")
}

func sgemmAsmPacked(tA bool, m, n, k int, alpha float32, a []float32, lda int, packB PackB, beta float32, c []float32, ldc int) {
	panic("blas: no assembly sgemm on this architecture")
}
