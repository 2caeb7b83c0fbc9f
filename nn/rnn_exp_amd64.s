//go:build amd64

#include "textflag.h"

// EXPCONSTS loads the constants of e^x (rnnExpConst at AX) into Y5-Y15.
#define EXPCONSTS \
	VBROADCASTSS 0(AX), Y5; \
	VBROADCASTSS 4(AX), Y6; \
	VBROADCASTSS 8(AX), Y7; \
	VBROADCASTSS 12(AX), Y8; \
	VBROADCASTSS 16(AX), Y9; \
	VBROADCASTSS 20(AX), Y10; \
	VBROADCASTSS 24(AX), Y11; \
	VBROADCASTSS 28(AX), Y12; \
	VBROADCASTSS 32(AX), Y13; \
	VBROADCASTSS 36(AX), Y14; \
	VBROADCASTSS 40(AX), Y15

// EXPY0 sets Y2 = e^Y0: Y0 is clamped to [-87, 88] (NaN stays), k = round(Y0·log2 e)
// in Y1, r = Y0 − k·ln2 (two parts) in Y0, a degree-6 polynomial of r times 2^k;
// Y1 and Y3 are scratch, the constants are in Y5-Y15 (EXPCONSTS) and at AX.
#define EXPY0 \
	VMINPS Y0, Y5, Y0; \
	VMAXPS Y0, Y6, Y0; \
	VMOVAPS Y8, Y1; \
	VFMADD231PS Y7, Y0, Y1; \
	VSUBPS Y8, Y1, Y1; \
	VFNMADD231PS Y9, Y1, Y0; \
	VFMADD231PS Y10, Y1, Y0; \
	VMOVAPS Y11, Y2; \
	VFMADD213PS Y12, Y0, Y2; \
	VFMADD213PS Y13, Y0, Y2; \
	VFMADD213PS Y14, Y0, Y2; \
	VFMADD213PS Y15, Y0, Y2; \
	VBROADCASTSS 44(AX), Y3; \
	VFMADD213PS Y3, Y0, Y2; \
	VMULPS Y0, Y0, Y3; \
	VFMADD213PS Y0, Y3, Y2; \
	VBROADCASTSS 48(AX), Y3; \
	VADDPS Y3, Y2, Y2; \
	VCVTPS2DQ Y1, Y1; \
	VPBROADCASTD 52(AX), Y3; \
	VPADDD Y3, Y1, Y1; \
	VPSLLD $23, Y1, Y1; \
	VMULPS Y1, Y2, Y2

// SIGY2 sets Y2 = 1/(1+Y2), leaving 1 in Y3.
#define SIGY2 \
	VBROADCASTSS 48(AX), Y3; \
	VADDPS Y3, Y2, Y2; \
	VDIVPS Y2, Y3, Y2

// TANHY2 sets Y2 = 1 - 2/(1+Y2).
#define TANHY2 \
	SIGY2; \
	VADDPS Y2, Y2, Y2; \
	VSUBPS Y2, Y3, Y2

