package retarget

import (
	"fmt"
	"hash/fnv"
	"math/rand"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// rngFor returns a generator that depends only on the seed and the names,
// so initial values do not depend on the order edits are applied in.
func rngFor(seed int64, parts ...string) *rand.Rand {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return rand.New(rand.NewSource(seed ^ int64(h.Sum64())))
}

// initValues draws n values of a weight initialisation scheme (nn's).
func initValues(w ir.WeightInit, fanIn, fanOut, n int, rng *rand.Rand) ([]float32, error) {
	if err := checkInit(w); err != nil {
		return nil, err
	}
	t := ir.NewTensor(n)
	nn.InitTensor(t, w, fanIn, fanOut, 0, rng)
	return t.Data, nil
}

func checkInit(w ir.WeightInit) error {
	if w == "" {
		return nil
	}
	_, err := ir.ParseWeightInit(string(w))
	return err
}

// initParam creates a parameter tensor: weights with the scheme w, other
// roles with their fixed defaults (bias, beta, mean zero; gamma, var one;
// PReLU alpha 0.25), as nn.InitParams does.
// The identity scheme is handled by identityParams; here it fills a square
// matrix with the identity and fails on other shapes.
func initParam(s ir.ParamSpec, w ir.WeightInit, rng *rand.Rand) (*ir.Tensor, error) {
	t := ir.NewTensor(s.Shape...)
	switch s.Role {
	case ir.RoleWeight, ir.RoleRecurrent, ir.RoleEmbedding:
		if w == ir.InitIdentity {
			if len(s.Shape) != 2 || s.Shape[0] != s.Shape[1] {
				return nil, fmt.Errorf("identity init needs a square weight, %q is %v", s.Name, s.Shape)
			}
			for i := 0; i < s.Shape[0]; i++ {
				t.Data[i*s.Shape[0]+i] = 1
			}
			return t, nil
		}
		if err := checkInit(w); err != nil {
			return nil, err
		}
		if w == "" {
			w = ir.InitXavierUniform
		}
		nn.InitTensor(t, w, s.FanIn, s.FanOut, 0, rng)
	case ir.RoleGamma:
		fill(t.Data, 1)
	case ir.RoleAlpha:
		fill(t.Data, 0.25) // as nn.InitParams
	case ir.RoleStat:
		if s.Name == "var" {
			fill(t.Data, 1)
		}
	}
	return t, nil
}

func fill(d []float32, v float32) {
	for i := range d {
		d[i] = v
	}
}
