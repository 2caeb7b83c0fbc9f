package retarget

import (
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// TestEveryKindHasAChannelRule: every layer kind says how a resize of its
// input follows through it, or why it cannot.
func TestEveryKindHasAChannelRule(t *testing.T) {
	for _, k := range ir.Kinds() {
		r, ok := channelRules[k]
		why, no := cannotFollow[k]
		switch {
		case ok && r.follow != nil && no:
			t.Errorf("%s has a channel rule and a reason it cannot be followed (%s)", k, why)
		case (!ok || r.follow == nil) && !no:
			t.Errorf("%s has no channel rule and no cannotFollow entry: register one in channel_rules.go", k)
		}
	}
}

// TestCannotFollowReasonIsQuoted: a resize that reaches a kind with a
// cannotFollow entry fails with that reason.
func TestCannotFollowReasonIsQuoted(t *testing.T) {
	g := &ir.Graph{Inputs: []ir.Input{{Name: "x", Shape: []int{3, 4, 4}}},
		Vertices: []*ir.Vertex{
			{Name: "conv", Layer: &ir.Conv{Rank: 2, Filters: 4, Kernel: []int{1, 1}, Padding: ir.PadValid}, Inputs: []string{"x"}},
			{Name: "d2s", Layer: &ir.DepthToSpace{Block: 2, Mode: "DCR"}, Inputs: []string{"conv"}},
		},
		Outputs: []ir.GraphOutput{{Name: "y", Vertex: "d2s"}}}
	if err := nn.InitGraph(g, ir.InitXavierUniform, 1); err != nil {
		t.Fatal(err)
	}
	_, err := New(g).ReplaceNOut("conv", 8, ir.InitXavierUniform, ir.InitXavierUniform).Build()
	if err == nil || !strings.Contains(err.Error(), cannotFollow["DepthToSpace"]) {
		t.Fatalf("got %v, want the DepthToSpace reason", err)
	}
}
