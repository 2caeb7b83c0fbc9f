#!/usr/bin/env python3
"""Dump h5py's view of every .h5/.hdf5 file under the keras-real fixture
directory to testdata/hdf5/keras_real_expected.json (per dataset: shape,
dtype, sum and first values; attributes).

Usage: python3 testdata/gen/hdf5_dump_keras_real.py [DIR]
  DIR defaults to ../shared/fixtures/keras-real relative to the module root.
"""
import json
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "testdata", "hdf5", "keras_real_expected.json")
HEAD = 4


def conv(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        return [conv(x) for x in v.reshape(-1).tolist()]
    if isinstance(v, list):
        return [conv(x) for x in v]
    if isinstance(v, np.generic):
        return conv(v.item())
    if isinstance(v, float) and not np.isfinite(v):
        return repr(v)
    return v


def attrs(obj):
    out = {}
    for k in obj.attrs:
        v = obj.attrs[k]
        if isinstance(v, h5py.Empty):
            out[k] = None
            continue
        c = conv(v)
        if isinstance(c, str) and len(c) > 120:
            c = {"len": len(c.encode()), "prefix": c[:48]}
        elif isinstance(c, list) and len(c) > 64:
            c = {"n": len(c), "head": c[:16]}
        out[k] = c
    return out


def dump(path):
    objs = {}
    with h5py.File(path, "r") as f:
        objs["/"] = {"kind": "group", "attrs": attrs(f)}

        def visit(name, o):
            if isinstance(o, h5py.Group):
                objs["/" + name] = {"kind": "group", "attrs": attrs(o)}
                return
            v = o[()]
            d = {"kind": "dataset", "shape": list(o.shape), "dtype": o.dtype.str, "attrs": attrs(o)}
            if o.dtype.kind in "iufb":
                a = np.asarray(v, dtype="f8").reshape(-1)
                d["sum"] = float(a.sum()) if np.isfinite(a).all() else repr(float(a.sum()))
                d["head"] = conv(a[:HEAD])
            else:
                d["head"] = conv(np.asarray(v).reshape(-1)[:HEAD])
            objs["/" + name] = d
        f.visititems(visit)
    return objs


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "fixtures", "keras-real")
    src = os.path.normpath(src)
    exp = {}
    for dirpath, _, files in os.walk(src):
        for n in sorted(files):
            if n.endswith((".h5", ".hdf5")):
                p = os.path.join(dirpath, n)
                exp[os.path.relpath(p, src)] = dump(p)
    with open(OUT, "w") as fh:
        json.dump(exp, fh, indent=0, sort_keys=True, ensure_ascii=False)
    print("dumped", len(exp), "files to", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
