#!/bin/sh
# Redraws docs/fit.png, the README's "Watching a fit" picture: the demo's
# digits-0-4 CNN retargeted to digits 5-9 (frozen convolutions, new head),
# fitted with a history, then drawn by `retarget plot`.
# Usage: sh testdata/gen/docs_fit_png.sh   (from the module root; needs /usr/bin/python3 with numpy)
set -e
T=$(mktemp -d)
/usr/bin/python3 - "$T" <<'PY'
import gzip, sys, numpy as np
t = sys.argv[1]
a = np.loadtxt(gzip.open("demo/assets/digits.csv.gz"), delimiter=",", dtype=np.float32)
a = a[a[:, -1] >= 5]
rng = np.random.default_rng(1)
a = a[rng.permutation(len(a))]
x, y = (a[:, :64] / 16).reshape(-1, 8, 8, 1), (a[:, -1] - 5).astype(np.int64)
n = len(a) * 3 // 4
for name, sl in (("train", slice(0, n)), ("test", slice(n, None))):
    np.save(f"{t}/{name}_x.npy", x[sl]); np.save(f"{t}/{name}_y.npy", y[sl])
PY
cp demo/assets/digits04.h5 "$T/"
cat > "$T/plan.yaml" <<'YAML'
model: digits04.h5
fine_tune: {updater: adam, learning_rate: 0.003, seed: 3}
edits:
  - freeze_through: [conv2]
  - replace_nout: {vertex: predictions, nout: 5, init: xavier}
data:
  train: {type: npy, features: train_x.npy, labels: train_y.npy}
  test: {type: npy, features: test_x.npy, labels: test_y.npy}
fit: {epochs: 12, batch_size: 32, history: history.csv, history_every: 5}
output: [digits59.rtm]
YAML
go run ./cmd/retarget apply "$T/plan.yaml"
go run ./cmd/retarget plot "$T/history.csv" -o docs/fit.png --title "digits 5-9, frozen convolutions"
rm -r "$T"
