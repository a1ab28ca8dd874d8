//go:build openblas

package blas

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

import "unsafe"

// Implementation names the BLAS this binary was built with.
const Implementation = "OpenBLAS (cgo)"

// SetThreads sets how many threads OpenBLAS uses for each product (at
// least 1), so that a program can match them to GOMAXPROCS without the
// OPENBLAS_NUM_THREADS environment variable.
func SetThreads(n int) {
	C.openblas_set_num_threads(C.int(max(n, 1)))
}

// Threads reports how many threads OpenBLAS uses for each product.
func Threads() int { return int(C.openblas_get_num_threads()) }

// CoreName is the kernel family OpenBLAS chose for this CPU ("SkylakeX",
// "Haswell", "Prescott", …); see BetterCoreType.
func CoreName() string { return C.GoString(C.openblas_get_corename()) }

func trans(t bool) C.enum_CBLAS_TRANSPOSE {
	if t {
		return C.CblasTrans
	}
	return C.CblasNoTrans
}

func gemm32(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkLen(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	C.cblas_sgemm(C.CblasRowMajor, trans(tA), trans(tB), C.blasint(m), C.blasint(n), C.blasint(k),
		C.float(alpha), (*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}

func gemm64(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	checkLen(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	C.cblas_dgemm(C.CblasRowMajor, trans(tA), trans(tB), C.blasint(m), C.blasint(n), C.blasint(k),
		C.double(alpha), (*C.double)(unsafe.Pointer(&a[0])), C.blasint(lda),
		(*C.double)(unsafe.Pointer(&b[0])), C.blasint(ldb),
		C.double(beta), (*C.double)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}

// checkLen panics before C would read or write out of bounds.
func checkLen(tA, tB bool, m, n, k, la, lda, lb, ldb, lc, ldc int) {
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	if lda < ac || ldb < bc || ldc < n || la < (ar-1)*lda+ac || lb < (br-1)*ldb+bc || lc < (m-1)*ldc+n {
		panic("blas: matrix too short for its dimensions")
	}
}
