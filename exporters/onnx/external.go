package onnx

import (
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/retarget-dev/retarget/internal/onnxpb"
)

// externalize moves the raw data of every initializer of 1 KiB or more into
// one buffer (4 KiB-aligned offsets, as onnx's Python writer does) and
// points the tensors at loc; it returns the buffer.
func externalize(m *onnxpb.ModelProto, loc string) []byte {
	var data []byte
	for _, t := range m.GetGraph().GetInitializer() {
		if len(t.RawData) < 1024 {
			continue
		}
		if pad := len(data) % 4096; pad != 0 {
			data = append(data, make([]byte, 4096-pad)...)
		}
		off := len(data)
		data = append(data, t.RawData...)
		t.ExternalData = []*onnxpb.StringStringEntryProto{
			{Key: proto.String("location"), Value: proto.String(loc)},
			{Key: proto.String("offset"), Value: proto.String(strconv.Itoa(off))},
			{Key: proto.String("length"), Value: proto.String(strconv.Itoa(len(t.RawData)))},
		}
		t.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
		t.RawData = nil
	}
	return data
}
