package hdf5

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// kerasRealDir holds real Keras files shared by the whole project.
const kerasRealDir = "../../../shared/fixtures/keras-real"

type kerasExp struct {
	Kind  string         `json:"kind"`
	Shape []uint64       `json:"shape"`
	Dtype string         `json:"dtype"`
	Sum   any            `json:"sum"`
	Head  []any          `json:"head"`
	Attrs map[string]any `json:"attrs"`
}

func TestKerasReal(t *testing.T) {
	if _, err := os.Stat(kerasRealDir); err != nil {
		t.Skipf("keras-real fixtures not present at %s (module-root ../shared/fixtures/keras-real): %v", kerasRealDir, err)
	}
	b, err := os.ReadFile(filepath.Join(fixtureDir, "keras_real_expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]map[string]kerasExp
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	n := 0
	err = filepath.Walk(kerasRealDir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !(strings.HasSuffix(p, ".h5") || strings.HasSuffix(p, ".hdf5")) {
			return err
		}
		rel, _ := filepath.Rel(kerasRealDir, p)
		n++
		t.Run(rel, func(t *testing.T) {
			want, ok := exp[rel]
			if !ok {
				t.Fatalf("no expected values; rerun testdata/gen/hdf5_dump_keras_real.py")
			}
			checkKerasFile(t, p, want)
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(exp) {
		t.Errorf("found %d files, expected.json lists %d", n, len(exp))
	}
}

func checkKerasFile(t *testing.T, path string, want map[string]kerasExp) {
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	root := f.Root()
	seen := 0
	check := func(p string, attrNames []string, get func(string) (*Attribute, error)) {
		w := want[p]
		if len(attrNames) != len(w.Attrs) {
			t.Errorf("%s: %d attrs, want %d", p, len(attrNames), len(w.Attrs))
		}
		for _, n := range attrNames {
			a, err := get(n)
			if err != nil {
				t.Errorf("%s@%s: %v", p, n, err)
				continue
			}
			if err := compareKerasAttr(a.Value, w.Attrs[n]); err != nil {
				t.Errorf("%s@%s: %v", p, n, err)
			}
		}
	}
	names, err := root.Attrs()
	if err != nil {
		t.Fatal(err)
	}
	check("/", names, root.Attribute)
	err = root.Walk(func(p string, kind ObjectKind) error {
		w, ok := want[p]
		if !ok {
			return fmt.Errorf("%s not listed by h5py", p)
		}
		seen++
		rel := strings.TrimPrefix(p, "/")
		switch kind {
		case KindGroup:
			g, err := root.Group(rel)
			if err != nil {
				return err
			}
			names, err := g.Attrs()
			if err != nil {
				return err
			}
			check(p, names, g.Attribute)
		case KindDataset:
			d, err := root.Dataset(rel)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(d.Shape(), w.Shape) && !(len(d.Shape()) == 0 && len(w.Shape) == 0) {
				t.Errorf("%s: shape %v, want %v", p, d.Shape(), w.Shape)
			}
			names, err := d.Attrs()
			if err != nil {
				return err
			}
			check(p, names, d.Attribute)
			if w.Sum == nil {
				v, err := d.Value()
				if err != nil {
					return err
				}
				return compareValues(flatten(v)[:len(w.Head)], w.Head)
			}
			v, err := d.ReadFloat64()
			if err != nil {
				return err
			}
			var sum float64
			for _, x := range v {
				sum += x
			}
			if ws, ok := w.Sum.(float64); ok && math.Abs(sum-ws) > 1e-6*math.Max(1, math.Abs(ws)) {
				t.Errorf("%s: sum %v, want %v", p, sum, ws)
			}
			g := make([]any, len(w.Head))
			for i := range g {
				g[i] = v[i]
			}
			if err := compareValues(g, w.Head); err != nil {
				t.Errorf("%s: %v", p, err)
			}
			f32, err := d.ReadFloat32()
			if err != nil || len(f32) != len(v) {
				t.Errorf("%s: ReadFloat32: %v", p, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(want)-1 {
		t.Errorf("walk saw %d objects, h5py %d", seen, len(want)-1)
	}
}

func compareKerasAttr(got any, want any) error {
	if m, ok := want.(map[string]any); ok {
		if l, ok := m["len"]; ok {
			s, isStr := got.(string)
			if !isStr || float64(len(s)) != l.(float64) || !strings.HasPrefix(s, m["prefix"].(string)) {
				return fmt.Errorf("long string mismatch (len %d)", len(s))
			}
			return nil
		}
		g := flatten(got)
		if float64(len(g)) != m["n"].(float64) {
			return fmt.Errorf("got %d values, want %v", len(g), m["n"])
		}
		return compareValues(g[:len(m["head"].([]any))], m["head"])
	}
	if want == nil {
		if got != nil {
			return fmt.Errorf("got %v, want empty", got)
		}
		return nil
	}
	return compareValues(got, want)
}
