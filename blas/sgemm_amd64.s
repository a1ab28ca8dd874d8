//go:build !openblas

#include "textflag.h"

// AVX2+FMA micro-kernel and packing routines for sgemm (see sgemm_amd64.go
// for the packed layouts).
//
// Kernel registers:
//	AX   packed A: one micro-panel is k steps of 6 floats (24 bytes)
//	BX   packed B: one micro-panel is k steps of 16 floats (64 bytes)
//	CX   k-loop counter
//	DX   C tile, top-left element
//	R8   ldc in bytes
//	R11  tiles left
//	Y0..Y11   the 6×16 accumulator: row i is Y(2i) (columns 0-7) and Y(2i+1) (8-15)
//	Y12, Y13  one row of B (16 floats)
//	Y14, Y15  one broadcast element of A

// STEP does one rank-1 update of the accumulator: the B row at offsets b0/b1
// of BX times the 6 A values at offsets a0..a5 of AX.
#define STEP(b0, b1, a0, a1, a2, a3, a4, a5) \
	VMOVUPS      b0(BX), Y12;         \
	VMOVUPS      b1(BX), Y13;         \
	VBROADCASTSS a0(AX), Y14;         \
	VFMADD231PS  Y12, Y14, Y0;        \
	VFMADD231PS  Y13, Y14, Y1;        \
	VBROADCASTSS a1(AX), Y15;         \
	VFMADD231PS  Y12, Y15, Y2;        \
	VFMADD231PS  Y13, Y15, Y3;        \
	VBROADCASTSS a2(AX), Y14;         \
	VFMADD231PS  Y12, Y14, Y4;        \
	VFMADD231PS  Y13, Y14, Y5;        \
	VBROADCASTSS a3(AX), Y15;         \
	VFMADD231PS  Y12, Y15, Y6;        \
	VFMADD231PS  Y13, Y15, Y7;        \
	VBROADCASTSS a4(AX), Y14;         \
	VFMADD231PS  Y12, Y14, Y8;        \
	VFMADD231PS  Y13, Y14, Y9;        \
	VBROADCASTSS a5(AX), Y15;         \
	VFMADD231PS  Y12, Y15, Y10;       \
	VFMADD231PS  Y13, Y15, Y11

// STORE adds alpha (in Y15) times accumulator row lo/hi to the 16 floats at
// DX, then moves DX down one row; STORENEW overwrites them instead.
#define STORE(lo, hi) \
	VMOVUPS     (DX), Y12;      \
	VMOVUPS     32(DX), Y13;    \
	VFMADD231PS lo, Y15, Y12;   \
	VFMADD231PS hi, Y15, Y13;   \
	VMOVUPS     Y12, (DX);      \
	VMOVUPS     Y13, 32(DX);    \
	ADDQ        R8, DX

#define STORENEW(lo, hi) \
	VMULPS  lo, Y15, Y12; \
	VMULPS  hi, Y15, Y13; \
	VMOVUPS Y12, (DX);    \
	VMOVUPS Y13, 32(DX);  \
	ADDQ    R8, DX

// func sgemmKernel6x16(k, tiles int, a, b, c *float32, ldc int, accumulate bool, alpha float32)
//
// For t in [0, tiles): C[6t:6t+6, 0:16] += alpha · Apanel(t) · Bpanel, where
// Apanel(t) is the t-th packed A micro-panel (they lie back to back, 6k floats
// each) and Bpanel the one packed B micro-panel; = instead of += when
// accumulate is false. Requires k ≥ 1, tiles ≥ 1.
TEXT ·sgemmKernel6x16(SB), NOSPLIT, $0-56
	MOVQ a+16(FP), AX
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8
	MOVQ tiles+8(FP), R11

