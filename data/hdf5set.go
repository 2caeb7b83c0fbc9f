package data

import (
	"fmt"

	"github.com/retarget-dev/retarget/internal/hdf5"
)

// ReadHDF5 reads a feature dataset and a label dataset (paths inside the
// file, e.g. "x_train" and "y_train") of one HDF5 file.
func ReadHDF5(path, featuresName, labelsName string, o ArrayOptions) (*Table, error) {
	f, err := hdf5.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	read := func(name string) ([]int, []float32, error) {
		d, err := f.Root().Dataset(name)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: dataset %q: %w", path, name, err)
		}
		var shape []int
		for _, s := range d.Shape() {
			if s > 1<<40 {
				return nil, nil, fmt.Errorf("%s: dataset %q has an impossible shape %v", path, name, d.Shape())
			}
			shape = append(shape, int(s))
		}
		data, err := d.ReadFloat32()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: dataset %q: %w", path, name, err)
		}
		return shape, data, nil
	}
	xs, xd, err := read(featuresName)
	if err != nil {
		return nil, err
	}
	ys, yd, err := read(labelsName)
	if err != nil {
		return nil, err
	}
	return arrayTable(path+":"+featuresName, path+":"+labelsName, xs, xd, ys, yd, o)
}