// func expScaledAVX(x, y *float32, n int, s float32, c *float32)
//
// y[i] = e^(s·x[i]) for n a multiple of 8, the same steps as expScaled32
// (rnn_lstm.go) 8 at a time with FMA; c is rnnExpConst.
TEXT ·expScaledAVX(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	MOVSS s+24(FP), X4
	MOVQ c+32(FP), AX
	VBROADCASTSS X4, Y4
	EXPCONSTS
	XORQ BX, BX
	TESTQ CX, CX
	JZ expDone
expLoop:
	VMULPS (SI)(BX*4), Y4, Y0
	EXPY0
	VMOVUPS Y2, (DI)(BX*4)
	ADDQ $8, BX
	CMPQ BX, CX
	JLT expLoop
expDone:
	VZEROUPPER
	RET

// func lstmGatesAVX(zi, zf, zg, zo, cp, cv, ac, h *float32, n int, b, c *float32)
//
// One LSTM unit's gates over n (a multiple of 8) batch rows, as
// lstmUnitForward32: b is {-bi, -bf, bg, -bo}, c is rnnExpConst.
TEXT ·lstmGatesAVX(SB), NOSPLIT, $0-88
	MOVQ zi+0(FP), SI
	MOVQ zf+8(FP), R12
	MOVQ zg+16(FP), R13
	MOVQ zo+24(FP), DX
	MOVQ cp+32(FP), R8
	MOVQ cv+40(FP), R9
	MOVQ ac+48(FP), R10
	MOVQ h+56(FP), R11
	MOVQ n+64(FP), CX
	MOVQ b+72(FP), DI
	MOVQ c+80(FP), AX
	EXPCONSTS
	XORQ BX, BX
	TESTQ CX, CX
	JZ gatesDone
gatesLoop:
	VBROADCASTSS 0(DI), Y4
	VSUBPS (SI)(BX*4), Y4, Y0 // -(zi+bi)
	EXPY0
	SIGY2
	VMOVUPS Y2, (SI)(BX*4)
	VBROADCASTSS 4(DI), Y4
	VSUBPS (R12)(BX*4), Y4, Y0
	EXPY0
	SIGY2
	VMOVUPS Y2, (R12)(BX*4)
	VBROADCASTSS 8(DI), Y4
	VADDPS (R13)(BX*4), Y4, Y0
	VADDPS Y0, Y0, Y0 // 2(zg+bg)
	EXPY0
	TANHY2
	VMOVUPS Y2, (R13)(BX*4)
	VBROADCASTSS 12(DI), Y4
	VSUBPS (DX)(BX*4), Y4, Y0
	EXPY0
	SIGY2
	VMOVUPS Y2, (DX)(BX*4)
	VMOVUPS (R12)(BX*4), Y4
	VMULPS (R8)(BX*4), Y4, Y4 // f·cp
	VMOVUPS (SI)(BX*4), Y0
	VMULPS (R13)(BX*4), Y0, Y0
	VADDPS Y4, Y0, Y0 // c = f·cp + i·g
	VMOVUPS Y0, (R9)(BX*4)
	VADDPS Y0, Y0, Y0
	EXPY0
	TANHY2
	VMOVUPS Y2, (R10)(BX*4)
	VMULPS (DX)(BX*4), Y2, Y2
	VMOVUPS Y2, (R11)(BX*4)
	ADDQ $8, BX
	CMPQ BX, CX
	JLT gatesLoop
gatesDone:
	VZEROUPPER
	RET

// func lstmGatesBackAVX(ai, af, ag, ao, ac, cp, dh, dc *float32, n int, db *float32)
//
// One LSTM unit's backward over n (a multiple of 8) batch rows, as
// lstmUnitBackward without an output gradient; db gets the four sums of
// dLoss/dz.
TEXT ·lstmGatesBackAVX(SB), NOSPLIT, $0-80
	MOVQ ai+0(FP), SI
	MOVQ af+8(FP), R12
	MOVQ ag+16(FP), R13
	MOVQ ao+24(FP), DX
	MOVQ ac+32(FP), R8
	MOVQ cp+40(FP), R9
	MOVQ dh+48(FP), R10
	MOVQ dc+56(FP), R11
	MOVQ n+64(FP), CX
	MOVQ db+72(FP), DI
	MOVL $0x3f800000, AX // 1
	MOVQ AX, X15
	VBROADCASTSS X15, Y15
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	XORQ BX, BX
	TESTQ CX, CX
	JZ backDone
backLoop:
	VMOVUPS (R10)(BX*4), Y0 // d
	VMOVUPS (R8)(BX*4), Y1  // t
	VMOVUPS (DX)(BX*4), Y2  // o
	VMULPS Y1, Y0, Y3
	VMULPS Y2, Y3, Y3
	VSUBPS Y2, Y15, Y4
	VMULPS Y4, Y3, Y3 // dzo = d·t·o·(1-o)
	VMOVUPS Y3, (DX)(BX*4)
	VADDPS Y3, Y11, Y11
	VMULPS Y2, Y0, Y0 // d·o
	VMULPS Y1, Y1, Y1
	VSUBPS Y1, Y15, Y1
	VMULPS Y1, Y0, Y0
	VADDPS (R11)(BX*4), Y0, Y0 // dct = dc + d·o·(1-t²)
	VMOVUPS (SI)(BX*4), Y1  // i
	VMOVUPS (R12)(BX*4), Y2 // f
	VMOVUPS (R13)(BX*4), Y3 // g
	VMULPS Y3, Y0, Y4
	VMULPS Y1, Y4, Y4
	VSUBPS Y1, Y15, Y5
	VMULPS Y5, Y4, Y4 // di = dct·g·i·(1-i)
	VMOVUPS Y4, (SI)(BX*4)
	VADDPS Y4, Y8, Y8
	VMULPS (R9)(BX*4), Y0, Y4
	VMULPS Y2, Y4, Y4
	VSUBPS Y2, Y15, Y5
	VMULPS Y5, Y4, Y4 // df = dct·cp·f·(1-f)
	VMOVUPS Y4, (R12)(BX*4)
	VADDPS Y4, Y9, Y9
	VMULPS Y1, Y0, Y4
	VMULPS Y3, Y3, Y5
	VSUBPS Y5, Y15, Y5
	VMULPS Y5, Y4, Y4 // dg = dct·i·(1-g²)
	VMOVUPS Y4, (R13)(BX*4)
	VADDPS Y4, Y10, Y10
	VMULPS Y2, Y0, Y0 // dcPrev = dct·f
	VMOVUPS Y0, (R11)(BX*4)
	ADDQ $8, BX
	CMPQ BX, CX
	JLT backLoop
backDone:
	// horizontal sums of Y8..Y11 into db[0..3]
	VEXTRACTF128 $1, Y8, X0
	VADDPS X0, X8, X8
	VEXTRACTF128 $1, Y9, X0
	VADDPS X0, X9, X9
	VEXTRACTF128 $1, Y10, X0
	VADDPS X0, X10, X10
	VEXTRACTF128 $1, Y11, X0
	VADDPS X0, X11, X11
	VHADDPS X9, X8, X8   // i0+i1, i2+i3, f0+f1, f2+f3
	VHADDPS X11, X10, X10 // g.., o..
	VHADDPS X10, X8, X8  // i, f, g, o
	VMOVUPS X8, (DI)
	VZEROUPPER
	RET
