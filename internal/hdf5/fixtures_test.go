package hdf5

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

const fixtureDir = "../../testdata/hdf5"

type expObject struct {
	Kind            string             `json:"kind"`
	Attrs           map[string]expAttr `json:"attrs"`
	Members         []string           `json:"members"`
	MembersCreation []string           `json:"members_creation"`
	Shape           []uint64           `json:"shape"`
	Dtype           string             `json:"dtype"`
	Values          any                `json:"values"`
	Error           string             `json:"error"`
	Target          string             `json:"target"`
	File            string             `json:"file"`
}

type expAttr struct {
	Shape []uint64 `json:"shape"`
	Value any      `json:"value"`
	Error string   `json:"error"`
}

type expFile struct {
	Superblock int                  `json:"superblock"`
	Objects    map[string]expObject `json:"objects"`
}

func loadExpected(t *testing.T, name string) map[string]expFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatalf("reading expected values (regenerate with testdata/gen/hdf5_fixtures.py): %v", err)
	}
	var exp map[string]expFile
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	return exp
}

// flatten turns our decoded values into []any of float64, string or bool.
func flatten(v any) []any {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return []any{scalarOf(v)}
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = scalarOf(rv.Index(i).Interface())
	}
	return out
}

func scalarOf(v any) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case float32:
		return float64(x)
	case float64, string, bool:
		return x
	}
	return fmt.Sprintf("%T", v)
}

func jsonScalar(v any) any {
	if s, ok := v.(string); ok && s == "nan" {
		return math.NaN()
	}
	return v
}

// compareValues compares our value with h5py's JSON view (full list,
// scalar, or {n,sum,head} summary for big arrays).
func compareValues(got any, want any) error {
	g := flatten(got)
	switch w := want.(type) {
	case map[string]any:
		n := int(w["n"].(float64))
		if len(g) != n {
			return fmt.Errorf("got %d values, want %d", len(g), n)
		}
		var sum float64
		for _, x := range g {
			f, _ := x.(float64)
			sum += f
		}
		ws := w["sum"].(float64)
		if math.Abs(sum-ws) > 1e-9*math.Max(1, math.Abs(ws)) {
			return fmt.Errorf("sum %v, want %v", sum, ws)
		}
		return compareValues(g[:len(w["head"].([]any))], w["head"])
	case []any:
		if len(g) != len(w) {
			return fmt.Errorf("got %d values %v, want %d %v", len(g), g, len(w), w)
		}
		for i := range w {
			if err := compareScalar(g[i], jsonScalar(w[i])); err != nil {
				return fmt.Errorf("element %d: %v", i, err)
			}
		}
		return nil
	default:
		if _, isSlice := got.([]string); isSlice || len(g) != 1 {
			if rv := reflect.ValueOf(got); rv.Kind() == reflect.Slice {
				return fmt.Errorf("got slice %v, want scalar %v", got, want)
			}
		}
		return compareScalar(g[0], jsonScalar(want))
	}
}

func compareScalar(g, w any) error {
	switch wv := w.(type) {
	case float64:
		if b, ok := g.(bool); ok {
			if (wv != 0) != b {
				return fmt.Errorf("got %v, want %v", g, w)
			}
			return nil
		}
		gf, ok := g.(float64)
		if !ok || (gf != wv && !(math.IsNaN(gf) && math.IsNaN(wv))) {
			return fmt.Errorf("got %v (%T), want %v", g, g, w)
		}
	case bool:
		if g != wv {
			return fmt.Errorf("got %v, want %v", g, w)
		}
	case string:
		if g != wv {
			return fmt.Errorf("got %q, want %q", g, w)
		}
	default:
		return fmt.Errorf("unexpected expected value %v (%T)", w, w)
	}
	return nil
}

