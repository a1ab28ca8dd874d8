#include "textflag.h"

// AVX kernels of the float32 elementwise arithmetic (binary_amd64.go): the
// packed instructions round each lane exactly as the scalar ones do, so the
// results are those of the Go loops, bit for bit. Each loop takes 32 floats
// (four YMM registers) a turn, then 8, then the tail one at a time.

// VV(NAME, PS, SS): d[i] = a[i] op b[i].
// func NAME(d, a, b *float32, n int)
#define VV(NAME, PS, SS) \
TEXT NAME(SB), NOSPLIT, $0-32 \
	MOVQ d+0(FP), DI \
	MOVQ a+8(FP), SI \
	MOVQ b+16(FP), DX \
	MOVQ n+24(FP), CX \
loop32: \
	CMPQ CX, $32 \
	JL   loop8 \
	VMOVUPS (SI), Y0 \
	VMOVUPS 32(SI), Y1 \
	VMOVUPS 64(SI), Y2 \
	VMOVUPS 96(SI), Y3 \
	PS (DX), Y0, Y0 \
	PS 32(DX), Y1, Y1 \
	PS 64(DX), Y2, Y2 \
	PS 96(DX), Y3, Y3 \
	VMOVUPS Y0, (DI) \
	VMOVUPS Y1, 32(DI) \
	VMOVUPS Y2, 64(DI) \
	VMOVUPS Y3, 96(DI) \
	ADDQ $128, SI \
	ADDQ $128, DX \
	ADDQ $128, DI \
	SUBQ $32, CX \
	JMP  loop32 \
loop8: \
	CMPQ CX, $8 \
	JL   tail \
	VMOVUPS (SI), Y0 \
	PS (DX), Y0, Y0 \
	VMOVUPS Y0, (DI) \
	ADDQ $32, SI \
	ADDQ $32, DX \
	ADDQ $32, DI \
	SUBQ $8, CX \
	JMP  loop8 \
tail: \
	TESTQ CX, CX \
	JE   done \
	VMOVSS (SI), X0 \
	SS (DX), X0, X0 \
	VMOVSS X0, (DI) \
	ADDQ $4, SI \
	ADDQ $4, DX \
	ADDQ $4, DI \
	DECQ CX \
	JMP  tail \
done: \
	VZEROUPPER \
	RET

// VS(NAME, PS, SS): d[i] = a[i] op y.
// func NAME(d, a *float32, n int, y float32)
#define VS(NAME, PS, SS) \
TEXT NAME(SB), NOSPLIT, $0-28 \
	MOVQ d+0(FP), DI \
	MOVQ a+8(FP), SI \
	MOVQ n+16(FP), CX \
	VBROADCASTSS y+24(FP), Y15 \
loop32: \
	CMPQ CX, $32 \
	JL   loop8 \
	VMOVUPS (SI), Y0 \
	VMOVUPS 32(SI), Y1 \
	VMOVUPS 64(SI), Y2 \
	VMOVUPS 96(SI), Y3 \
	PS Y15, Y0, Y0 \
	PS Y15, Y1, Y1 \
	PS Y15, Y2, Y2 \
	PS Y15, Y3, Y3 \
	VMOVUPS Y0, (DI) \
	VMOVUPS Y1, 32(DI) \
	VMOVUPS Y2, 64(DI) \
	VMOVUPS Y3, 96(DI) \
	ADDQ $128, SI \
	ADDQ $128, DI \
	SUBQ $32, CX \
	JMP  loop32 \
loop8: \
	CMPQ CX, $8 \
	JL   tail \
	VMOVUPS (SI), Y0 \
	PS Y15, Y0, Y0 \
	VMOVUPS Y0, (DI) \
	ADDQ $32, SI \
	ADDQ $32, DI \
	SUBQ $8, CX \
	JMP  loop8 \
tail: \
	TESTQ CX, CX \
	JE   done \
	VMOVSS (SI), X0 \
	SS X15, X0, X0 \
	VMOVSS X0, (DI) \
	ADDQ $4, SI \
	ADDQ $4, DI \
	DECQ CX \
	JMP  tail \
done: \
	VZEROUPPER \
	RET

