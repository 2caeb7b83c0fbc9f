package keras

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Keras 3 archives written by testdata/gen/keras3_fixture.py, with the
// outputs numpy computed for them.
const k3Dir = "../../testdata/keras"

func TestKeras3Archives(t *testing.T) {
	for _, name := range []string{"k3_mlp", "k3_cnn", "k3_lstm", "k3_transformer", "k3_lstm_state", "k3_attention", "k3_masked_attention", "k3_masked_lstm", "k3_layernorm", "k3_positions"} {
		t.Run(name, func(t *testing.T) {
			g, err := Import(filepath.Join(k3Dir, name+".keras"), Options{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			if g.Meta["keras_version"] != "3.3.3" {
				t.Errorf("keras_version %q", g.Meta["keras_version"])
			}
			checkParity(t, g, readIOFixture(t, filepath.Join(k3Dir, name+"_io.h5")))
		})
		t.Run(name+"/json+weights.h5", func(t *testing.T) {
			dir := t.TempDir()
			cfg, weights := unzipEntry(t, filepath.Join(k3Dir, name+".keras"), "config.json"),
				unzipEntry(t, filepath.Join(k3Dir, name+".keras"), "model.weights.h5")
			cp, wp := filepath.Join(dir, "config.json"), filepath.Join(dir, name+".weights.h5")
			os.WriteFile(cp, cfg, 0o644)
			os.WriteFile(wp, weights, 0o644)
			g, err := Import(cp, Options{Weights: wp, Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			checkParity(t, g, readIOFixture(t, filepath.Join(k3Dir, name+"_io.h5")))
		})
	}
}

func TestKeras3Loss(t *testing.T) {
	g, err := Import(filepath.Join(k3Dir, "k3_mlp.keras"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := g.Vertex("dense_1")
	if v == nil || v.Layer.Kind() != "Output" {
		t.Fatalf("dense_1 should be the Output vertex, got %+v", v)
	}
	if g.Train == nil || g.Train.LearningRate != 0.01 {
		t.Errorf("optimizer not imported: %+v", g.Train)
	}
}

func unzipEntry(t *testing.T, path, entry string) []byte {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name == entry {
			rc, _ := f.Open()
			defer rc.Close()
			b, _ := io.ReadAll(rc)
			return b
		}
	}
	t.Fatalf("%s has no %s", path, entry)
	return nil
}

// TestKerasArchiveRefusesEscapingEntries: a zip entry such as ../x must
// make the import fail, not be read.
func TestKerasArchiveRefusesEscapingEntries(t *testing.T) {
	for _, bad := range []string{"../evil.txt", "/abs/path", "a/../../b", `dir\..\x`} {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, n := range []string{"config.json", bad} {
			w, _ := zw.Create(n)
			w.Write([]byte(`{"class_name":"Sequential","config":{"layers":[]}}`))
		}
		zw.Close()
		p := filepath.Join(t.TempDir(), "m.keras")
		os.WriteFile(p, buf.Bytes(), 0o644)
		_, err := Import(p, Options{})
		if err == nil || !strings.Contains(err.Error(), "archive") {
			t.Errorf("entry %q: want an archive error, got %v", bad, err)
		}
	}
}

func unzipEntryBytes(data []byte, entry string) []byte {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil
	}
	for _, f := range zr.File {
		if f.Name == entry {
			rc, _ := f.Open()
			defer rc.Close()
			b, _ := io.ReadAll(rc)
			return b
		}
	}
	return nil
}

// TestKeras3StoredWeights: an archive whose model.weights.h5 is stored
// uncompressed is read where the entry lies (storedEntry) and imports as
// the deflated one does; a CRC-32 that does not match the entry is
// refused, stored or deflated.
func TestKeras3StoredWeights(t *testing.T) {
	src := filepath.Join(k3Dir, "k3_cnn.keras")
	rewrite := func(method uint16, badCRC bool) string {
		zr, err := zip.OpenReader(src)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, f := range zr.File {
			b := unzipEntry(t, src, f.Name)
			w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: method})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(b)
		}
		zw.Close()
		data := buf.Bytes()
		if badCRC { // the weights entry's CRC-32 in the central directory
			name := []byte("model.weights.h5")
			for i := 0; i+46+len(name) <= len(data); i++ {
				if bytes.Equal(data[i:i+4], []byte("PK\x01\x02")) && bytes.Equal(data[i+46:i+46+len(name)], name) {
					data[i+16] ^= 0x40
				}
			}
		}
		p := filepath.Join(t.TempDir(), "m.keras")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stored := rewrite(zip.Store, false)
	zr, err := zip.OpenReader(stored)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	st, _ := os.Stat(stored)
	fh, _ := os.Open(stored)
	defer fh.Close()
	for _, f := range zr.File {
		if f.Name != "model.weights.h5" {
			continue
		}
		sr, err := storedEntry(f, fh, st.Size())
		if err != nil || sr == nil {
			t.Fatalf("storedEntry: %v, %v", sr, err)
		}
		got, _ := io.ReadAll(sr)
		if !bytes.Equal(got, unzipEntry(t, src, f.Name)) {
			t.Fatal("storedEntry reads other bytes than the entry's")
		}
	}
	g, err := Import(stored, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	checkParity(t, g, readIOFixture(t, filepath.Join(k3Dir, "k3_cnn_io.h5")))
	for _, method := range []uint16{zip.Store, zip.Deflate} {
		if _, err := Import(rewrite(method, true), Options{}); err == nil || !strings.Contains(err.Error(), "checksum") {
			t.Errorf("method %d, CRC-32 changed: %v", method, err)
		}
	}
}
