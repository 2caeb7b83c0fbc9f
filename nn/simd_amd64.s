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

// func reluGradAVX(x, dy, dx *float32, n int, hi float32)
//
// dx[i] = dy[i] where 0 < x[i] and not hi <= x[i], else +0: the ReLU
// (hi NaN, so nothing is cut above) and ReLU6 (hi 6) derivatives without a
// data-dependent branch. NaN x gives 0 as in the portable loop.
TEXT ·reluGradAVX(SB), NOSPLIT, $0-36
	MOVQ x+0(FP), SI
	MOVQ dy+8(FP), DX
	MOVQ dx+16(FP), DI
	MOVQ n+24(FP), CX
	MOVSS hi+32(FP), X0
	VBROADCASTSS X0, Y15
	VXORPS Y14, Y14, Y14
	XORQ BX, BX
	TESTQ CX, CX
	JZ reluGradDone
reluGradLoop:
	VCMPPS $1, (SI)(BX*4), Y14, Y1
	VCMPPS $2, (SI)(BX*4), Y15, Y2
	VANDNPS Y1, Y2, Y0
	VANDPS (DX)(BX*4), Y0, Y0
	VMOVUPS Y0, (DI)(BX*4)
	ADDQ $8, BX
	CMPQ BX, CX
	JLT reluGradLoop
reluGradDone:
	VZEROUPPER
	RET

// Even input columns 0, 2, …, 14 in the lane order that VSHUFPS leaves
// (0 2 8 10 | 4 6 12 14) is undone by VPERMPD $0xD8 at the end, so the
// index vector is kept in natural order.
DATA max2x2Cols<>+0(SB)/4, $0
DATA max2x2Cols<>+4(SB)/4, $2
DATA max2x2Cols<>+8(SB)/4, $4
DATA max2x2Cols<>+12(SB)/4, $6
DATA max2x2Cols<>+16(SB)/4, $8
DATA max2x2Cols<>+20(SB)/4, $10
DATA max2x2Cols<>+24(SB)/4, $12
DATA max2x2Cols<>+28(SB)/4, $14
GLOBL max2x2Cols<>(SB), RODATA|NOPTR, $32

// func max2x2AVX(r0, r1, dst *float32, arg *int32, n, w, base int)
//
// One output row of 2×2/2 max pooling: dst[j] is the maximum of r0[2j],
// r0[2j+1], r1[2j], r1[2j+1] taken in that order with a strict >, so ties
// and a NaN already held keep the earlier element, as in the Go loop;
// arg[j] = base + 2j + (0, 1, w or w+1). n is a multiple of 8.
TEXT ·max2x2AVX(SB), NOSPLIT, $0-56
	MOVQ r0+0(FP), SI
	MOVQ r1+8(FP), DX
	MOVQ dst+16(FP), DI
	MOVQ arg+24(FP), R8
	MOVQ n+32(FP), CX
	// Broadcasts straight from memory and VEX-only set-up: a legacy SSE
	// move here (MOVQ AX, X0) once the upper halves are dirty costs more
	// than the whole row.
	VPBROADCASTD w+40(FP), Y10
	VPCMPEQD Y12, Y12, Y12
	VPXOR Y0, Y0, Y0
	VPSUBD Y12, Y0, Y12
	VPADDD Y12, Y10, Y11
	VPSLLD $4, Y12, Y9
	VPBROADCASTD base+48(FP), Y13
	VPADDD max2x2Cols<>(SB), Y13, Y13
	XORQ BX, BX
	XORQ R9, R9
	TESTQ CX, CX
	JZ max2x2Done