// SV(NAME, PS, SS): d[i] = x op b[i].
// func NAME(d, b *float32, n int, x float32)
#define SV(NAME, PS, SS) \
TEXT NAME(SB), NOSPLIT, $0-28 \
	MOVQ d+0(FP), DI \
	MOVQ b+8(FP), SI \
	MOVQ n+16(FP), CX \
	VBROADCASTSS x+24(FP), Y15 \
loop32: \
	CMPQ CX, $32 \
	JL   loop8 \
	VMOVUPS (SI), Y0 \
	VMOVUPS 32(SI), Y1 \
	VMOVUPS 64(SI), Y2 \
	VMOVUPS 96(SI), Y3 \
	PS Y0, Y15, Y0 \
	PS Y1, Y15, Y1 \
	PS Y2, Y15, Y2 \
	PS Y3, Y15, Y3 \
	VMOVUPS Y0, (DI) \
	VMOVUPS Y1, 32(DI) \
	VMOVUPS Y2, 64(DI) \
	VMOVUPS Y3, 96(DI) \
	ADDQ $128, SI \
	ADDQ $128, DI \
	SUBQ $32, CX \
	JMP  loop32 \
loop8: \
	CMPQ CX, $8 \
	JL   tail \
	VMOVUPS (SI), Y0 \
	PS Y0, Y15, Y0 \
	VMOVUPS Y0, (DI) \
	ADDQ $32, SI \
	ADDQ $32, DI \
	SUBQ $8, CX \
	JMP  loop8 \
tail: \
	TESTQ CX, CX \
	JE   done \
	VMOVSS (SI), X0 \
	SS X0, X15, X0 \
	VMOVSS X0, (DI) \
	ADDQ $4, SI \
	ADDQ $4, DI \
	DECQ CX \
	JMP  tail \
done: \
	VZEROUPPER \
	RET

VV(·addVV32, VADDPS, VADDSS)
VV(·subVV32, VSUBPS, VSUBSS)
VV(·mulVV32, VMULPS, VMULSS)
VV(·divVV32, VDIVPS, VDIVSS)
VS(·addVS32, VADDPS, VADDSS)
VS(·subVS32, VSUBPS, VSUBSS)
VS(·mulVS32, VMULPS, VMULSS)
VS(·divVS32, VDIVPS, VDIVSS)
SV(·subSV32, VSUBPS, VSUBSS)
SV(·divSV32, VDIVPS, VDIVSS)

