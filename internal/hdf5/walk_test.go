package hdf5

import (
	"fmt"
	"io"
	"strings"
)

// dumpFile walks every object and reads every dataset and attribute,
// writing a textual summary to w. It returns the first error.
func dumpFile(f *File, w io.Writer) error {
	root := f.Root()
	dumpAttrs := func(path string, names []string, get func(string) (*Attribute, error)) error {
		for _, n := range names {
			a, err := get(n)
			if err != nil {
				return err
			}
			s := fmt.Sprint(a.Value)
			if len(s) > 80 {
				s = s[:80] + "..."
			}
			fmt.Fprintf(w, "  @%s %v %s = %s\n", n, a.Shape, a.Dtype, s)
		}
		return nil
	}
	names, err := root.Attrs()
	if err != nil {
		return err
	}
	if err := dumpAttrs("/", names, root.Attribute); err != nil {
		return err
	}
	return root.Walk(func(path string, kind ObjectKind) error {
		fmt.Fprintf(w, "%s [%s]\n", path, kind)
		switch kind {
		case KindGroup:
			g, err := root.Group(strings.TrimPrefix(path, "/"))
			if err != nil {
				return err
			}
			names, err := g.Attrs()
			if err != nil {
				return err
			}
			return dumpAttrs(path, names, g.Attribute)
		case KindDataset:
			d, err := root.Dataset(strings.TrimPrefix(path, "/"))
			if err != nil {
				return err
			}
			v, err := d.Value()
			if err != nil {
				fmt.Fprintf(w, "  value error: %v\n", err)
			} else {
				s := fmt.Sprint(v)
				if len(s) > 80 {
					s = s[:80] + "..."
				}
				fmt.Fprintf(w, "  %v %s chunks=%v = %s\n", d.Shape(), d.dtype, d.Chunks(), s)
			}
			names, err := d.Attrs()
			if err != nil {
				return err
			}
			return dumpAttrs(path, names, d.Attribute)
		}
		return nil
	})
}