max2x2Loop:
	VMOVUPS (SI)(R9*4), Y0
	VMOVUPS 32(SI)(R9*4), Y1
	VSHUFPS $0x88, Y1, Y0, Y2
	VSHUFPS $0xDD, Y1, Y0, Y3
	VMOVUPS (DX)(R9*4), Y0
	VMOVUPS 32(DX)(R9*4), Y1
	VSHUFPS $0x88, Y1, Y0, Y4
	VSHUFPS $0xDD, Y1, Y0, Y5
	VXORPS Y6, Y6, Y6
	VCMPPS $0x0E, Y2, Y3, Y7
	VBLENDVPS Y7, Y3, Y2, Y2
	VBLENDVPS Y7, Y12, Y6, Y6
	VCMPPS $0x0E, Y2, Y4, Y7
	VBLENDVPS Y7, Y4, Y2, Y2
	VBLENDVPS Y7, Y10, Y6, Y6
	VCMPPS $0x0E, Y2, Y5, Y7
	VBLENDVPS Y7, Y5, Y2, Y2
	VBLENDVPS Y7, Y11, Y6, Y6
	VPERMPD $0xD8, Y2, Y2
	VPERMPD $0xD8, Y6, Y6
	VPADDD Y13, Y6, Y6
	VMOVUPS Y2, (DI)(BX*4)
	VMOVDQU Y6, (R8)(BX*4)
	VPADDD Y9, Y13, Y13
	ADDQ $8, BX
	ADDQ $16, R9
	CMPQ BX, CX
	JLT max2x2Loop
max2x2Done:
	VZEROUPPER
	RET

