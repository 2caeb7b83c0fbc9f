package keras_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retarget-dev/retarget/importers/keras"
)

const realFixtures = "../../../shared/fixtures/keras-real"

// TestLoadWeightsRealKeras loads every save_weights file real Keras wrote
// (with its JSON architecture alongside) into the graph the importer
// builds from the architecture alone, and requires exactly the tensors the
// importer reads from config plus weights.
func TestLoadWeightsRealKeras(t *testing.T) {
	if _, err := os.Stat(realFixtures); err != nil {
		t.Skipf("real Keras fixtures not found at %s: %v", realFixtures, err)
	}
	var pairs [][2]string
	filepath.Walk(realFixtures, func(p string, info os.FileInfo, err error) error {
		if err != nil || !strings.HasSuffix(p, "_weights.h5") {
			return nil
		}
		cfg := strings.TrimSuffix(p, "_weights.h5") + "_config.json"
		if _, err := os.Stat(cfg); err == nil {
			pairs = append(pairs, [2]string{cfg, p})
		}
		return nil
	})
	if len(pairs) == 0 {
		t.Skip("no *_weights.h5 with a *_config.json")
	}
	ok := 0
	for _, p := range pairs {
		name, _ := filepath.Rel(realFixtures, p[1])
		want, err := keras.Import(p[0], keras.Options{Weights: p[1]})
		if err != nil {
			t.Logf("%s: importer refuses it, not a LoadWeights case: %v", name, err)
			continue
		}
		if strings.Contains(want.Meta["keras_backend"], "theano") || want.Meta["keras_shared_layers"] != "" {
			t.Logf("%s: theano or shared layers, skipped", name)
			continue
		}
		got := want.Clone()
		for _, v := range got.Vertices {
			for _, t := range v.Params {
				for i := range t.Data {
					t.Data[i] = -7
				}
			}
		}
		if err := keras.LoadWeights(got, p[1], keras.LoadWeightsOptions{}); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, v := range want.Vertices {
			for _, pn := range v.ParamNames() {
				if !got.Vertex(v.Name).Params[pn].Equal(v.Params[pn]) {
					t.Errorf("%s: vertex %q parameter %s differs from the importer's", name, v.Name, pn)
				}
			}
		}
		ok++
	}
	t.Logf("%d of %d real save_weights files loaded by name and matched the importer", ok, len(pairs))
	if ok == 0 {
		t.Error("no real file was checked")
	}
}
