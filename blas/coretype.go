package blas

import "golang.org/x/sys/cpu"

// OpenBLAS built with DYNAMIC_ARCH (Debian's, which PyTorch's products go
// through too) picks its kernels from the CPU's family and model. A CPU newer
// than the library, such as a 2023 Xeon (family 6, model 207) under OpenBLAS
// 0.3.21, gets the generic "Prescott" (SSE3) kernels, 2-4x below what the
// hardware does, unless OPENBLAS_CORETYPE names a core. The library reads
// that variable when it loads, before any Go code runs, so a program can
// only fix the choice by starting again with the variable set
// (cmd/wakesleep does).

// genericCore is the core OpenBLAS falls back to when it does not know the CPU.
const genericCore = "Prescott"

// BetterCoreType returns the OPENBLAS_CORETYPE worth setting on this
// machine: "SkylakeX" (AVX-512) or "Haswell" (AVX2) when this build is
// OpenBLAS's and the library fell back to its generic core on a CPU that
// has those instructions; "" otherwise (the pure-Go build, a core the
// library knows, or a CPU without AVX2).
func BetterCoreType() string {
	return betterCoreType(CoreName(), cpu.X86.HasAVX512F, cpu.X86.HasAVX2 && cpu.X86.HasFMA)
}

func betterCoreType(core string, avx512, avx2 bool) string {
	switch {
	case core != genericCore:
		return ""
	case avx512:
		return "SkylakeX"
	case avx2:
		return "Haswell"
	}
	return ""
}
