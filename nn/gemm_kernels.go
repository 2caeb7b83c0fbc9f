package nn

import (
	"fmt"
	"os"
	"strings"
)

// The float32 GEMM behind every dense layer, convolution and recurrent cell
// has tiers chosen by CPU features at start-up: "avx512" (14×32 AVX-512F
// micro-kernel), "avx2" (6×16 AVX2+FMA), "go" (portable Go micro-kernel)
// and "gonum" (gonum's Sgemm, the reference). The environment variable
// RETARGET_GEMM names the tier to start with; an unknown or unsupported name
// is ignored (GemmKernel tells which one runs).

// GemmKernelEnv is the environment variable read at start-up.
const GemmKernelEnv = "RETARGET_GEMM"

const gonumKernel = "gonum"

var sgemmKernel = sgemmKernels()[0]

func init() {
	if name := os.Getenv(GemmKernelEnv); name != "" {
		_ = SetGemmKernel(name) // unknown: keep the best (documented)
	}
}

// GemmKernels lists the float32 GEMM kernels this machine can run, fastest
// first; the last is "gonum".
func GemmKernels() []string {
	var names []string
	for _, k := range sgemmKernels() {
		names = append(names, k.name)
	}
	return append(names, gonumKernel)
}

// GemmKernel is the name of the float32 GEMM kernel in use.
func GemmKernel() string {
	if _, ok := gemm32.(gonumGemm32); ok {
		return gonumKernel
	}
	return sgemmKernel.name
}

// SetGemmKernel switches the float32 GEMM kernel to one of GemmKernels. It
// is not safe to call while networks run; results of all kernels agree to
// rounding (1e-4 relative in the tests).
func SetGemmKernel(name string) error {
	if name == gonumKernel {
		gemm32 = gonumGemm32{}
		return nil
	}
	for _, k := range sgemmKernels() {
		if k.name == name {
			sgemmKernel, gemm32 = k, fastGemm32{}
			return nil
		}
	}
	return fmt.Errorf("nn: GEMM kernel %q is not available on this machine (available: %s)", name, strings.Join(GemmKernels(), ", "))
}
