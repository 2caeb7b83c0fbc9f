package onnx

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/retarget-dev/retarget/internal/onnxpb"
)

func TestRegisterPicksNewestVersionAtOrBelowOpset(t *testing.T) {
	saved := handlers
	defer func() { handlers = saved }()
	handlers = map[string][]opVersion{}
	mark := func(v int) handler {
		return func(c *converter, n *node) error { c.opset = v; return nil }
	}
	register("Op", 13, mark(13))
	register("Op", 1, mark(1))
	register("Op", 18, mark(18))
	for _, tc := range []struct{ opset, want, since int }{{6, 1, 0}, {12, 1, 0}, {13, 13, 0}, {17, 13, 0}, {21, 18, 0}} {
		h, since := handlerFor("Op", tc.opset)
		if h == nil || since != tc.since {
			t.Fatalf("opset %d: no handler", tc.opset)
		}
		c := &converter{}
		_ = h(c, nil)
		if c.opset != tc.want {
			t.Errorf("opset %d picked the version from %d, want %d", tc.opset, c.opset, tc.want)
		}
	}
	register("Late", 20, mark(20))
	if h, since := handlerFor("Late", 17); h != nil || since != 20 {
		t.Errorf("Late at opset 17: handler %v, since %d; want none, since 20", h != nil, since)
	}
	if h, since := handlerFor("Nope", 17); h != nil || since != 0 {
		t.Errorf("unknown op: handler %v, since %d", h != nil, since)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "registered twice") {
			t.Errorf("duplicate registration: recovered %v", r)
		}
	}()
	register("Op", 13, mark(13))
}

// TestOpNewerThanModelOpset: Gelu (opset 20) in an opset-17 model is
// reported as unsupported at that opset, naming the opset it starts at.
func TestOpNewerThanModelOpset(t *testing.T) {
	m := geluModel("")
	m.OpsetImport[0].Version = proto.Int64(17)
	_, err := importProto(m, "", Options{})
	var ue *UnsupportedOpsError
	if !errors.As(err, &ue) || len(ue.Ops) != 1 || ue.Ops[0].Since != 20 || ue.Opset != 17 {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "converted from opset 20; the model imports opset 17") {
		t.Errorf("message does not say which opset: %v", err)
	}
}

// castModel is x (N, 4) → Cast(to) → y.
func castModel(to int64) *onnxpb.ModelProto {
	m := geluModel("")
	n := m.Graph.Node[0]
	n.OpType = proto.String("Cast")
	n.Attribute = []*onnxpb.AttributeProto{{Name: proto.String("to"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(to)}}
	m.OpsetImport[0].Version = proto.Int64(13)
	return m
}

func TestCastStrict(t *testing.T) {
	g, err := importProto(castModel(1), "", Options{Strict: true})
	if err != nil || g.Meta["onnx_warnings"] != "" {
		t.Fatalf("Cast to float: %v, warnings %q", err, g.Meta["onnx_warnings"])
	}
	g, err = importProto(castModel(7), "", Options{})
	if err != nil || !strings.Contains(g.Meta["onnx_warnings"], "read as an identity") {
		t.Fatalf("Cast to int64 without Strict: %v, warnings %q", err, g.Meta["onnx_warnings"])
	}
	if _, err = importProto(castModel(7), "", Options{Strict: true}); err == nil || !strings.Contains(err.Error(), "Strict") {
		t.Fatalf("Cast to int64 with Strict: %v", err)
	}
}

func TestSupportedOpsSince(t *testing.T) {
	ops := SupportedOps()
	for op, since := range map[string]int{"Gelu": 20, "Mish": 18, "HardSwish": 14, "Softmax": 1, "Conv": 1, "Tile": 6, "Shape": 1} {
		if ops[op] != since {
			t.Errorf("%s: since %d, want %d", op, ops[op], since)
		}
	}
}
