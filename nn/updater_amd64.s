#include "textflag.h"

// The updaters' plain loops (updater.go) four elements at a time: float32
// values widened to float64, the same operations in the same order as the
// Go loop (no FMA), narrowed with the rounding mode Go's conversion uses,
// so the results are the Go loop's bits.

// func momentumAVX(w, grad, vel *float32, n int, ns, mu, lr float64, nesterov bool)
TEXT ·momentumAVX(SB), NOSPLIT, $0-57
	MOVQ w+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ vel+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSD ns+32(FP), Y13
	VBROADCASTSD mu+40(FP), Y14
	VBROADCASTSD lr+48(FP), Y15
	MOVBLZX nesterov+56(FP), AX
	XORQ BX, BX
	TESTQ CX, CX
	JZ momDone
momLoop:
	VCVTPS2PD (SI)(BX*4), Y0 // g
	VMULPD Y13, Y0, Y0       // gi = g·ns
	VCVTPS2PD (DX)(BX*4), Y1 // vel
	VMULPD Y14, Y1, Y1       // mu·vel
	VMULPD Y15, Y0, Y2       // lr·gi
	VSUBPD Y2, Y1, Y1        // v = mu·vel − lr·gi
	VCVTPD2PSY Y1, X3
	VMOVUPS X3, (DX)(BX*4)   // vel = float32(v)
	TESTQ AX, AX
	JZ momPlain
	VMULPD Y14, Y1, Y4       // mu·v
	VSUBPD Y2, Y4, Y4        // mu·v − lr·gi
	VCVTPD2PSY Y4, X3
momPlain:
	VMOVUPS (DI)(BX*4), X5
	VADDPS X3, X5, X5
	VMOVUPS X5, (DI)(BX*4)
	ADDQ $4, BX
	CMPQ BX, CX
	JLT momLoop
momDone:
	VZEROUPPER
	RET

// func adamAVX(w, grad, m, v *float32, n int, k *adamConsts)
TEXT ·adamAVX(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ m+16(FP), DX
	MOVQ v+24(FP), R8
	MOVQ n+32(FP), CX
	MOVQ k+40(FP), AX
	VBROADCASTSD 0(AX), Y8   // ns
	VBROADCASTSD 8(AX), Y9   // b1
	VBROADCASTSD 16(AX), Y10 // 1−b1
	VBROADCASTSD 24(AX), Y11 // b2
	VBROADCASTSD 32(AX), Y12 // 1−b2
	VBROADCASTSD 40(AX), Y13 // alpha
	VBROADCASTSD 48(AX), Y14 // eps
	VBROADCASTSD 56(AX), Y15 // lr·wd (AdamW), or 0
	MOVQ 64(AX), AX          // decay
	XORQ BX, BX
	TESTQ CX, CX
	JZ adamDone
adamLoop:
	VCVTPS2PD (SI)(BX*4), Y0 // g
	VMULPD Y8, Y0, Y0        // gi
	VCVTPS2PD (DX)(BX*4), Y1 // m
	VMULPD Y9, Y1, Y1        // b1·m
	VMULPD Y10, Y0, Y2       // (1−b1)·gi
	VADDPD Y2, Y1, Y1        // mi
	VCVTPS2PD (R8)(BX*4), Y3 // v
	VMULPD Y11, Y3, Y3       // b2·v
	VMULPD Y12, Y0, Y4       // (1−b2)·gi
	VMULPD Y0, Y4, Y4        // ·gi
	VADDPD Y4, Y3, Y3        // vi
	VCVTPD2PSY Y1, X5
	VMOVUPS X5, (DX)(BX*4)
	VCVTPD2PSY Y3, X5
	VMOVUPS X5, (R8)(BX*4)
	VMULPD Y13, Y1, Y1       // alpha·mi
	VSQRTPD Y3, Y3
	VADDPD Y14, Y3, Y3       // sqrt(vi) + eps
	VDIVPD Y3, Y1, Y1        // upd
	VMOVUPS (DI)(BX*4), X5
	TESTQ AX, AX
	JZ adamNoDecay
	VCVTPS2PD X5, Y6
	VMULPD Y15, Y6, Y6       // lr·wd·w
	VADDPD Y6, Y1, Y1
adamNoDecay:
	VCVTPD2PSY Y1, X6
	VSUBPS X6, X5, X5        // w − float32(upd)
	VMOVUPS X5, (DI)(BX*4)
	ADDQ $4, BX
	CMPQ BX, CX
	JLT adamLoop
adamDone:
	VZEROUPPER
	RET

// func sgdAVX(w, grad *float32, n int, ns, lr float64)
//
// w −= float32(lr·(g·ns)) over n elements (a multiple of 4), the Go loop's
// operations in float64 and its order.
TEXT ·sgdAVX(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSD ns+24(FP), Y13
	VBROADCASTSD lr+32(FP), Y15
	XORQ BX, BX
	TESTQ CX, CX
	JZ sgdDone
sgdLoop:
	VCVTPS2PD (SI)(BX*4), Y0 // g
	VMULPD Y13, Y0, Y0       // gi = g·ns
	VMULPD Y15, Y0, Y0       // lr·gi
	VCVTPD2PSY Y0, X3
	VMOVUPS (DI)(BX*4), X5
	VSUBPS X3, X5, X5        // w − float32(lr·gi)
	VMOVUPS X5, (DI)(BX*4)
	ADDQ $4, BX
	CMPQ BX, CX
	JLT sgdLoop
sgdDone:
	VZEROUPPER
	RET
