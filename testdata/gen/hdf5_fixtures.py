#!/usr/bin/env python3
"""Generate small HDF5 fixtures for internal/hdf5 and dump h5py's view of
them to testdata/hdf5/expected.json.

Usage: python3 testdata/gen/hdf5_fixtures.py   (from the module root)
"""
import json
import os
import sys

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hdf5")


def common(f, full=True):
    """Content that every superblock version supports (a subset unless full)."""
    g = f.create_group("model_weights")
    g.attrs["backend"] = "tensorflow"  # vlen str
    g.attrs["layer_names"] = np.array([b"dense_1", b"conv2d_10"])  # fixed S
    d = g.create_group("dense_1").create_group("dense_1")
    d.create_dataset("kernel:0", data=np.arange(24, dtype="<f4").reshape(4, 6) / 7)
    d.create_dataset("bias:0", data=np.linspace(-1, 1, 6, dtype="<f4"))
    g["soft_old_style"] = h5py.SoftLink("/model_weights/dense_1")  # symbol-table soft link
    g["dense_1"].attrs["weight_names"] = np.array([b"dense_1/kernel:0", b"dense_1/bias:0"])
    f.attrs["model_config"] = '{"class_name": "Sequential", "config": [] , "u": "\u00e9\u4e2d"}'
    f.attrs["int_scalar"] = np.int64(-42)
    f.attrs["float_scalar"] = np.float64(3.25)
    f.attrs["int_array"] = np.array([1, 2, 3], dtype="<i8")
    f.attrs["float_array"] = np.array([0.5, 1.5], dtype="<f8")
    f.attrs["nd_attr"] = np.arange(6, dtype="<i4").reshape(2, 3)
    f.attrs["u8_attr"] = np.uint8(200)
    f.attrs["bool_attr"] = np.bool_(True)
    f.attrs["vlen_list"] = np.array(["a", "bb", "ccc"], dtype=h5py.string_dtype())
    f.attrs["f32_be_attr"] = np.array([1.5, -2.0], dtype=">f4")
    f.attrs["empty"] = h5py.Empty("f4")
    c = f.create_group("chunked")
    cv = np.arange(10 * 7, dtype="<f4").reshape(10, 7) * 0.5
    c.create_dataset("shuffle_gzip_fletcher", data=cv, chunks=(3, 7), compression="gzip", shuffle=True,
                     fletcher32=True)
    many = f.create_group("many")
    for i in range(12):
        many.create_dataset("m%02d" % (11 - i), data=np.array([i], dtype="<i4"))
    if not full:
        return

    t = f.create_group("types")
    for dt in ["<i1", "<u1", "<i2", ">i2", "<u2", "<i4", ">i4", "<u4", "<i8", ">i8", "<u8",
               "<f2", ">f2", "<f4", ">f4", "<f8", ">f8"]:
        name = dt.replace("<", "le_").replace(">", "be_")
        if np.dtype(dt).kind == "f":
            v = (np.arange(12) - 5.5) * 1.25
        elif np.dtype(dt).kind == "u":
            v = np.arange(12) * (np.iinfo(dt).max // 13)
        else:
            v = (np.arange(12) - 6) * (np.iinfo(dt).max // 7)
        t.create_dataset(name, data=np.array(v, dtype=dt).reshape(3, 4))
    t.create_dataset("bool", data=np.array([True, False, True]))
    t.create_dataset("scalar_f8", data=np.float64(2.5))
    t.create_dataset("fixed_str", data=np.array([b"abc", b"de", b""]))
    t.create_dataset("vlen_str", data=np.array(["x", "yy", "\u00e9t\u00e9"], dtype=h5py.string_dtype()))
    t.create_dataset("compound", data=np.array([(1, 2.0), (3, 4.0)], dtype=[("a", "<i4"), ("b", "<f8")]))

    c.create_dataset("gzip", data=cv, chunks=(4, 3), compression="gzip", compression_opts=4)
    c.create_dataset("plain", data=np.arange(50, dtype="<i2"), chunks=(8,))
    c.create_dataset("lzf", data=cv, chunks=(5, 5), compression="lzf")
    fl = c.create_dataset("fill", shape=(6, 6), dtype="<f4", chunks=(3, 3), fillvalue=-1.5)
    fl[0:3, 0:3] = 7.0
    c.create_dataset("resizable", data=np.arange(9, dtype="<f8"), maxshape=(None,), chunks=(4,))
    f.create_dataset("contig_fill", shape=(5,), dtype="<i4", fillvalue=9)
    f.create_dataset("big_endian", data=np.arange(8, dtype=">f8").reshape(2, 2, 2))

    # compact layout
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    space = h5py.h5s.create_simple((5,))
    ds = h5py.h5d.create(f.id, b"compact", h5py.h5t.IEEE_F32LE, space, dcpl=dcpl)
    ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.arange(5, dtype="<f4") + 0.25)

    for i in range(12, 40):
        many.create_dataset("m%02d" % i, data=np.array([i], dtype="<i4"))
    f["soft"] = h5py.SoftLink("/model_weights")
    f["ext"] = h5py.ExternalLink("other.h5", "/x")


def latest_only(f):
    # chunk index types
    v = np.arange(12 * 10, dtype="<f4").reshape(12, 10)
    x = f.create_group("idx")
    x.create_dataset("single", data=v, chunks=(12, 10))
    x.create_dataset("single_gzip", data=v, chunks=(12, 10), compression="gzip")
    x.create_dataset("fixed", data=v, chunks=(5, 3))
    x.create_dataset("fixed_gzip", data=v, chunks=(5, 3), compression="gzip", shuffle=True)
    x.create_dataset("fixed_paged", data=np.arange(2000, dtype="<f4"), chunks=(1,))
    x.create_dataset("ext", data=v, chunks=(2, 4), maxshape=(None, 10))
    x.create_dataset("ext_gzip", data=v, chunks=(2, 4), maxshape=(None, 10), compression="gzip")
    x.create_dataset("ext_many", data=np.arange(300, dtype="<i4"), chunks=(1,), maxshape=(None,))
    x.create_dataset("ext_col", data=v, chunks=(5, 3), maxshape=(12, None))
    x.create_dataset("bt2", data=v, chunks=(5, 3), maxshape=(None, None))
    x.create_dataset("bt2_gzip", data=v, chunks=(5, 3), maxshape=(None, None), compression="gzip",
                     fletcher32=True)
    b = x.create_dataset("bt2_fill", shape=(20, 20), maxshape=(None, None), chunks=(4, 4), dtype="<i2",
                         fillvalue=3)
    b[5:9, 5:9] = 100
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk((5, 3))
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    space = h5py.h5s.create_simple((12, 10))
    ds = h5py.h5d.create(x.id, b"implicit", h5py.h5t.IEEE_F32LE, space, dcpl=dcpl)
    ds.write(h5py.h5s.ALL, h5py.h5s.ALL, v)

    # dense link storage, with and without creation order
    d = f.create_group("dense")
    for i in range(20):
        d.create_dataset("n%02d" % ((i * 7) % 20), data=np.array([i], dtype="<i8"))
    o = f.create_group("ordered", track_order=True)
    for i, n in enumerate(["zeta", "alpha", "mid", "beta"]):
        o.create_group(n)
    od = f.create_group("ordered_dense", track_order=True)
    for i in range(12):
        od.create_group("g%02d" % ((i * 5) % 12))
    # dense attribute storage: many attributes and one > 64 KiB
    a = f.create_group("attrs_dense")
    for i in range(12):
        a.attrs["a%02d" % i] = np.int32(i)
    a.attrs["big"] = np.arange(16500, dtype="<f4")  # > 64 KiB
    a.attrs["s"] = "dense string"
    ta = f.create_group("attrs_ordered", track_order=True)
    ta.attrs["z"] = 1
    ta.attrs["a"] = 2


def make(name, libver, fcpl=None, extra=None, full=True):
    path = os.path.join(OUT, name)
    if fcpl is not None:
        fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
        fapl.set_libver_bounds(h5py.h5f.LIBVER_EARLIEST, h5py.h5f.LIBVER_LATEST)
        fid = h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)
        f = h5py.File(fid)
    else:
        f = h5py.File(path, "w", libver=libver)
    with f:
        common(f, full)
        if extra:
            extra(f)