func checkAttrs(t *testing.T, where string, names []string, get func(string) (*Attribute, error), want map[string]expAttr) {
	t.Helper()
	var wantNames []string
	for n := range want {
		wantNames = append(wantNames, n)
	}
	sort.Strings(wantNames)
	if !reflect.DeepEqual(names, wantNames) && !(len(names) == 0 && len(wantNames) == 0) {
		t.Errorf("%s: attrs %v, want %v", where, names, wantNames)
	}
	for n, wa := range want {
		a, err := get(n)
		if wa.Error != "" {
			if err == nil {
				t.Errorf("%s@%s: expected error", where, n)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s@%s: %v", where, n, err)
			continue
		}
		if wa.Value == nil {
			if a.Value != nil {
				t.Errorf("%s@%s: got %v, want empty", where, n, a.Value)
			}
			continue
		}
		if len(wa.Shape) != len(a.Shape) || (len(a.Shape) > 0 && !reflect.DeepEqual(wa.Shape, a.Shape)) {
			t.Errorf("%s@%s: shape %v, want %v", where, n, a.Shape, wa.Shape)
		}
		if err := compareValues(a.Value, wa.Value); err != nil {
			t.Errorf("%s@%s: %v", where, n, err)
		}
	}
}

func TestFixtures(t *testing.T) {
	exp := loadExpected(t, "expected.json")
	if len(exp) == 0 {
		t.Fatal("no fixtures")
	}
	for name, ef := range exp {
		t.Run(name, func(t *testing.T) {
			f, err := Open(filepath.Join(fixtureDir, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.SuperblockVersion() != ef.Superblock {
				t.Errorf("superblock version %d, want %d", f.SuperblockVersion(), ef.Superblock)
			}
			checkFileAgainst(t, f, ef.Objects)
			// Walk must visit exactly the objects h5py lists.
			seen := map[string]bool{}
			if err := f.Root().Walk(func(p string, k ObjectKind) error {
				seen[p] = true
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for p := range ef.Objects {
				if p != "/" && !seen[p] && !strings.HasPrefix(p, "/soft/") {
					t.Errorf("walk missed %s", p)
				}
			}
		})
	}
}

func checkFileAgainst(t *testing.T, f *File, objs map[string]expObject) {
	root := f.Root()
	for p, eo := range objs {
		rel := strings.TrimPrefix(p, "/")
		switch eo.Kind {
		case "group":
			g := root
			if rel != "" {
				var err error
				if g, err = root.Group(rel); err != nil {
					t.Errorf("%s: %v", p, err)
					continue
				}
			}
			if g.Name() != p {
				t.Errorf("group name %q, want %q", g.Name(), p)
			}
			m, err := g.Members()
			if err != nil {
				t.Errorf("%s: %v", p, err)
				continue
			}
			if !reflect.DeepEqual(m, eo.Members) && !(len(m) == 0 && len(eo.Members) == 0) {
				t.Errorf("%s: members %v, want %v", p, m, eo.Members)
			}
			if eo.MembersCreation != nil {
				mc, err := g.MembersCreationOrder()
				if err != nil || !reflect.DeepEqual(mc, eo.MembersCreation) {
					t.Errorf("%s: creation order %v (%v), want %v", p, mc, err, eo.MembersCreation)
				}
			}
			names, err := g.Attrs()
			if err != nil {
				t.Errorf("%s: attrs: %v", p, err)
				continue
			}
			checkAttrs(t, p, names, g.Attribute, eo.Attrs)
		case "dataset":
			if k, err := root.Kind(rel); err != nil || k != KindDataset {
				t.Errorf("%s: kind %v %v", p, k, err)
			}
			d, err := root.Dataset(rel)
			if err != nil {
				t.Errorf("%s: %v", p, err)
				continue
			}
			if !reflect.DeepEqual(d.Shape(), eo.Shape) && !(len(d.Shape()) == 0 && len(eo.Shape) == 0) {
				t.Errorf("%s: shape %v, want %v", p, d.Shape(), eo.Shape)
			}
			names, err := d.Attrs()
			if err != nil {
				t.Errorf("%s: attrs: %v", p, err)
			} else {
				checkAttrs(t, p, names, d.Attribute, eo.Attrs)
			}
			v, err := d.Value()
			if eo.Error != "" {
				if !errors.Is(err, ErrUnsupported) {
					t.Errorf("%s: want unsupported error, got %v", p, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", p, err)
				continue
			}
			if err := compareValues(v, eo.Values); err != nil {
				t.Errorf("%s: %v", p, err)
			}
			if dt := d.Dtype(); dt.Class == ClassFloat || dt.Class == ClassInteger {
				f32, err := d.ReadFloat32()
				if err != nil {
					t.Errorf("%s: ReadFloat32: %v", p, err)
					continue
				}
				for i, x := range flatten(v) {
					if want := float32(x.(float64)); f32[i] != want && !(want != want) {
						t.Errorf("%s: ReadFloat32[%d] = %v, want %v", p, i, f32[i], want)
						break
					}
				}
			}
		case "soft link", "external link":
			k, err := root.Kind(rel)
			if err != nil || k.String() != eo.Kind {
				t.Errorf("%s: kind %v (%v), want %s", p, k, err, eo.Kind)
			}
			dir, base := filepath.Split(p)
			g, err := root.Group(strings.Trim(dir, "/"))
			if dir == "/" {
				g, err = root, nil
			}
			if err != nil {
				t.Errorf("%s: %v", p, err)
				continue
			}
			ls, _ := g.Links()
			for _, l := range ls {
				if l.Name == base && (l.Target != eo.Target || l.File != eo.File) {
					t.Errorf("%s: link %+v, want target %q file %q", p, l, eo.Target, eo.File)
				}
			}
		}
	}
}
