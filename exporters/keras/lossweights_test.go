package keras

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	kimp "github.com/retarget-dev/retarget/importers/keras"
	"github.com/retarget-dev/retarget/internal/testenv"
	"github.com/retarget-dev/retarget/ir"
)

// The two-input, two-output model of testdata/gen/keras_two_heads.py keeps
// its loss weights through import, export and import again, and h5py reads
// them from the exported training_config.
func TestLossWeightsRoundTrip(t *testing.T) {
	g, err := kimp.Import("../../testdata/keras/two_heads/model.h5", kimp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"reg": 0.5, "cls": 2}
	check := func(g *ir.Graph, what string) {
		for name, w := range want {
			if got := ir.LossWeightOf(g.Vertex(name).Layer); got != w {
				t.Errorf("%s: loss weight of %s = %v, want %v", what, name, got, w)
			}
		}
	}
	check(g, "import")
	out := filepath.Join(t.TempDir(), "two_heads.h5")
	if err := Export(out, g); err != nil {
		t.Fatal(err)
	}
	g2, err := kimp.Import(out, kimp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	check(g2, "re-import")
	py, err := testenv.Python("h5py")
	if err != nil {
		t.Skipf("h5py check skipped: %v", err)
	}
	b, err := exec.Command(py, "-c", `
import h5py, json, sys
f = h5py.File(sys.argv[1], "r")
print(json.dumps(json.loads(f.attrs["training_config"])["loss_weights"]))
`, out).CombinedOutput()
	if err != nil {
		t.Fatalf("h5py: %v\n%s", err, b)
	}
	var got map[string]float64
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(b))), &got); err != nil {
		t.Fatalf("loss_weights %s: %v", b, err)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("h5py reads loss_weights %v, want %v", got, want)
		}
	}
}