// func affine32(d, a *float32, n int, s, c float32)
// d[i] = s*a[i] + c, a multiply then an add (no fused multiply-add).
TEXT ·affine32(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS s+24(FP), Y14
	VBROADCASTSS c+28(FP), Y15
loop32:
	CMPQ CX, $32
	JL   loop8
	VMULPS (SI), Y14, Y0
	VMULPS 32(SI), Y14, Y1
	VMULPS 64(SI), Y14, Y2
	VMULPS 96(SI), Y14, Y3
	VADDPS Y15, Y0, Y0
	VADDPS Y15, Y1, Y1
	VADDPS Y15, Y2, Y2
	VADDPS Y15, Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  loop32
loop8:
	CMPQ CX, $8
	JL   tail
	VMULPS (SI), Y14, Y0
	VADDPS Y15, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  loop8
tail:
	TESTQ CX, CX
	JE   done
	VMOVSS (SI), X0
	VMULSS X14, X0, X0
	VADDSS X15, X0, X0
	VMOVSS X0, (DI)
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  tail
done:
	VZEROUPPER
	RET

// func sum32(x *float32, n int) float64
// The sum of x[0:n] in float64: sixteen partial sums (four YMM registers of
// four float64 lanes), added together at the end, then the tail in order.
TEXT ·sum32(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
loop16:
	CMPQ CX, $16
	JL   fold
	VCVTPS2PD (SI), Y4
	VCVTPS2PD 16(SI), Y5
	VCVTPS2PD 32(SI), Y6
	VCVTPS2PD 48(SI), Y7
	VADDPD Y4, Y0, Y0
	VADDPD Y5, Y1, Y1
	VADDPD Y6, Y2, Y2
	VADDPD Y7, Y3, Y3
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  loop16
fold:
	VADDPD Y1, Y0, Y0
	VADDPD Y3, Y2, Y2
	VADDPD Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD X1, X0, X0
	VHADDPD X0, X0, X0
tail:
	TESTQ CX, CX
	JE   done
	VCVTSS2SD (SI), X2, X2
	VADDSD X2, X0, X0
	ADDQ $4, SI
	DECQ CX
	JMP  tail
done:
	VMOVSD X0, ret+16(FP)
	VZEROUPPER
	RET

// func fill32(d *float32, n int, v float32)
// d[i] = v for i < n.
TEXT ·fill32(SB), NOSPLIT, $0-20
	MOVQ d+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS v+16(FP), Y0
loop32:
	CMPQ CX, $32
	JL   loop8
	VMOVUPS Y0, (DI)
	VMOVUPS Y0, 32(DI)
	VMOVUPS Y0, 64(DI)
	VMOVUPS Y0, 96(DI)
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  loop32
loop8:
	CMPQ CX, $8
	JL   tail
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  loop8
tail:
	TESTQ CX, CX
	JE   done
	VMOVSS X0, (DI)
	ADDQ $4, DI
	DECQ CX
	JMP  tail
done:
	VZEROUPPER
	RET

// UN(NAME, SETUP, OP): d[i] = OP(a[i]), Y0 holding a[i] and Y15 what SETUP
// put there; the tail takes one float a turn through the same instructions.
// func NAME(d, a *float32, n int)
#define UN(NAME, SETUP, OP) \
TEXT NAME(SB), NOSPLIT, $0-24 \
	MOVQ d+0(FP), DI \
	MOVQ a+8(FP), SI \
	MOVQ n+16(FP), CX \
	SETUP \
loop8: \
	CMPQ CX, $8 \
	JL   tail \
	VMOVUPS (SI), Y0 \
	OP \
	VMOVUPS Y0, (DI) \
	ADDQ $32, SI \
	ADDQ $32, DI \
	SUBQ $8, CX \
	JMP  loop8 \
tail: \
	TESTQ CX, CX \
	JE   done \
	VMOVSS (SI), X0 \
	OP \
	VMOVSS X0, (DI) \
	ADDQ $4, SI \
	ADDQ $4, DI \
	DECQ CX \
	JMP  tail \
done: \
	VZEROUPPER \
	RET

// x·x.
#define SQUARE VMULPS Y0, Y0, Y0
// max(x, +0) with +0 as the second source, which MAXPS returns when x is
// NaN or ±0: x > 0 ? x : 0 exactly.
#define RELU VMAXPS Y15, Y0, Y0
// x > 0 (ordered: false for NaN) as an all-ones mask, and-ed with 1.0.
#define STEP VCMPPS $0x1e, Y15, Y0, Y0; VANDPS Y14, Y0, Y0

#define ZERO VXORPS Y15, Y15, Y15
#define ZEROONE VXORPS Y15, Y15, Y15; MOVL $0x3f800000, AX; MOVL AX, X14; VBROADCASTSS X14, Y14
#define NONE

UN(·square32, NONE, SQUARE)
UN(·relu32, ZERO, RELU)
UN(·step32, ZEROONE, STEP)

// func leaky32(d, a, y *float32, n int, s float32)
// d[i] = y[i] > 0 ? a[i] : s·a[i] (ordered compare: false for NaN), the
// selection by a blend on the compare's mask. With y = a it is LeakyReLU,
// with y the layer's output and a the adjoint its VJP.
TEXT ·leaky32(SB), NOSPLIT, $0-36
	MOVQ d+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS s+32(FP), Y15
	VXORPS Y14, Y14, Y14
loop8:
	CMPQ CX, $8
	JL   tail
	VMOVUPS (SI), Y0
	VMOVUPS (DX), Y1
	VMULPS Y15, Y0, Y2
	VCMPPS $0x1e, Y14, Y1, Y1
	VBLENDVPS Y1, Y0, Y2, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  loop8
tail:
	TESTQ CX, CX
	JE   done
	VMOVSS (SI), X0
	VMOVSS (DX), X1
	VMULPS X15, X0, X2
	VCMPPS $0x1e, X14, X1, X1
	VBLENDVPS X1, X0, X2, X0
	VMOVSS X0, (DI)
	ADDQ $4, SI
	ADDQ $4, DX
	ADDQ $4, DI
	DECQ CX
	JMP  tail
done:
	VZEROUPPER
	RET

// func normGradRow32(d, gr, y *float32, n int, b, a, r float32)
// d[i] = ((g[i] − y[i]·b) − a)·r, each operation rounded on its own (no
// fused multiply-add): NormalizeGrad's per-channel row in one pass, bit for
// bit its four row operations (binRow32 mul, sub, sub, mul).
TEXT ·normGradRow32(SB), NOSPLIT, $0-44
	MOVQ d+0(FP), DI
	MOVQ gr+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS b+32(FP), Y13
	VBROADCASTSS a+36(FP), Y14
	VBROADCASTSS r+40(FP), Y15
loop16:
	CMPQ CX, $16
	JL   loop8
	VMULPS (DX), Y13, Y0
	VMULPS 32(DX), Y13, Y1
	VMOVUPS (SI), Y2
	VMOVUPS 32(SI), Y3
	VSUBPS Y0, Y2, Y0
	VSUBPS Y1, Y3, Y1
	VSUBPS Y14, Y0, Y0
	VSUBPS Y14, Y1, Y1
	VMULPS Y15, Y0, Y0
	VMULPS Y15, Y1, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  loop16
loop8:
	CMPQ CX, $8
	JL   tail
	VMULPS (DX), Y13, Y0
	VMOVUPS (SI), Y2
	VSUBPS Y0, Y2, Y0
	VSUBPS Y14, Y0, Y0
	VMULPS Y15, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  loop8
tail:
	TESTQ CX, CX
	JE   done
	VMOVSS (DX), X0
	VMULSS X13, X0, X0
	VMOVSS (SI), X2
	VSUBSS X0, X2, X0
	VSUBSS X14, X0, X0
	VMULSS X15, X0, X0
	VMOVSS X0, (DI)
	ADDQ $4, SI
	ADDQ $4, DX
	ADDQ $4, DI
	DECQ CX
	JMP  tail
done:
	VZEROUPPER
	RET

// func sumDot32(x, y *float32, n int) (sx, sxy float64)
// sx: the sum of x[0:n] in float64, exactly as sum32 computes it; sxy: the
// sum of x[i]·y[i] in float64 (each product exact) in the same order:
// sixteen partial sums, added together at the end, then the tail in order.
TEXT ·sumDot32(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DX
	MOVQ n+16(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11
loop16:
	CMPQ CX, $16
	JL   fold
	VCVTPS2PD (SI), Y4
	VCVTPS2PD 16(SI), Y5
	VCVTPS2PD 32(SI), Y6
	VCVTPS2PD 48(SI), Y7
	VCVTPS2PD (DX), Y12
	VCVTPS2PD 16(DX), Y13
	VCVTPS2PD 32(DX), Y14
	VCVTPS2PD 48(DX), Y15
	VADDPD Y4, Y0, Y0
	VADDPD Y5, Y1, Y1
	VADDPD Y6, Y2, Y2
	VADDPD Y7, Y3, Y3
	VMULPD Y4, Y12, Y12
	VMULPD Y5, Y13, Y13
	VMULPD Y6, Y14, Y14
	VMULPD Y7, Y15, Y15
	VADDPD Y12, Y8, Y8
	VADDPD Y13, Y9, Y9
	VADDPD Y14, Y10, Y10
	VADDPD Y15, Y11, Y11
	ADDQ $64, SI
	ADDQ $64, DX
	SUBQ $16, CX
	JMP  loop16
fold:
	VADDPD Y1, Y0, Y0
	VADDPD Y3, Y2, Y2
	VADDPD Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD X1, X0, X0
	VHADDPD X0, X0, X0
	VADDPD Y9, Y8, Y8
	VADDPD Y11, Y10, Y10
	VADDPD Y10, Y8, Y8
	VEXTRACTF128 $1, Y8, X9
	VADDPD X9, X8, X8
	VHADDPD X8, X8, X8
tail:
	TESTQ CX, CX
	JE   done
	VCVTSS2SD (SI), X2, X2
	VADDSD X2, X0, X0
	VCVTSS2SD (DX), X3, X3
	VMULSD X2, X3, X3
	VADDSD X3, X8, X8
	ADDQ $4, SI
	ADDQ $4, DX
	DECQ CX
	JMP  tail
done:
	VMOVSD X0, sx+24(FP)
	VMOVSD X8, sxy+32(FP)
	VZEROUPPER
	RET
