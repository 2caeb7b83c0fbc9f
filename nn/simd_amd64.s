//go:build amd64

#include "textflag.h"

// AVX2+FMA loops of simd_amd64.go. The element-wise loops take n, a
// multiple of 8 (the caller finishes the rest). The depthwise row loops
// take n >= 8 outputs in vectors of 8; when n is not a multiple of 8 the
// last vector starts at n-8 and recomputes a few outputs (dst is never an
// input, so recomputing is harmless).

// func clampAVX(x, y *float32, n int, lo, hi float32)
//
// y[i] = min(hi, max(lo, x[i])); x[i] is the second operand of VMAXPS and
// VMINPS, which return it when either operand is NaN: NaN propagates.
TEXT ·clampAVX(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	MOVSS lo+24(FP), X0
	MOVSS hi+28(FP), X1
	VBROADCASTSS X0, Y14
	VBROADCASTSS X1, Y15
	XORQ BX, BX
	TESTQ CX, CX
	JZ clampDone
clampLoop:
	VMAXPS (SI)(BX*4), Y14, Y0
	VMINPS Y0, Y15, Y0
	VMOVUPS Y0, (DI)(BX*4)
	ADDQ $8, BX
	CMPQ BX, CX
	JLT clampLoop
clampDone:
	VZEROUPPER
	RET

// func affineAVX(x, y *float32, n int, sc, sh float32)
//
// y[i] = x[i]·sc + sh, rounded after the product as in Go (no FMA).
TEXT ·affineAVX(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	MOVSS sc+24(FP), X0
	MOVSS sh+28(FP), X1
	VBROADCASTSS X0, Y14
	VBROADCASTSS X1, Y15
	XORQ BX, BX
	TESTQ CX, CX
	JZ affineDone
affineLoop:
	VMULPS (SI)(BX*4), Y14, Y0
	VADDPS Y15, Y0, Y0
	VMOVUPS Y0, (DI)(BX*4)
	ADDQ $8, BX
	CMPQ BX, CX
	JLT affineLoop
affineDone:
	VZEROUPPER
	RET

// func dw3x3s1AVX(dst, r0, r1, r2, w *float32, n int)
//
// dst[x] = Σ_{i,j<3} w[3i+j]·ri[x+j] for x < n: one output row of a 3×3
// depthwise correlation, column stride 1; reads ri[0 .. n+1].
TEXT ·dw3x3s1AVX(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ r0+8(FP), R8
	MOVQ r1+16(FP), R9
	MOVQ r2+24(FP), R10
	MOVQ w+32(FP), AX
	MOVQ n+40(FP), CX
	VBROADCASTSS 0(AX), Y0
	VBROADCASTSS 4(AX), Y1
	VBROADCASTSS 8(AX), Y2
	VBROADCASTSS 12(AX), Y3
	VBROADCASTSS 16(AX), Y4
	VBROADCASTSS 20(AX), Y5
	VBROADCASTSS 24(AX), Y6
	VBROADCASTSS 28(AX), Y7
	VBROADCASTSS 32(AX), Y8
	MOVQ CX, DX
	SUBQ $8, DX
	XORQ BX, BX
s1Loop:
	CMPQ BX, DX
	JLE s1Body
	CMPQ BX, CX
	JGE s1Done
	MOVQ DX, BX
s1Body:
	VMULPS (R8)(BX*4), Y0, Y9
	VMULPS 4(R8)(BX*4), Y1, Y10
	VMULPS 8(R8)(BX*4), Y2, Y11
	VFMADD231PS (R9)(BX*4), Y3, Y9
	VFMADD231PS 4(R9)(BX*4), Y4, Y10
	VFMADD231PS 8(R9)(BX*4), Y5, Y11
	VFMADD231PS (R10)(BX*4), Y6, Y9
	VFMADD231PS 4(R10)(BX*4), Y7, Y10
	VFMADD231PS 8(R10)(BX*4), Y8, Y11
	VADDPS Y10, Y9, Y9
	VADDPS Y11, Y9, Y9
	VMOVUPS Y9, (DI)(BX*4)
	ADDQ $8, BX
	JMP s1Loop
s1Done:
	VZEROUPPER
	RET

// func dw3x3s2AVX(dst, r0, r1, r2, w *float32, n int)
//
// dst[x] = Σ_{i,j<3} w[3i+j]·ri[2x+j] for x < n, column stride 2; reads
// ri[0 .. 2n]. VSHUFPS gathers the even (0x88) and odd (0xDD) elements of
// two loads in the lane order x+0,1,4,5 | x+2,3,6,7; the taps j = 2 take
// the evens of ri[2x+2 ..] and the odds of ri[2x+9 ..] (0xD8) in the same
// order, so one VPERMPD restores it before the store, and no load passes
// ri[2n].
TEXT ·dw3x3s2AVX(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ r0+8(FP), R8
	MOVQ r1+16(FP), R9
	MOVQ r2+24(FP), R10
	MOVQ w+32(FP), AX
	MOVQ n+40(FP), CX
	VBROADCASTSS 0(AX), Y0
	VBROADCASTSS 4(AX), Y1
	VBROADCASTSS 8(AX), Y2
	VBROADCASTSS 12(AX), Y3
	VBROADCASTSS 16(AX), Y4
	VBROADCASTSS 20(AX), Y5
	VBROADCASTSS 24(AX), Y6
	VBROADCASTSS 28(AX), Y7
	VBROADCASTSS 32(AX), Y8
	MOVQ CX, DX
	SUBQ $8, DX
	XORQ BX, BX
s2Loop:
	CMPQ BX, DX
	JLE s2Body
	CMPQ BX, CX
	JGE s2Done
	MOVQ DX, BX
s2Body:
	// row 0 into Y14
	VMOVUPS (R8)(BX*8), Y9
	VMOVUPS 32(R8)(BX*8), Y10
	VSHUFPS $0x88, Y10, Y9, Y11
	VSHUFPS $0xDD, Y10, Y9, Y12
	VMOVUPS 8(R8)(BX*8), Y9
	VMOVUPS 36(R8)(BX*8), Y10
	VSHUFPS $0xD8, Y10, Y9, Y13
	VMULPS Y11, Y0, Y14
	VFMADD231PS Y12, Y1, Y14
	VFMADD231PS Y13, Y2, Y14
	// row 1 into Y15
	VMOVUPS (R9)(BX*8), Y9
	VMOVUPS 32(R9)(BX*8), Y10
	VSHUFPS $0x88, Y10, Y9, Y11
	VSHUFPS $0xDD, Y10, Y9, Y12
	VMOVUPS 8(R9)(BX*8), Y9
	VMOVUPS 36(R9)(BX*8), Y10
	VSHUFPS $0xD8, Y10, Y9, Y13
	VMULPS Y11, Y3, Y15
	VFMADD231PS Y12, Y4, Y15
	VFMADD231PS Y13, Y5, Y15
	// row 2 into Y14
	VMOVUPS (R10)(BX*8), Y9
	VMOVUPS 32(R10)(BX*8), Y10
	VSHUFPS $0x88, Y10, Y9, Y11
	VSHUFPS $0xDD, Y10, Y9, Y12
	VMOVUPS 8(R10)(BX*8), Y9
	VMOVUPS 36(R10)(BX*8), Y10
	VSHUFPS $0xD8, Y10, Y9, Y13
	VFMADD231PS Y11, Y6, Y14
	VFMADD231PS Y12, Y7, Y14
	VFMADD231PS Y13, Y8, Y14
	VADDPS Y15, Y14, Y14
	VPERMPD $0xD8, Y14, Y14
	VMOVUPS Y14, (DI)(BX*4)
	ADDQ $8, BX
	JMP s2Loop
s2Done:
	VZEROUPPER
	RET