tile:
	MOVQ b+24(FP), BX
	MOVQ k+0(FP), CX

	// Warm the 6 C rows this tile will update while the k loop runs.
	MOVQ       DX, R9
	PREFETCHT0 (R9)
	PREFETCHT0 63(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 63(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 63(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 63(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 63(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 63(R9)

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	MOVQ CX, R10
	SHRQ $2, R10
	JZ   tail

loop4:
	STEP(0, 32, 0, 4, 8, 12, 16, 20)
	STEP(64, 96, 24, 28, 32, 36, 40, 44)
	STEP(128, 160, 48, 52, 56, 60, 64, 68)
	STEP(192, 224, 72, 76, 80, 84, 88, 92)
	ADDQ $96, AX
	ADDQ $256, BX
	DECQ R10
	JNZ  loop4

tail:
	ANDQ $3, CX
	JZ   store

loop1:
	STEP(0, 32, 0, 4, 8, 12, 16, 20)
	ADDQ $24, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  loop1

store:
	VBROADCASTSS alpha+52(FP), Y15
	CMPB         accumulate+48(FP), $0
	JEQ          storenew
	STORE(Y0, Y1)
	STORE(Y2, Y3)
	STORE(Y4, Y5)
	STORE(Y6, Y7)
	STORE(Y8, Y9)
	STORE(Y10, Y11)
	JMP          nexttile

storenew:
	STORENEW(Y0, Y1)
	STORENEW(Y2, Y3)
	STORENEW(Y4, Y5)
	STORENEW(Y6, Y7)
	STORENEW(Y8, Y9)
	STORENEW(Y10, Y11)

nexttile:
	// AX already points at the next A micro-panel and DX at the next tile's
	// first row.
	DECQ R11
	JNZ  tile

	VZEROUPPER
	RET

// func sgemmPackA6(groups int, src *float32, lds int, dst *float32)
//
// Packs 6 rows of 8·groups floats (row i at src + i·lds floats) into an A
// micro-panel: dst[6p+i] = src[i·lds+p]. Each 8-column group is a 6×8
// transpose: unpack and shuffle give, per column p, rows 0-3 as 4 floats
// and rows 4-5 as 2, stored with 16- and 8-byte moves.
TEXT ·sgemmPackA6(SB), NOSPLIT, $0-32
	MOVQ groups+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI
	LEAQ (SI)(R8*2), R9
	ADDQ R8, R9         // row 3

packA6loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (R9), Y3
	VMOVUPS (R9)(R8*1), Y4
	VMOVUPS (R9)(R8*2), Y5

	VUNPCKLPS Y1, Y0, Y6   // r0 r1 interleaved: p0 p1 | p4 p5
	VUNPCKHPS Y1, Y0, Y7   // p2 p3 | p6 p7
	VUNPCKLPS Y3, Y2, Y8   // r2 r3
	VUNPCKHPS Y3, Y2, Y9
	VUNPCKLPS Y5, Y4, Y10  // r4 r5: qwords p0 p1 | p4 p5
	VUNPCKHPS Y5, Y4, Y11  // p2 p3 | p6 p7

	VSHUFPS $0x44, Y8, Y6, Y0 // rows 0-3 of p0 | p4
	VSHUFPS $0xEE, Y8, Y6, Y1 // p1 | p5
	VSHUFPS $0x44, Y9, Y7, Y2 // p2 | p6
	VSHUFPS $0xEE, Y9, Y7, Y3 // p3 | p7

	VMOVUPS X0, 0(DI)
	VMOVLPS X10, 16(DI)
	VMOVUPS X1, 24(DI)
	VMOVHPS X10, 40(DI)
	VMOVUPS X2, 48(DI)
	VMOVLPS X11, 64(DI)
	VMOVUPS X3, 72(DI)
	VMOVHPS X11, 88(DI)

	VEXTRACTF128 $1, Y0, 96(DI)
	VEXTRACTF128 $1, Y1, 120(DI)
	VEXTRACTF128 $1, Y2, 144(DI)
	VEXTRACTF128 $1, Y3, 168(DI)
	VEXTRACTF128 $1, Y10, X12
	VEXTRACTF128 $1, Y11, X13
	VMOVLPS X12, 112(DI)
	VMOVHPS X12, 136(DI)
	VMOVLPS X13, 160(DI)
	VMOVHPS X13, 184(DI)

	ADDQ $32, SI
	ADDQ $32, R9
	ADDQ $192, DI
	DECQ CX
	JNZ  packA6loop

	VZEROUPPER
	RET

// func sgemmPackBT8(groups int, src *float32, lds int, dst *float32)
//
// Packs 8 columns of a B micro-panel from 8 rows of the stored (transposed)
// B, 8·groups floats each: dst[16p+j] = src[j·lds+p]. Each 8×8 block is
// transposed with unpack, shuffle and 128-bit lane permutes.
TEXT ·sgemmPackBT8(SB), NOSPLIT, $0-32
	MOVQ groups+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI
	LEAQ (R8)(R8*2), R11
	LEAQ (SI)(R11*1), R9  // row 3
	LEAQ (R9)(R11*1), R10 // row 6

packBT8loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (R9), Y3
	VMOVUPS (R9)(R8*1), Y4
	VMOVUPS (R9)(R8*2), Y5
	VMOVUPS (R10), Y6
	VMOVUPS (R10)(R8*1), Y7

	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	VSHUFPS $0x44, Y10, Y8, Y0  // rows 0-3: p0 | p4
	VSHUFPS $0xEE, Y10, Y8, Y1  // p1 | p5
	VSHUFPS $0x44, Y11, Y9, Y2  // p2 | p6
	VSHUFPS $0xEE, Y11, Y9, Y3  // p3 | p7
	VSHUFPS $0x44, Y14, Y12, Y4 // rows 4-7: p0 | p4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7

	VPERM2F128 $0x20, Y4, Y0, Y8  // p0
	VPERM2F128 $0x20, Y5, Y1, Y9  // p1
	VPERM2F128 $0x20, Y6, Y2, Y10 // p2
	VPERM2F128 $0x20, Y7, Y3, Y11 // p3
	VPERM2F128 $0x31, Y4, Y0, Y12 // p4
	VPERM2F128 $0x31, Y5, Y1, Y13 // p5
	VPERM2F128 $0x31, Y6, Y2, Y14 // p6
	VPERM2F128 $0x31, Y7, Y3, Y15 // p7

	VMOVUPS Y8, 0(DI)
	VMOVUPS Y9, 64(DI)
	VMOVUPS Y10, 128(DI)
	VMOVUPS Y11, 192(DI)
	VMOVUPS Y12, 256(DI)
	VMOVUPS Y13, 320(DI)
	VMOVUPS Y14, 384(DI)
	VMOVUPS Y15, 448(DI)

	ADDQ $32, SI
	ADDQ $32, R9
	ADDQ $32, R10
	ADDQ $512, DI
	DECQ CX
	JNZ  packBT8loop

	VZEROUPPER
	RET

// func sgemmPackA6T(k int, src *float32, lds int, dst *float32)
//
// Packs an A micro-panel from the stored transpose of A: dst[6p+i] =
// src[p·lds+i] for p < k, i < 6, one 16-byte and one 8-byte move per p.
TEXT ·sgemmPackA6T(SB), NOSPLIT, $0-32
	MOVQ k+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI

packA6Tloop:
	VMOVUPS (SI), X0
	VMOVQ   16(SI), X1
	VMOVUPS X0, (DI)
	VMOVQ   X1, 16(DI)
	ADDQ    R8, SI
	ADDQ    $24, DI
	DECQ    CX
	JNZ     packA6Tloop
	RET

// AVX-512F micro-kernel: two 6-row A micro-panels against one B micro-panel.
//
// Kernel registers:
//	AX   packed A, upper tile: k steps of 6 floats (24 bytes)
//	R13  packed A, lower tile: the next micro-panel, AX + 24·k
//	BX   packed B: k steps of 16 floats (64 bytes)
//	CX   k-loop counter
//	DX   C tile, top-left element
//	R8   ldc in bytes
//	R11  pairs of tiles left
//	R12  24·k, the A micro-panel size in bytes
//	Z0..Z11   the 12×16 accumulator: row i of the pair is Zi
//	Z12, Z13  one row of B (16 floats)
//	Z15       alpha, broadcast
//
// Each FMA takes its A value as an embedded broadcast from memory, so a k
// step is one 64-byte load of B and 12 FMAs.

// ZSTEP does one rank-1 update of the 12×16 accumulator: the B row at
// offset b of BX (into register zb) times the 6 A values at offsets a0..a5
// of AX (rows 0-5) and of R13 (rows 6-11).
#define ZSTEP(zb, b, a0, a1, a2, a3, a4, a5) \
	VMOVUPS          b(BX), zb;       \
	VFMADD231PS.BCST a0(AX), zb, Z0;  \
	VFMADD231PS.BCST a1(AX), zb, Z1;  \
	VFMADD231PS.BCST a2(AX), zb, Z2;  \
	VFMADD231PS.BCST a3(AX), zb, Z3;  \
	VFMADD231PS.BCST a4(AX), zb, Z4;  \
	VFMADD231PS.BCST a5(AX), zb, Z5;  \
	VFMADD231PS.BCST a0(R13), zb, Z6; \
	VFMADD231PS.BCST a1(R13), zb, Z7; \
	VFMADD231PS.BCST a2(R13), zb, Z8; \
	VFMADD231PS.BCST a3(R13), zb, Z9; \
	VFMADD231PS.BCST a4(R13), zb, Z10; \
	VFMADD231PS.BCST a5(R13), zb, Z11

// ZSTORE adds alpha (Z15) times accumulator row z to the 16 floats at DX,
// then moves DX down one row; ZSTORENEW overwrites them instead.
#define ZSTORE(z) \
	VMOVUPS     (DX), Z12;     \
	VFMADD231PS z, Z15, Z12;   \
	VMOVUPS     Z12, (DX);     \
	ADDQ        R8, DX

#define ZSTORENEW(z) \
	VMULPS  z, Z15, Z12; \
	VMOVUPS Z12, (DX);   \
	ADDQ    R8, DX

// ZPREFETCHC warms one C row (64 bytes, maybe across two lines) at R9 and
// moves R9 down one row.
#define ZPREFETCHC \
	PREFETCHT0 (R9);   \
	PREFETCHT0 63(R9); \
	ADDQ       R8, R9

// func sgemmKernel12x16Z(k, pairs int, a, b, c *float32, ldc int, accumulate bool, alpha float32)
//
// For t in [0, pairs): C[12t:12t+12, 0:16] += alpha · [Apanel(2t); Apanel(2t+1)]
// · Bpanel, the A micro-panels back to back (6k floats each) and Bpanel the
// one packed B micro-panel; = instead of += when accumulate is false.
// Requires k ≥ 1, pairs ≥ 1, and AVX-512F.
TEXT ·sgemmKernel12x16Z(SB), NOSPLIT, $0-56
	MOVQ a+16(FP), AX
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8
	MOVQ pairs+8(FP), R11
	MOVQ k+0(FP), R12
	LEAQ (R12)(R12*2), R12
	SHLQ $3, R12           // 24·k

zpair:
	MOVQ b+24(FP), BX
	MOVQ k+0(FP), CX
	LEAQ (AX)(R12*1), R13

	// Warm the 12 C rows this pair will update while the k loop runs.
	MOVQ DX, R9
	ZPREFETCHC
	ZPREFETCHC
	ZPREFETCHC
	ZPREFETCHC
	ZPREFETCHC
	ZPREFETCHC
	ZPREFETCHC
	ZPREFETCHC
	ZPREFETCHC
	ZPREFETCHC
	ZPREFETCHC
	ZPREFETCHC

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11

	MOVQ CX, R10
	SHRQ $2, R10
	JZ   ztail

zloop4:
	ZSTEP(Z12, 0, 0, 4, 8, 12, 16, 20)
	ZSTEP(Z13, 64, 24, 28, 32, 36, 40, 44)
	ZSTEP(Z12, 128, 48, 52, 56, 60, 64, 68)
	ZSTEP(Z13, 192, 72, 76, 80, 84, 88, 92)
	ADDQ $96, AX
	ADDQ $96, R13
	ADDQ $256, BX
	DECQ R10
	JNZ  zloop4

ztail:
	ANDQ $3, CX
	JZ   zstore

zloop1:
	ZSTEP(Z12, 0, 0, 4, 8, 12, 16, 20)
	ADDQ $24, AX
	ADDQ $24, R13
	ADDQ $64, BX
	DECQ CX
	JNZ  zloop1

zstore:
	VBROADCASTSS alpha+52(FP), Z15
	CMPB         accumulate+48(FP), $0
	JEQ          zstorenew
	ZSTORE(Z0)
	ZSTORE(Z1)
	ZSTORE(Z2)
	ZSTORE(Z3)
	ZSTORE(Z4)
	ZSTORE(Z5)
	ZSTORE(Z6)
	ZSTORE(Z7)
	ZSTORE(Z8)
	ZSTORE(Z9)
	ZSTORE(Z10)
	ZSTORE(Z11)
	JMP          znextpair

zstorenew:
	ZSTORENEW(Z0)
	ZSTORENEW(Z1)
	ZSTORENEW(Z2)
	ZSTORENEW(Z3)
	ZSTORENEW(Z4)
	ZSTORENEW(Z5)
	ZSTORENEW(Z6)
	ZSTORENEW(Z7)
	ZSTORENEW(Z8)
	ZSTORENEW(Z9)
	ZSTORENEW(Z10)
	ZSTORENEW(Z11)

znextpair:
	// R13 is at the end of the lower tile's A micro-panel, where the next
	// pair's begins; DX is at the next pair's first C row.
	MOVQ R13, AX
	DECQ R11
	JNZ  zpair

	VZEROUPPER
	RET

// func sgemmPackB16(k int, src *float32, lds int, dst *float32)
//
// Packs a B micro-panel from k rows of the stored B: dst[16p+j] =
// src[p·lds+j] for p < k, j < 16, two 32-byte moves per row.
TEXT ·sgemmPackB16(SB), NOSPLIT, $0-32
	MOVQ k+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI

packB16loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    R8, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     packB16loop

	VZEROUPPER
	RET
