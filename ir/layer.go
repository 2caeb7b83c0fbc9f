package ir

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Layer is a vertex's configuration. Shapes exclude the batch dimension;
// an unknown dimension (such as a variable sequence length) is -1.
type Layer interface {
	// Kind is the registered type name, e.g. "Dense", "Conv2D".
	Kind() string
	// OutputShape infers the output shape from the input shapes.
	OutputShape(in [][]int) ([]int, error)
	// Params lists the parameter tensors the layer needs for these input shapes.
	Params(in [][]int) []ParamSpec
}

// ParamRole tells an initialiser and an editor what a parameter is.
type ParamRole string

const (
	RoleWeight    ParamRole = "weight"    // multiplied with the input; Fan gives fan-in/out
	RoleRecurrent ParamRole = "recurrent" // hidden-to-hidden weights
	RoleBias      ParamRole = "bias"
	RoleGamma     ParamRole = "gamma" // normalisation scale (init ones)
	RoleBeta      ParamRole = "beta"
	RoleStat      ParamRole = "stat" // running statistics: not trained by gradient
	RoleConst     ParamRole = "const"
	RoleAlpha     ParamRole = "alpha"     // PReLU slope
	RoleEmbedding ParamRole = "embedding" // lookup table
	RoleLearned   ParamRole = "learned"   // a trainable value used as it is (class token, position embedding)
)

// ParamSpec describes one parameter tensor of a layer.
type ParamSpec struct {
	Name      string
	Shape     []int
	Role      ParamRole
	Trainable bool
	FanIn     int
	FanOut    int
}

// Trainable reports whether a role is learned by gradient descent.
func trainableRole(r ParamRole) bool { return r != RoleStat && r != RoleConst }

func spec(name string, role ParamRole, fanIn, fanOut int, shape ...int) ParamSpec {
	return ParamSpec{Name: name, Shape: shape, Role: role, Trainable: trainableRole(role), FanIn: fanIn, FanOut: fanOut}
}

var registry = map[string]func() Layer{}

// Register makes a layer kind known to NewLayer and the JSON codec.
func Register(kind string, make func() Layer) {
	if _, dup := registry[kind]; dup {
		panic("ir: layer kind registered twice: " + kind)
	}
	registry[kind] = make
}

// NewLayer returns a zero config of a registered kind.
func NewLayer(kind string) (Layer, error) {
	mk, ok := registry[kind]
	if !ok {
		return nil, fmt.Errorf("unknown layer kind %q", kind)
	}
	return mk(), nil
}

// Kinds lists the registered layer kinds, sorted.
func Kinds() []string {
	var out []string
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type layerJSON struct {
	Kind   string          `json:"kind"`
	Config json.RawMessage `json:"config"`
}

// MarshalLayer encodes a layer as {"kind":..., "config":{...}}.
func MarshalLayer(l Layer) ([]byte, error) {
	cfg, err := json.Marshal(l)
	if err != nil {
		return nil, err
	}
	return json.Marshal(layerJSON{Kind: l.Kind(), Config: cfg})
}

// UnmarshalLayer decodes what MarshalLayer wrote.
func UnmarshalLayer(b []byte) (Layer, error) {
	var lj layerJSON
	if err := json.Unmarshal(b, &lj); err != nil {
		return nil, err
	}
	l, err := NewLayer(lj.Kind)
	if err != nil {
		return nil, err
	}
	if len(lj.Config) > 0 {
		if err := json.Unmarshal(lj.Config, l); err != nil {
			return nil, fmt.Errorf("layer %s: %w", lj.Kind, err)
		}
	}
	return l, nil
}

// CloneLayer deep-copies a layer config through its JSON form.
func CloneLayer(l Layer) Layer {
	b, err := MarshalLayer(l)
	if err != nil {
		panic(err)
	}
	c, err := UnmarshalLayer(b)
	if err != nil {
		panic(err)
	}
	return c
}

// Wrapper is implemented by layers that contain another layer (Bidirectional).
type Wrapper interface {
	Inner() Layer
}

// Trainer is implemented by layers that own parameters; editors use it to
// resize a layer. Units is the size of the layer's output feature axis.
type Sized interface {
	Layer
	OutUnits() int
	SetOutUnits(n int)
}

func need(in [][]int, n int, kind string) error {
	if len(in) != n {
		return fmt.Errorf("%s takes %d input(s), got %d", kind, n, len(in))
	}
	return nil
}

func needRank(s []int, r int, kind string) error {
	if len(s) != r {
		return fmt.Errorf("%s needs an input of rank %d (without batch), got shape %v", kind, r, s)
	}
	return nil
}

// needOne checks for a single input of the given rank.
func needOne(in [][]int, rank int, kind string) error {
	if err := need(in, 1, kind); err != nil {
		return err
	}
	return needRank(in[0], rank, kind)
}

func lastDim(s []int) int {
	if len(s) == 0 {
		return 1
	}
	return s[len(s)-1]
}
