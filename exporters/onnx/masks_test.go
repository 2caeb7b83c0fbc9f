package onnx_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	exponnx "github.com/retarget-dev/retarget/exporters/onnx"
	"github.com/retarget-dev/retarget/importers/keras"
	"github.com/retarget-dev/retarget/internal/hdf5"
	"github.com/retarget-dev/retarget/ir"
)

// TestMaskZeroExportOpsets: the Keras 3 fixtures whose Embedding(mask_zero)
// feeds MultiHeadAttention, Attention and average pooling (and position
// embeddings) run in ONNX Runtime at the lowest and highest opsets with
// Keras's outputs; a mask reaching an LSTM is refused naming it.
func TestMaskZeroExportOpsets(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ONNX Runtime; not in -short")
	}
	dir := t.TempDir()
	var jobs []*ortJob
	var wants []*ir.Tensor
	var labels []string
	for _, name := range []string{"k3_masked_attention", "k3_positions"} {
		g, err := keras.Import(filepath.Join("../../testdata/keras", name+".keras"), keras.Options{})
		if err != nil {
			t.Fatal(err)
		}
		f, err := hdf5.Open(filepath.Join("../../testdata/keras", name+"_io.h5"))
		if err != nil {
			t.Fatal(err)
		}
		in, out := readH5Group(t, f, "inputs"), readH5Group(t, f, "predictions")
		f.Close()
		for _, opset := range []int{exponnx.MinOpset, 12, 13, exponnx.MaxOpset} {
			p := filepath.Join(dir, fmt.Sprintf("%s_%d.onnx", name, opset))
			if err := exponnx.Export(p, g, exponnx.Options{Opset: opset}); err != nil {
				t.Fatalf("%s opset %d: %v", name, opset, err)
			}
			job := &ortJob{Model: p}
			for _, gi := range g.Inputs {
				job.arrays = append(job.arrays, toArray(gi.Name, in[gi.Name]))
			}
			jobs = append(jobs, job)
			wants = append(wants, out[g.Outputs[0].Name])
			labels = append(labels, fmt.Sprintf("%s opset %d", name, opset))
		}
	}
	for j, got := range ortBatch(t, dir, jobs) {
		if len(got) != 1 {
			t.Fatalf("%s: %d outputs", labels[j], len(got))
		}
		d := closeTo(t, labels[j], got[0], wants[j], 1e-4, 1e-5)
		t.Logf("%s: max |ORT - Keras| = %.3g", labels[j], d)
	}
	g, err := keras.Import("../../testdata/keras/k3_masked_lstm.keras", keras.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = exponnx.Export(filepath.Join(dir, "lstm.onnx"), g, exponnx.Options{})
	if err == nil || !strings.Contains(err.Error(), `"lstm"`) || !strings.Contains(err.Error(), "sequence_lens") {
		t.Fatalf("a mask reaching an LSTM: %v, want a refusal naming the vertex and why", err)
	}
}
