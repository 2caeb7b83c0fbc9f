package hdf5

import (
	"os"
	"testing"
)

func TestDebugDump(t *testing.T) {
	p := os.Getenv("HDF5_DUMP")
	if p == "" {
		t.Skip("set HDF5_DUMP")
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := dumpFile(f, os.Stdout); err != nil {
		t.Fatal(err)
	}
}
