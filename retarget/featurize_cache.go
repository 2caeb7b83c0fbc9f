package retarget

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"github.com/retarget-dev/retarget/internal/cachedir"
	"hash"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/retarget-dev/retarget/ir"
)

// FeaturizeKey is the key of featurized shards: a SHA-256 over the frozen
// subgraph up to boundary (its inputs, every vertex's layer config, inputs
// and parameter values) and dataID (DataSet.ID). Two networks that share
// the frozen part give the same key whatever their heads are, so a new head
// reuses the shards.
func FeaturizeKey(g *ir.Graph, boundary []string, dataID string) (string, error) {
	key, _, err := featurizeKeys(g, boundary, dataID)
	return key, err
}

// featurizeKeys is FeaturizeKey with the frozen part's own key.
func featurizeKeys(g *ir.Graph, boundary []string, dataID string) (key, frozen string, err error) {
	if len(boundary) == 0 {
		boundary = Boundary(g)
	}
	fg, err := FrozenGraph(g, boundary)
	if err != nil {
		return "", "", err
	}
	if frozen, err = frozenKey(fg, boundary); err != nil {
		return "", "", err
	}
	return dataKey(frozen, dataID), frozen, nil
}

// dataKey is the key of the shards of data dataID through the frozen part
// whose frozenKey is frozen.
func dataKey(frozen, dataID string) string {
	h := sha256.New()
	fmt.Fprintf(h, "retarget.featurized/1\x00%s\x00%s", frozen, dataID)
	return hex.EncodeToString(h.Sum(nil))
}

// frozenKey hashes the frozen subgraph fg up to boundary: its inputs and
// every vertex's layer config, inputs and parameter values.
func frozenKey(fg *ir.Graph, boundary []string) (string, error) {
	h := sha256.New()
	str := func(s string) { fmt.Fprintf(h, "%d:%s", len(s), s) }
	str("retarget.featurized/1")
	for _, in := range fg.Inputs {
		str(in.Name)
		str(string(in.Layout))
		ints(h, in.Shape)
	}
	for _, v := range fg.Vertices {
		str(v.Name)
		b, err := ir.MarshalLayer(v.Layer)
		if err != nil {
			return "", err
		}
		str(string(b))
		for _, in := range v.Inputs {
			str(in)
		}
		names := make([]string, 0, len(v.Params))
		for k := range v.Params {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			t := v.Params[k]
			str(k)
			ints(h, t.Shape)
			buf := make([]byte, 4*len(t.Data))
			for i, x := range t.Data {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(x))
			}
			h.Write(buf)
		}
	}
	for _, b := range boundary {
		str(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func ints(h hash.Hash, xs []int) {
	for _, x := range xs {
		fmt.Fprintf(h, "%d,", x)
	}
	h.Write([]byte{';'})
}

// reusable returns dir's index when it holds complete shards of key (and
// of the same part of the same partition).
func reusable(dir, key string, part *PartInfo) *ShardIndex {
	idx, err := readIndex(filepath.Join(dir, "index.json"))
	if err != nil || idx.Key != key || (idx.Part == nil) != (part == nil) || (part != nil && *idx.Part != *part) {
		return nil
	}
	for _, s := range idx.Shards {
		if !safeComponent(s.Prefix) {
			return nil
		}
		for _, arrs := range [][]ShardArray{idx.Inputs, idx.Labels} {
			for _, a := range arrs {
				if !safeComponent(a.Suffix) {
					return nil
				}
				st, err := os.Stat(filepath.Join(dir, s.Prefix+"."+a.Suffix+".npy"))
				if err != nil {
					return nil
				}
				idx.Bytes += st.Size()
			}
		}
	}
	idx.Reused, idx.Dir = true, dir
	return idx
}

// CacheDir is where Featurize keeps the shards of key under root.
func CacheDir(root, key string) string { return filepath.Join(root, key[:min(len(key), 24)]) }

// DefaultCacheRoot is the featurize cache: the shared cache folder
// ($RETARGET_CACHE, else $XDG_CACHE_HOME/retarget) + /featurized.
func DefaultCacheRoot() (string, error) {
	root, err := cachedir.Root()
	if err != nil {
		return "", fmt.Errorf("%w; or set fit.cache_dir", err)
	}
	return filepath.Join(root, "featurized"), nil
}
