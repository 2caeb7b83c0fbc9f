package onnx

import (
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/retarget-dev/retarget/internal/onnxpb"
)

// Field numbers on the path ModelProto.graph.initializer.raw_data.
const (
	fieldModelGraph    = 7
	fieldGraphInit     = 5
	fieldTensorRawData = 9
)

// rawSpan is where an initializer's raw_data lies in the file's bytes.
type rawSpan struct {
	has        bool
	start, end int
}

// decodeOwned unmarshals a model whose bytes the caller hands over: the
// initializers' raw_data are left in b instead of being copied by
// protobuf, so a model's weights are held once. Where a float32 tensor's
// bytes are not 4-byte aligned they are moved back by up to 3 bytes over
// bytes that only the (already decoded) other fields used, so that they
// can be viewed as float32 in place. It decodes exactly what proto.Unmarshal(b) does; anything it
// does not expect makes it fall back to proto.Unmarshal.
func decodeOwned(b []byte) (*onnxpb.ModelProto, error) {
	var spans []rawSpan
	stripped, ok := stripModel(b, &spans)
	m := &onnxpb.ModelProto{}
	if !ok {
		return m, proto.Unmarshal(b, m)
	}
	if err := proto.Unmarshal(stripped, m); err != nil {
		m = &onnxpb.ModelProto{}
		return m, proto.Unmarshal(b, m)
	}
	inits := m.GetGraph().GetInitializer()
	if len(inits) != len(spans) {
		m = &onnxpb.ModelProto{}
		return m, proto.Unmarshal(b, m)
	}
	free := 0 // b[free:] holds no raw_data handed out yet
	for k, s := range spans {
		if !s.has {
			continue
		}
		if s.end > s.start && inits[k].GetDataType() == dtFloat {
			if shift := int(uintptr(unsafe.Pointer(&b[s.start])) % 4); shift != 0 && s.start-shift >= free {
				copy(b[s.start-shift:], b[s.start:s.end])
				s.start -= shift
				s.end -= shift
			}
		}
		inits[k].RawData = b[s.start:s.end:s.end]
		free = s.end
	}
	return m, nil
}

// stripModel copies a ModelProto without its initializers' raw_data,
// recording where each lies; ok is false on any malformed structure.
func stripModel(b []byte, spans *[]rawSpan) ([]byte, bool) {
	return stripFields(b, 0, fieldModelGraph, func(payload []byte, base int) ([]byte, bool) {
		return stripFields(payload, base, fieldGraphInit, func(t []byte, tbase int) ([]byte, bool) {
			return stripTensor(t, tbase, spans)
		})
	})
}

// stripFields copies the message b (at offset base of the file), passing
// the payload of every length-delimited field num through sub.
func stripFields(b []byte, base int, num protowire.Number, sub func([]byte, int) ([]byte, bool)) ([]byte, bool) {
	var out []byte
	for pos := 0; pos < len(b); {
		n, typ, tl := protowire.ConsumeTag(b[pos:])
		if tl < 0 {
			return nil, false
		}
		vl := protowire.ConsumeFieldValue(n, typ, b[pos+tl:])
		if vl < 0 {
			return nil, false
		}
		if n != num || typ != protowire.BytesType {
			out = append(out, b[pos:pos+tl+vl]...)
			pos += tl + vl
			continue
		}
		_, ll := protowire.ConsumeVarint(b[pos+tl:])
		start := pos + tl + ll
		inner, ok := sub(b[start:pos+tl+vl], base+start)
		if !ok {
			return nil, false
		}
		out = protowire.AppendTag(out, n, typ)
		out = protowire.AppendBytes(out, inner)
		pos += tl + vl
	}
	return out, true
}

// stripTensor copies a TensorProto without raw_data and records one span
// for it (the last raw_data wins, as in protobuf).
func stripTensor(b []byte, base int, spans *[]rawSpan) ([]byte, bool) {
	span := rawSpan{}
	var out []byte
	for pos := 0; pos < len(b); {
		n, typ, tl := protowire.ConsumeTag(b[pos:])
		if tl < 0 {
			return nil, false
		}
		vl := protowire.ConsumeFieldValue(n, typ, b[pos+tl:])
		if vl < 0 {
			return nil, false
		}
		if n == fieldTensorRawData && typ == protowire.BytesType {
			_, ll := protowire.ConsumeVarint(b[pos+tl:])
			span = rawSpan{has: true, start: base + pos + tl + ll, end: base + pos + tl + vl}
		} else {
			out = append(out, b[pos:pos+tl+vl]...)
		}
		pos += tl + vl
	}
	*spans = append(*spans, span)
	return out, true
}