def jsonable(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        return [jsonable(x) for x in v.reshape(-1).tolist()]
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return jsonable(v.item())
    if isinstance(v, float) and v != v:
        return "nan"
    return v


def values_view(v):
    """Full values for small arrays; count, sum and head for large ones."""
    flat = jsonable(v)
    if isinstance(flat, list) and len(flat) > 64:
        return {"n": len(flat), "sum": float(np.sum(np.asarray(v, dtype="f8"))), "head": flat[:16]}
    return flat


def attr_view(obj):
    out = {}
    for k in obj.attrs:
        a = obj.attrs.get_id(k)
        shape = list(a.shape) if a.shape is not None else None
        try:
            val = obj.attrs[k]
            if isinstance(val, h5py.Empty):
                val = None
            out[k] = {"shape": shape, "value": values_view(val)}
        except Exception as e:  # noqa
            out[k] = {"shape": shape, "error": str(e)}
    return out


def dump(path):
    objs = {}
    with h5py.File(path, "r") as f:
        sb = open(path, "rb").read(9)[8]

        def visit_group(g):
            names = list(g.keys())
            view = {"kind": "group", "attrs": attr_view(g), "members": sorted(names, key=lambda s: s.encode())}
            if g.id.get_create_plist().get_link_creation_order():
                view["members_creation"] = names
            objs[g.name] = view
            for n in names:
                p = (g.name.rstrip("/") + "/" + n)
                l = g.get(n, getlink=True)
                if isinstance(l, h5py.SoftLink):
                    objs[p] = {"kind": "soft link", "target": l.path}
                    continue
                if isinstance(l, h5py.ExternalLink):
                    objs[p] = {"kind": "external link", "target": l.path, "file": l.filename}
                    continue
                o = g[n]
                if isinstance(o, h5py.Group):
                    visit_group(o)
                else:
                    dv = {"kind": "dataset", "shape": list(o.shape), "dtype": o.dtype.str,
                          "attrs": attr_view(o)}
                    if o.dtype.names is not None:
                        dv["error"] = "compound"
                    else:
                        dv["values"] = values_view(o[()])
                    objs[p] = dv
        visit_group(f)
    return {"superblock": sb, "objects": objs}


def main():
    os.makedirs(OUT, exist_ok=True)
    make("sb0.h5", "earliest")
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    # h5py does not wrap H5Pset_istore_k; a non-default value makes libhdf5
    # write superblock version 1.
    import ctypes, ctypes.util, glob
    libs = glob.glob("/usr/lib/*/libhdf5_serial.so*") + glob.glob("/usr/lib/*/libhdf5.so*")
    if ctypes.util.find_library("hdf5"):
        libs.append(ctypes.util.find_library("hdf5"))
    ctypes.CDLL(libs[0]).H5Pset_istore_k(ctypes.c_int64(fcpl.id), ctypes.c_uint(64))
    make("sb1.h5", None, fcpl=fcpl, full=False)
    make("sb2.h5", "v108", full=False)
    make("sb3.h5", "latest", extra=latest_only)
    with h5py.File(os.path.join(OUT, "other.h5"), "w", libver="earliest") as f:
        f.create_dataset("x", data=np.arange(3, dtype="<f4"))
    exp = {}
    for n in sorted(os.listdir(OUT)):
        if n.endswith(".h5"):
            exp[n] = dump(os.path.join(OUT, n))
    with open(os.path.join(OUT, "expected.json"), "w") as fh:
        json.dump(exp, fh, indent=0, sort_keys=True, ensure_ascii=False)
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print("wrote", OUT, "total bytes", total, file=sys.stderr)


if __name__ == "__main__":
    main()
