package modelio

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/retarget-dev/retarget/ir"
)

// TensorInfo is a graph input or output. Shape includes the batch dimension
// (-1, as is any unknown dimension) and is laid out as Layout says: the way
// predict takes and gives data.
type TensorInfo struct {
	Name   string `json:"name"`
	Shape  []int  `json:"shape"`
	Layout string `json:"layout"`
}

// VertexInfo is one row of the summary. OutputShape is in the internal
// layout (channels first), batch included as -1.
type VertexInfo struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Inputs      []string `json:"inputs"`
	OutputShape []int    `json:"output_shape"`
	Params      int      `json:"params"`
	Frozen      bool     `json:"frozen"`
	// Detail is shown beside the type in the table (not in the JSON
	// contract): an output layer's activation and loss, an activation
	// layer's function.
	Detail string `json:"-"`
}

// Summary describes a graph for `retarget inspect`; its JSON form is a
// contract that scripts rely on.
type Summary struct {
	Inputs          []TensorInfo `json:"inputs"`
	Outputs         []TensorInfo `json:"outputs"`
	Vertices        []VertexInfo `json:"vertices"`
	ParamsTotal     int          `json:"params_total"`
	ParamsTrainable int          `json:"params_trainable"`
}

// Summarize computes a graph's summary. Trainable parameters are those of
// non-frozen vertices whose ParamSpec is Trainable.
func Summarize(g *ir.Graph) (*Summary, error) {
	shapes, err := g.Shapes()
	if err != nil {
		return nil, err
	}
	full, err := g.FullShapes()
	if err != nil {
		return nil, err
	}
	s := &Summary{Inputs: []TensorInfo{}, Outputs: []TensorInfo{}, Vertices: []VertexInfo{}}
	for _, in := range g.Inputs {
		s.Inputs = append(s.Inputs, TensorInfo{Name: in.Name, Shape: shown(in.FullShape(), in.Layout), Layout: string(in.Layout)})
	}
	for _, o := range g.Outputs {
		s.Outputs = append(s.Outputs, TensorInfo{Name: o.Name, Shape: shown(full[o.Vertex], o.Layout), Layout: string(o.Layout)})
	}
	for _, v := range g.Vertices {
		// Counts come from the layer's parameter shapes, so an architecture
		// without weights (a Keras JSON file alone) still shows its size.
		specs := v.Layer.Params(v.LayerShapes(shapes, full))
		n, trainable := 0, 0
		for _, p := range specs {
			k := ir.NumElements(p.Shape)
			n += k
			if p.Trainable {
				trainable += k
			}
		}
		if len(specs) == 0 {
			n = v.ParamCount()
		}
		vi := VertexInfo{Name: v.Name, Type: v.Layer.Kind(), Inputs: append([]string{}, v.Inputs...),
			OutputShape: shown(full[v.Name], ""), Params: n, Frozen: v.Frozen, Detail: detailLabel(v.Layer)}
		s.Vertices = append(s.Vertices, vi)
		s.ParamsTotal += n
		if !v.Frozen {
			s.ParamsTrainable += trainable
		}
	}
	return s, nil
}

// SourceShape turns an internal (channels-first) shape without batch into
// the layout a source model used; it follows the engine's rule (nn): NHWC
// moves rank-3 shapes, NWC rank-2 ones, anything else stays.
func SourceShape(shape []int, l ir.Layout) []int {
	s := append([]int{}, shape...)
	switch {
	case l.ChannelsLastFor(len(s)):
		return append(s[1:], s[0])
	}
	return s
}

// shown is a full shape as the summary gives it: the batch and unknown
// sizes as -1, a batch-first value in its source layout.
func shown(full []int, l ir.Layout) []int {
	var out []int
	if view, ok := ir.LayerView(full); ok {
		out = append([]int{-1}, SourceShape(view, l)...)
	} else {
		out = append([]int(nil), full...)
	}
	for i, d := range out {
		if d < 0 {
			out[i] = -1
		}
	}
	return out
}

// WriteTable prints the summary as an aligned table with totals.
func (s *Summary) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, in := range s.Inputs {
		fmt.Fprintf(tw, "input\t%s\t%s\t%s\n", in.Name, shapeString(in.Shape), layoutString(in.Layout))
	}
	for _, o := range s.Outputs {
		fmt.Fprintf(tw, "output\t%s\t%s\t%s\n", o.Name, shapeString(o.Shape), layoutString(o.Layout))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERTEX\tTYPE\tINPUTS\tOUTPUT SHAPE\tPARAMS\tFROZEN")
	for _, v := range s.Vertices {
		frozen := ""
		if v.Frozen {
			frozen = "yes"
		}
		typ := v.Type
		if v.Detail != "" {
			typ += " (" + v.Detail + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", v.Name, typ, strings.Join(v.Inputs, ","), shapeString(v.OutputShape), v.Params, frozen)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nparameters: %d total, %d trainable, %d frozen or fixed\n",
		s.ParamsTotal, s.ParamsTrainable, s.ParamsTotal-s.ParamsTrainable)
	return err
}

func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		if d < 0 {
			parts[i] = "?"
		} else {
			parts[i] = strconv.Itoa(d)
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func layoutString(l string) string {
	if l == "" {
		return ""
	}
	return "layout " + l
}

// detailLabel describes an output layer's activation and loss, or an
// activation layer's function.
func detailLabel(l ir.Layer) string {
	var act ir.Activation
	var fromLogits bool
	switch o := l.(type) {
	case *ir.Merge:
		return string(o.Op)
	case *ir.Unary:
		return string(o.Op)
	case *ir.ActivationLayer:
		if o.Activation.IsIdentity() {
			return "identity"
		}
		return string(o.Activation.Kind)
	case *ir.Output:
		act, fromLogits = o.Activation, o.FromLogits
	case *ir.RnnOutput:
		act, fromLogits = o.Activation, o.FromLogits
	default:
		return ""
	}
	loss, _ := ir.LossOf(l)
	s := "loss " + string(loss)
	if !act.IsIdentity() {
		s = string(act.Kind) + ", " + s
	}
	if fromLogits {
		s += " on logits"
	}
	if w := ir.LossWeightOf(l); w != 1 {
		s += fmt.Sprintf(", weight %g", w)
	}
	return s
}