// func addAVX(dst, src *float32, n int)
//
// dst[i] += src[i], element-wise, so the same bits as the Go loop.
TEXT ·addAVX(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	XORQ BX, BX
	TESTQ CX, CX
	JZ addDone
addLoop:
	VMOVUPS (DI)(BX*4), Y0
	VADDPS (SI)(BX*4), Y0, Y0
	VMOVUPS Y0, (DI)(BX*4)
	ADDQ $8, BX
	CMPQ BX, CX
	JLT addLoop
addDone:
	VZEROUPPER
	RET

DATA tapIota<>+0(SB)/4, $0
DATA tapIota<>+4(SB)/4, $1
DATA tapIota<>+8(SB)/4, $2
DATA tapIota<>+12(SB)/4, $3
DATA tapIota<>+16(SB)/4, $4
DATA tapIota<>+20(SB)/4, $5
DATA tapIota<>+24(SB)/4, $6
DATA tapIota<>+28(SB)/4, $7
GLOBL tapIota<>(SB), RODATA|NOPTR, $32
DATA tapSteps<>+0(SB)/4, $8
DATA tapSteps<>+4(SB)/4, $16
GLOBL tapSteps<>(SB), RODATA|NOPTR, $8

// func maxTapAVX(d *float32, a *int32, row *float32, n, idx0, s int)
//
// One tap of a max pooling over n outputs (a multiple of 8): where
// row[j·s] > d[j] (strict, so ties and a NaN already held stay),
// d[j] = row[j·s] and a[j] = idx0 + j·s; s is 1 or 2.
TEXT ·maxTapAVX(SB), NOSPLIT, $0-48
	MOVQ d+0(FP), DI
	MOVQ a+8(FP), R8
	MOVQ row+16(FP), SI
	MOVQ n+24(FP), CX
	MOVQ s+40(FP), DX
	MOVQ DX, R10
	SHLQ $5, R10 // bytes of row per 8 outputs
	VPBROADCASTD idx0+32(FP), Y5
	CMPQ DX, $2
	JEQ tapStride2
	VPADDD tapIota<>(SB), Y5, Y5
	VPBROADCASTD tapSteps<>+0(SB), Y9
	JMP tapLoop
tapStride2:
	VPADDD max2x2Cols<>(SB), Y5, Y5
	VPBROADCASTD tapSteps<>+4(SB), Y9
tapLoop:
	CMPQ DX, $2
	JEQ tapLoad2
	VMOVUPS (SI), Y2
	JMP tapKeep
tapLoad2: // the even elements of 16
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VSHUFPS $0x88, Y1, Y0, Y2
	VPERMPD $0xD8, Y2, Y2
tapKeep:
	VMOVUPS (DI), Y3
	VMOVDQU (R8), Y4
	VCMPPS $0x0E, Y3, Y2, Y7
	VBLENDVPS Y7, Y2, Y3, Y3
	VBLENDVPS Y7, Y5, Y4, Y4
	VMOVUPS Y3, (DI)
	VMOVDQU Y4, (R8)
	VPADDD Y9, Y5, Y5
	ADDQ R10, SI
	ADDQ $32, DI
	ADDQ $32, R8
	SUBQ $8, CX
	JNZ tapLoop
	VZEROUPPER
	RET

// The constants of erff (fastmath.go) as float32, and of GELU.
DATA geluConsts<>+0(SB)/4, $0xc0800000 // geluLo -4.0
DATA geluConsts<>+4(SB)/4, $0x40800000 // geluHi 4.0
DATA geluConsts<>+8(SB)/4, $0x3f3504f3 // geluInvSqrt2 0.7071067811865476
DATA geluConsts<>+12(SB)/4, $0x3f000000 // geluHalf 0.5
DATA geluConsts<>+16(SB)/4, $0x3f800000 // geluOne 1.0
DATA geluConsts<>+20(SB)/4, $0xaf95df0b // geluP0 -2.72614225801306e-10
DATA geluConsts<>+24(SB)/4, $0x32edffee // geluP1 2.77068142495902e-08
DATA geluConsts<>+28(SB)/4, $0xb60cff51 // geluP2 -2.10102402082508e-06
DATA geluConsts<>+32(SB)/4, $0xb86ec2d2 // geluP3 -5.69250639462346e-05
DATA geluConsts<>+36(SB)/4, $0xba40ac63 // geluP4 -0.000734990630326855
DATA geluConsts<>+40(SB)/4, $0xbb41a1f6 // geluP5 -0.00295459980854025
DATA geluConsts<>+44(SB)/4, $0xbc83dbd4 // geluP6 -0.0160960333262415
DATA geluConsts<>+48(SB)/4, $0xb77460cd // geluQ0 -1.45660718464996e-05
DATA geluConsts<>+52(SB)/4, $0xb95fbd29 // geluQ1 -0.000213374055278905
DATA geluConsts<>+56(SB)/4, $0xbadc924e // geluQ2 -0.00168282697438203
DATA geluConsts<>+60(SB)/4, $0xbbf19bf8 // geluQ3 -0.00737332916720468
DATA geluConsts<>+64(SB)/4, $0xbc69b6a7 // geluQ4 -0.0142647390514189
GLOBL geluConsts<>(SB), RODATA|NOPTR, $68

// func geluAVX(x, y *float32, n int)
//
// y[i] = 0.5·x[i]·(1 + erff(x[i]/√2)) for n a multiple of 8, with the
// operations of the Go loop in its order (no FMA): the same bits.
TEXT ·geluAVX(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	VBROADCASTSS geluConsts<>+0(SB), Y8
	VBROADCASTSS geluConsts<>+4(SB), Y9
	VBROADCASTSS geluConsts<>+8(SB), Y10
	VBROADCASTSS geluConsts<>+12(SB), Y11
	VBROADCASTSS geluConsts<>+16(SB), Y12
	TESTQ CX, CX
	JZ geluDone
geluLoop:
	VMOVUPS (SI), Y0
	VMULPS Y10, Y0, Y1
	VMAXPS Y1, Y8, Y1
	VMINPS Y1, Y9, Y1
	VMULPS Y1, Y1, Y2
	VBROADCASTSS geluConsts<>+20(SB), Y3
	VMULPS Y3, Y2, Y3
	VBROADCASTSS geluConsts<>+24(SB), Y4
	VADDPS Y4, Y3, Y3
	VMULPS Y2, Y3, Y3
	VBROADCASTSS geluConsts<>+28(SB), Y4
	VADDPS Y4, Y3, Y3
	VMULPS Y2, Y3, Y3
	VBROADCASTSS geluConsts<>+32(SB), Y4
	VADDPS Y4, Y3, Y3
	VMULPS Y2, Y3, Y3
	VBROADCASTSS geluConsts<>+36(SB), Y4
	VADDPS Y4, Y3, Y3
	VMULPS Y2, Y3, Y3
	VBROADCASTSS geluConsts<>+40(SB), Y4
	VADDPS Y4, Y3, Y3
	VMULPS Y2, Y3, Y3
	VBROADCASTSS geluConsts<>+44(SB), Y4
	VADDPS Y4, Y3, Y3
	VBROADCASTSS geluConsts<>+48(SB), Y5
	VMULPS Y5, Y2, Y5
	VBROADCASTSS geluConsts<>+52(SB), Y4
	VADDPS Y4, Y5, Y5
	VMULPS Y2, Y5, Y5
	VBROADCASTSS geluConsts<>+56(SB), Y4
	VADDPS Y4, Y5, Y5
	VMULPS Y2, Y5, Y5
	VBROADCASTSS geluConsts<>+60(SB), Y4
	VADDPS Y4, Y5, Y5
	VMULPS Y2, Y5, Y5
	VBROADCASTSS geluConsts<>+64(SB), Y4
	VADDPS Y4, Y5, Y5
	VMULPS Y3, Y1, Y3
	VDIVPS Y5, Y3, Y3
	VADDPS Y3, Y12, Y3
	VMULPS Y11, Y0, Y6
	VMULPS Y3, Y6, Y6
	VMOVUPS Y6, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ geluLoop
geluDone:
	VZEROUPPER
	RET

// WG_IN_ROW makes comb row RA OP RB at columns 2t … 2t+3 of 8 tiles and
// stores its four V[ξ] (the column combination) from BASE on, per bytes
// (R12) apart.
#define WG_IN_ROW(RA, RB, OP, BASE) \
	VMOVUPS (RA)(BX*8), Y0; \
	VMOVUPS 32(RA)(BX*8), Y1; \
	VMOVUPS 8(RA)(BX*8), Y2; \
	VMOVUPS 40(RA)(BX*8), Y3; \
	VMOVUPS (RB)(BX*8), Y4; \
	VMOVUPS 32(RB)(BX*8), Y5; \
	VMOVUPS 8(RB)(BX*8), Y6; \
	VMOVUPS 40(RB)(BX*8), Y7; \
	OP Y4, Y0, Y0; \
	OP Y5, Y1, Y1; \
	OP Y6, Y2, Y2; \
	OP Y7, Y3, Y3; \
	VSHUFPS $0x88, Y1, Y0, Y8; \
	VSHUFPS $0xDD, Y1, Y0, Y9; \
	VSHUFPS $0x88, Y3, Y2, Y10; \
	VSHUFPS $0xDD, Y3, Y2, Y11; \
	VSUBPS Y10, Y8, Y12; \
	VADDPS Y10, Y9, Y13; \
	VSUBPS Y9, Y10, Y14; \
	VSUBPS Y11, Y9, Y15; \
	VPERMPD $0xD8, Y12, Y12; \
	VPERMPD $0xD8, Y13, Y13; \
	VPERMPD $0xD8, Y14, Y14; \
	VPERMPD $0xD8, Y15, Y15; \
	VMOVUPS Y12, (BASE)(BX*4); \
	LEAQ (BASE)(R12*1), AX; \
	VMOVUPS Y13, (AX)(BX*4); \
	LEAQ (BASE)(R12*2), AX; \
	VMOVUPS Y14, (AX)(BX*4); \
	ADDQ R12, AX; \
	VMOVUPS Y15, (AX)(BX*4)

// func winogradInputAVX(r0, r1, r2, r3, v *float32, per, n int)
//
// Winograd F(2×2, 3×3) input transform of n tiles (a multiple of 8) of
// one tile row: tile t reads columns 2t … 2t+3 of the four (padded) input
// rows r0…r3 and writes V[ξ] at v[ξ·per + t], ξ = 4i + j, with
// Bᵀ·d (comb row i: r0−r2, r1+r2, r2−r1, r1−r3) and then ·B (the same
// combination of comb columns 2t … 2t+3), in the portable loop's order.
// Even and odd columns are split with VSHUFPS, which leaves the tiles in
// the order 0 1 4 5 2 3 6 7; VPERMPD restores it before each store.
TEXT ·winogradInputAVX(SB), NOSPLIT, $0-56
	MOVQ r0+0(FP), R8
	MOVQ r1+8(FP), R9
	MOVQ r2+16(FP), R10
	MOVQ r3+24(FP), R11
	MOVQ v+32(FP), DI
	MOVQ per+40(FP), R12
	MOVQ n+48(FP), CX
	SHLQ $2, R12            // per in bytes
	LEAQ (DI)(R12*4), DX    // comb row 1's V planes: ξ = 4 …
	LEAQ (DX)(R12*4), R13   // ξ = 8 …
	LEAQ (R13)(R12*4), R14  // ξ = 12 …
	XORQ BX, BX
	TESTQ CX, CX
	JLE wgInDone
wgInLoop:
	WG_IN_ROW(R8, R10, VSUBPS, DI)   // r0 − r2: ξ = 0 … 3
	WG_IN_ROW(R9, R10, VADDPS, DX)   // r1 + r2: ξ = 4 … 7
	WG_IN_ROW(R10, R9, VSUBPS, R13)  // r2 − r1: ξ = 8 … 11
	WG_IN_ROW(R9, R11, VSUBPS, R14)  // r1 − r3: ξ = 12 … 15
	ADDQ $8, BX
	CMPQ BX, CX
	JLT wgInLoop
wgInDone:
	VZEROUPPER
	RET

// WG_OUT_STORE interleaves the even (Y0) and odd (Y1) outputs of 8 tiles
// and stores the 16 values at DST[2t].
#define WG_OUT_STORE(DST) \
	VUNPCKLPS Y1, Y0, Y2; \
	VUNPCKHPS Y1, Y0, Y3; \
	VPERM2F128 $0x20, Y3, Y2, Y12; \
	VPERM2F128 $0x31, Y3, Y2, Y13; \
	VMOVUPS Y12, (DST)(BX*8); \
	VMOVUPS Y13, 32(DST)(BX*8)

// WG_OUT_SU loads M[j], M[4+j], M[8+j], M[12+j] of 8 tiles (OFF: j·stride
// in bytes as an index expression) and makes S = M[j]+M[4+j]+M[8+j] and
// U = M[4+j]−M[8+j]−M[12+j].
#define WG_OUT_SU(OFF, S, U) \
	LEAQ (SI)(OFF), AX; \
	VMOVUPS (AX)(BX*4), Y0; \
	LEAQ (R8)(OFF), AX; \
	VMOVUPS (AX)(BX*4), Y1; \
	LEAQ (R9)(OFF), AX; \
	VMOVUPS (AX)(BX*4), Y2; \
	LEAQ (R10)(OFF), AX; \
	VMOVUPS (AX)(BX*4), Y3; \
	VADDPS Y1, Y0, S; \
	VADDPS Y2, S, S; \
	VSUBPS Y2, Y1, U; \
	VSUBPS Y3, U, U

// WG_OUT_ROW makes an output row pair's even (A+B+C) and odd (B−C−D)
// values and stores them interleaved at DST[2t].
#define WG_OUT_ROW(A, B, C, D, DST) \
	VADDPS B, A, Y0; \
	VADDPS C, Y0, Y0; \
	VSUBPS C, B, Y1; \
	VSUBPS D, Y1, Y1; \
	WG_OUT_STORE(DST)

// func winogradOutputAVX(m *float32, stride int, top, bot *float32, n, hasBot int)
//
// Winograd F(2×2, 3×3) output transform of n tiles (a multiple of 8):
// M[ξ] of tile t is m[ξ·stride + t]; Y = Aᵀ·M·A gives top[2t], top[2t+1]
// and, when hasBot is not 0, bot[2t], bot[2t+1], with the portable loop's
// operations in its order. The even and odd outputs are interleaved with
// VUNPCKLPS/VUNPCKHPS and VPERM2F128.
TEXT ·winogradOutputAVX(SB), NOSPLIT, $0-48
	MOVQ m+0(FP), SI
	MOVQ stride+8(FP), R12
	MOVQ top+16(FP), DI
	MOVQ bot+24(FP), DX
	MOVQ n+32(FP), CX
	MOVQ hasBot+40(FP), R13
	SHLQ $2, R12               // stride in bytes
	LEAQ (SI)(R12*4), R8       // ξ = 4 …
	LEAQ (R8)(R12*4), R9       // ξ = 8 …
	LEAQ (R9)(R12*4), R10      // ξ = 12 …
	LEAQ (R12)(R12*2), R11     // 3·stride
	XORQ R14, R14              // 0·stride
	XORQ BX, BX
	TESTQ CX, CX
	JLE wgOutDone
wgOutLoop:
	WG_OUT_SU(R14*1, Y4, Y8)   // s0 = m[0]+m[4]+m[8], u0 = m[4]−m[8]−m[12]
	WG_OUT_SU(R12*1, Y5, Y9)   // s1, u1 from m[1], m[5], m[9], m[13]
	WG_OUT_SU(R12*2, Y6, Y10)  // s2, u2
	WG_OUT_SU(R11*1, Y7, Y11)  // s3, u3
	WG_OUT_ROW(Y4, Y5, Y6, Y7, DI)   // top: even s0+s1+s2, odd s1−s2−s3
	TESTQ R13, R13
	JZ wgOutNext
	WG_OUT_ROW(Y8, Y9, Y10, Y11, DX) // bottom: even u0+u1+u2, odd u1−u2−u3
wgOutNext:
	ADDQ $8, BX
	CMPQ BX, CX
	JLT wgOutLoop
wgOutDone:
	VZEROUPPER
	RET

// func evensAVX(dst, src *float32, n int)
//
// dst[i] = src[2i] for n values (a multiple of 8), reading src[0 … 2n).
TEXT ·evensAVX(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	XORQ BX, BX
	TESTQ CX, CX
	JLE evensDone
evensLoop:
	VMOVUPS (SI)(BX*8), Y0
	VMOVUPS 32(SI)(BX*8), Y1
	VSHUFPS $0x88, Y1, Y0, Y2
	VPERMPD $0xD8, Y2, Y2
	VMOVUPS Y2, (DI)(BX*4)
	ADDQ $8, BX
	CMPQ BX, CX
	JLT evensLoop
evensDone:
	VZEROUPPER
	RET

// The float64 sums below keep sixteen partial sums in Y0-Y3: F64_ZERO
// clears them, F64_LOAD16 widens x[BX .. BX+16) into Y4-Y7 and F64_TOTAL
// leaves their total in the low lane of X0.
#define F64_ZERO \
	VXORPD Y0, Y0, Y0 \
	VXORPD Y1, Y1, Y1 \
	VXORPD Y2, Y2, Y2 \
	VXORPD Y3, Y3, Y3

#define F64_LOAD16 \
	VCVTPS2PD (SI)(BX*4), Y4 \
	VCVTPS2PD 16(SI)(BX*4), Y5 \
	VCVTPS2PD 32(SI)(BX*4), Y6 \
	VCVTPS2PD 48(SI)(BX*4), Y7

#define F64_TOTAL \
	VADDPD Y1, Y0, Y0 \
	VADDPD Y3, Y2, Y2 \
	VADDPD Y2, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPD X1, X0, X0 \
	VHADDPD X0, X0, X0

// func sumF64AVX(x *float32, n int) float64
//
// Σ x[i] in float64 over n values (a multiple of 16), sixteen partial sums.
TEXT ·sumF64AVX(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	F64_ZERO
	XORQ BX, BX
	TESTQ CX, CX
	JLE sumF64Done
sumF64Loop:
	F64_LOAD16
	VADDPD Y4, Y0, Y0
	VADDPD Y5, Y1, Y1
	VADDPD Y6, Y2, Y2
	VADDPD Y7, Y3, Y3
	ADDQ $16, BX
	CMPQ BX, CX
	JLT sumF64Loop
sumF64Done:
	F64_TOTAL
	VZEROUPPER
	MOVSD X0, ret+16(FP)
	RET

// func sqDevF64AVX(x *float32, n int, mu float64) float64
//
// Σ (x[i] − mu)² in float64 over n values (a multiple of 16).
TEXT ·sqDevF64AVX(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSD mu+16(FP), Y8
	F64_ZERO
	XORQ BX, BX
	TESTQ CX, CX
	JLE sqDevDone
sqDevLoop:
	F64_LOAD16
	VSUBPD Y8, Y4, Y4
	VSUBPD Y8, Y5, Y5
	VSUBPD Y8, Y6, Y6
	VSUBPD Y8, Y7, Y7
	VFMADD231PD Y4, Y4, Y0
	VFMADD231PD Y5, Y5, Y1
	VFMADD231PD Y6, Y6, Y2
	VFMADD231PD Y7, Y7, Y3
	ADDQ $16, BX
	CMPQ BX, CX
	JLT sqDevLoop
sqDevDone:
	F64_TOTAL
	VZEROUPPER
	MOVSD X0, ret+24(FP)
	RET

// F32_TOTAL leaves the total of Y's eight float32 lanes in the low lane
// of X (Y's low half), using T.
#define F32_TOTAL(Y, X, T) \
	VEXTRACTF128 $1, Y, T \
	VADDPS T, X, X \
	VHADDPS X, X, X \
	VHADDPS X, X, X

// func sumDotAVX(d, x *float32, n int) (s, sx float32)
//
// Σ d[i] and Σ d[i]·x[i] over n values (a multiple of 16), sixteen
// partial sums of each.
TEXT ·sumDotAVX(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ BX, BX
	TESTQ CX, CX
	JLE sumDotDone
sumDotLoop:
	VMOVUPS (SI)(BX*4), Y4
	VMOVUPS 32(SI)(BX*4), Y5
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VFMADD231PS (DI)(BX*4), Y4, Y2
	VFMADD231PS 32(DI)(BX*4), Y5, Y3
	ADDQ $16, BX
	CMPQ BX, CX
	JLT sumDotLoop
sumDotDone:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	F32_TOTAL(Y0, X0, X1)
	F32_TOTAL(Y2, X2, X3)
	VZEROUPPER
	MOVSS X0, s+24(FP)
	MOVSS X2, sx+28(FP)
	RET

// func maxIntoAVX(d, s *float32, n int) (nan bool)
//
// d[i] = max(d[i], s[i]) for n values (a multiple of 8); nan reports
// whether either operand held a NaN anywhere (the result is then
// unspecified: the caller redoes the work in order).
TEXT ·maxIntoAVX(SB), NOSPLIT, $0-25
	MOVQ d+0(FP), DI
	MOVQ s+8(FP), SI
	MOVQ n+16(FP), CX
	XORQ BX, BX
	VXORPS Y3, Y3, Y3
maxIntoLoop:
	VMOVUPS (SI)(BX*4), Y0
	VMOVUPS (DI)(BX*4), Y1
	VCMPPS $3, Y0, Y1, Y2 // unordered: either is NaN
	VORPS Y2, Y3, Y3
	VMAXPS Y0, Y1, Y1
	VMOVUPS Y1, (DI)(BX*4)
	ADDQ $8, BX
	CMPQ BX, CX
	JLT maxIntoLoop
	VPTEST Y3, Y3
	SETNE ret+24(FP)
	VZEROUPPER
	RET

// func max3s2AVX(d, m *float32, n int)
//
// d[j] = max(m[2j], m[2j+1], m[2j+2]) for n values (a multiple of 8),
// reading m[0 … 2n+2): a 3-wide, stride-2 window across a row.
TEXT ·max3s2AVX(SB), NOSPLIT, $0-24
	MOVQ d+0(FP), DI
	MOVQ m+8(FP), SI
	MOVQ n+16(FP), CX
	XORQ BX, BX
max3s2Loop:
	VMOVUPS (SI)(BX*8), Y0
	VMOVUPS 32(SI)(BX*8), Y1
	VMOVUPS 8(SI)(BX*8), Y4
	VMOVUPS 40(SI)(BX*8), Y5
	VSHUFPS $0x88, Y1, Y0, Y2 // m[2j], in lane order 0 1 4 5 2 3 6 7
	VSHUFPS $0xDD, Y1, Y0, Y3 // m[2j+1]
	VSHUFPS $0x88, Y5, Y4, Y6 // m[2j+2]
	VMAXPS Y3, Y2, Y2
	VMAXPS Y6, Y2, Y2
	VPERMPD $0xD8, Y2, Y2
	VMOVUPS Y2, (DI)(BX*4)
	ADDQ $8, BX
	CMPQ BX, CX
	JLT max3s2Loop
	VZEROUPPER
	RET

// func deinterleaveAVX(ev, od, src *float32, n int)
//
// ev[i] = src[2i], od[i] = src[2i+1] for n pairs (a multiple of 8),
// reading src[0 … 2n).
TEXT ·deinterleaveAVX(SB), NOSPLIT, $0-32
	MOVQ ev+0(FP), DI
	MOVQ od+8(FP), R8
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX
	XORQ BX, BX
deinterleaveLoop:
	VMOVUPS (SI)(BX*8), Y0
	VMOVUPS 32(SI)(BX*8), Y1
	VSHUFPS $0x88, Y1, Y0, Y2
	VSHUFPS $0xDD, Y1, Y0, Y3
	VPERMPD $0xD8, Y2, Y2
	VPERMPD $0xD8, Y3, Y3
	VMOVUPS Y2, (DI)(BX*4)
	VMOVUPS Y3, (R8)(BX*4)
	ADDQ $8, BX
	CMPQ BX, CX
	JLT deinterleaveLoop
	VZEROUPPER
	RET

// func biasClampAddAVX(row, skip *float32, n int, b, lo1, hi1, lo2, hi2 float32)
//
// row[i] = clamp(clamp(row[i] + b, lo1, hi1) + skip[i], lo2, hi2), or
// without skip (nil) row[i] = clamp(row[i] + b, lo1, hi1): the ops of
// affineAVX (with scale 1), clampAVX and addAVX in one pass, so the same
// bits.
TEXT ·biasClampAddAVX(SB), NOSPLIT, $0-44
	MOVQ row+0(FP), DI
	MOVQ skip+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS b+24(FP), Y10
	VBROADCASTSS lo1+28(FP), Y11
	VBROADCASTSS hi1+32(FP), Y12
	VBROADCASTSS lo2+36(FP), Y13
	VBROADCASTSS hi2+40(FP), Y14
	XORQ BX, BX
	TESTQ CX, CX
	JZ bcaDone
	TESTQ SI, SI
	JZ bcaNoSkip
bcaSkipLoop:
	VMOVUPS (DI)(BX*4), Y0
	VADDPS Y10, Y0, Y0
	VMAXPS Y0, Y11, Y0
	VMINPS Y0, Y12, Y0
	VADDPS (SI)(BX*4), Y0, Y0
	VMAXPS Y0, Y13, Y0
	VMINPS Y0, Y14, Y0
	VMOVUPS Y0, (DI)(BX*4)
	ADDQ $8, BX
	CMPQ BX, CX
	JLT bcaSkipLoop
	JMP bcaDone
bcaNoSkip:
	VMOVUPS (DI)(BX*4), Y0
	VADDPS Y10, Y0, Y0
	VMAXPS Y0, Y11, Y0
	VMINPS Y0, Y12, Y0
	VMOVUPS Y0, (DI)(BX*4)
	ADDQ $8, BX
	CMPQ BX, CX
	JLT bcaNoSkip
bcaDone:
	VZEROUPPER
	RET
