package keras

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzImportConfig feeds arbitrary bytes to the config parser and the
// importer (JSON, and HDF5 / .keras when the bytes look like one): no
// input may panic or hang.
func FuzzImportConfig(f *testing.F) {
	f.Add([]byte(functionalJSON))
	f.Add([]byte(`{"class_name": "Sequential", "config": [{"class_name": "Dense", "config": {"name": "d", "units": 3, "batch_input_shape": [null, 4]}}]}`))
	f.Add([]byte(`{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "i", "batch_input_shape": [null, 5, 5, 2]}},
	 {"class_name": "Conv2D", "config": {"name": "c", "filters": 2, "kernel_size": 3, "padding": "same"}},
	 {"class_name": "Flatten", "config": {"name": "f"}}, {"class_name": "Dense", "config": {"name": "o", "units": 2}}]}}`))
	for _, p := range []string{"examples/simple_rnn/simple_rnn_tf_keras_2_config.json",
		"examples/activations/ReLU_2_config.json", "examples/simple_flatten_lstm/simple_flatten_lstm_tf_keras_2_config.json"} {
		if b, err := os.ReadFile(filepath.Join(realDir, p)); err == nil {
			f.Add(b)
		}
	}
	for _, n := range []string{"k3_mlp", "k3_cnn", "k3_lstm"} {
		if b, err := os.ReadFile(filepath.Join(k3Dir, n+".keras")); err == nil {
			f.Add(b)
			f.Add(unzipEntryBytes(b, "config.json"))
			f.Add(storedCopy(b)) // its weights then read in place (storedEntry)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ImportFrom(bytes.NewReader(data), Options{})
		if err == nil && g == nil {
			t.Fatal("nil graph without an error")
		}
	})
}

// storedCopy is a zip archive with data's entries stored uncompressed (nil
// if data is not an archive).
func storedCopy(data []byte) []byte {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		if err != nil {
			return nil
		}
		w.Write(unzipEntryBytes(data, f.Name))
	}
	zw.Close()
	return buf.Bytes()
}
