#!/usr/bin/env python3
"""Rewrite a Keras 2 save_weights HDF5 file (layer_names / weight_names) in
the Keras 3 .weights.h5 layout (layers/<name>/vars/<i>; recurrent weights
under cell/, Bidirectional halves under forward_layer/cell and
backward_layer/cell), as Keras 3's model.save_weights writes it.

usage: keras_weights_k3.py IN.h5 OUT.weights.h5
"""
import sys

import h5py


def names(attr):
    return [n.decode() if isinstance(n, bytes) else str(n) for n in attr]


def main(src, dst):
    with h5py.File(src, "r") as fin, h5py.File(dst, "w") as fout:
        fout.create_group("vars")
        layers = fout.create_group("layers")
        for lname in names(fin.attrs["layer_names"]):
            g = fin[lname]
            wn = names(g.attrs["weight_names"]) if len(g.attrs["weight_names"]) else []
            lg = layers.create_group(lname)
            groups = {}
            for w in wn:
                parts = w.split("/")
                short = parts[-1].split(":")[0]
                if any(p.startswith("forward_") for p in parts):
                    sub = "forward_layer/cell"
                elif any(p.startswith("backward_") for p in parts):
                    sub = "backward_layer/cell"
                elif short in ("kernel", "recurrent_kernel", "bias") and "recurrent_kernel" in [x.split("/")[-1].split(":")[0] for x in wn]:
                    sub = "cell"
                else:
                    sub = ""
                groups.setdefault(sub, []).append(g[w][()])
            if not groups:
                lg.create_group("vars")
            for sub, arrays in groups.items():
                vg = lg.create_group((sub + "/vars") if sub else "vars")
                for i, a in enumerate(arrays):
                    vg.create_dataset(str(i), data=a)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
