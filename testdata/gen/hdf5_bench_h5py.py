#!/usr/bin/env python3
"""Time h5py reading a large contiguous float32 dataset.

Usage: python3 testdata/gen/hdf5_bench_h5py.py FILE [DATASET] [REPEATS]
Prints one line: "h5py_MBps <best MB/s with read_direct into a preallocated
array> alloc_MBps <best MB/s for ds[()]>".
"""
import sys
import time

import h5py
import numpy as np


def main():
    path = sys.argv[1]
    name = sys.argv[2] if len(sys.argv) > 2 else "data"
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    with h5py.File(path, "r") as f:
        ds = f[name]
        nbytes = ds.size * ds.dtype.itemsize
        out = np.empty(ds.shape, dtype=ds.dtype)
        best_direct = best_alloc = float("inf")
        for _ in range(reps):
            t = time.perf_counter()
            ds.read_direct(out)
            best_direct = min(best_direct, time.perf_counter() - t)
            t = time.perf_counter()
            a = ds[()]
            best_alloc = min(best_alloc, time.perf_counter() - t)
            del a
    mb = nbytes / 1e6
    print("h5py_MBps %.1f alloc_MBps %.1f" % (mb / best_direct, mb / best_alloc))


if __name__ == "__main__":
    main()
