// Package data provides the dataset iterators that fitting, featurizing,
// evaluation and plans consume (they implement nn.Iterator): image folders,
// CSV tables, NPY and HDF5 array pairs, and CSV sequences with masks.
package data
