#!/usr/bin/env python3
"""Writes npy/testdata/*.npy with NumPy and manifest.json with the values
each must read as (float32). Needs python3-numpy (Debian)."""
import json
import os

import numpy as np

out = os.path.join(os.path.dirname(__file__), "..", "..", "npy", "testdata")
os.makedirs(out, exist_ok=True)
manifest = {"ok": {}, "refused": {}}


def ok(name, a):
    np.save(os.path.join(out, name + ".npy"), a)
    manifest["ok"][name] = {
        "shape": list(a.shape),
        "values": [float(v) if np.isfinite(v) else str(v) for v in np.asarray(a, dtype=np.float32).ravel()],
    }


def refused(name, a, why, **kw):
    np.save(os.path.join(out, name + ".npy"), a, **kw)
    manifest["refused"][name] = why


base = np.array([[-3, -2, -1], [0, 1, 2]])
ok("f4_le", base.astype("<f4") / 4)
ok("f8_be", base.astype(">f8") * 1.5)
ok("f2_le", np.array([0.5, -2, 65504, 6e-8, np.inf, 0], dtype="<f2"))
ok("i1", base.astype("i1"))
ok("i2_be", base.astype(">i2") * 1000)
ok("i4_le", base.astype("<i4") * 100000)
ok("i8_le", base.astype("<i8") * 7)
ok("u1", np.array([0, 1, 255], dtype="u1"))
ok("u2_be", np.array([0, 1, 65535], dtype=">u2"))
ok("u4_le", np.array([0, 1, 4000000], dtype="<u4"))
ok("u8_be", np.array([0, 1, 1 << 20], dtype=">u8"))
ok("bool", np.array([True, False, True]))
ok("scalar", np.array(2.5, dtype="f4"))
ok("empty", np.zeros((0, 3), dtype="f4"))
ok("rank4", np.arange(24, dtype="f4").reshape(1, 2, 3, 4))
np.lib.format.write_array(open(os.path.join(out, "v2_header.npy"), "wb"), np.arange(3, dtype="f4"), version=(2, 0))
manifest["ok"]["v2_header"] = {"shape": [3], "values": [0.0, 1.0, 2.0]}
refused("fortran", np.asfortranarray(np.arange(6, dtype="f4").reshape(2, 3)), "Fortran")
refused("object", np.array([1, "a"], dtype=object), "object", allow_pickle=True)
refused("complex", np.array([1 + 2j], dtype="c8"), "complex")
refused("unicode", np.array(["ab"]), "string")
refused("structured", np.zeros(2, dtype=[("a", "f4"), ("b", "i4")]), "structured")
refused("datetime", np.array(["2020-01-01"], dtype="datetime64[D]"), "datetime")

with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1, sort_keys=True)
