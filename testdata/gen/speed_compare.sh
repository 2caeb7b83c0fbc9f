#!/usr/bin/env bash
# Runs the engine's speed benchmarks (nn/speed_bench_test.go) and the same
# shapes on PyTorch (speed_torch.py) and ONNX Runtime (speed_ort.js) back to
# back, then prints ms/iter (median of 5) and ours/peer ratios.
# Usage: [BENCHTIME=0.5s] testdata/gen/speed_compare.sh   (from anywhere)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
benchtime=${BENCHTIME:-0.5s}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== go test -run XXX -bench 'Sgemm$|Speed' -count 5 -benchtime $benchtime ./nn" >&2
(cd "$root" && go test -run XXX -bench 'Sgemm$|Speed' -count 5 -benchtime "$benchtime" ./nn) | tee "$tmp/go.txt" >&2
echo "== python3 speed_torch.py" >&2
if python3 -c 'import torch, onnx' 2>/dev/null; then
  python3 "$here/speed_torch.py" --export "$tmp/onnx" > "$tmp/torch.json"
else
  echo "torch/onnx missing: no PyTorch or ORT column" >&2; echo '{}' > "$tmp/torch.json"
fi
echo "== node speed_ort.js" >&2
if [ -d "$here/node_modules/onnxruntime-node" ] && grep -q _onnx "$tmp/torch.json"; then
  (cd "$here" && node speed_ort.js "$tmp/torch.json") > "$tmp/ort.json"
else
  echo "onnxruntime-node missing: no ORT column" >&2; echo '{}' > "$tmp/ort.json"
fi

python3 - "$tmp/go.txt" "$tmp/torch.json" "$tmp/ort.json" <<'PY'
import json, re, statistics, sys
from collections import defaultdict

go = defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r"Benchmark(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op", line)
    if m:
        go[m.group(1)].append(float(m.group(2)) / 1e6)
torch, ort = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
med = {k: statistics.median(v) for k, v in go.items()}
# benchmarks are per GEMM kernel (nn.GemmKernels, fastest first): "fast" is
# the first one run, "gonum" the reference
kernels = [k.split("/")[1] for k in go if k.startswith("Sgemm/") and k.count("/") == 2]
best = kernels[0] if kernels else "avx2"
gemm = {"256": (256,) * 3, "512": (512,) * 3, "1024": (1024,) * 3, "cnn_conv1_fwd": (32, 1024, 27),
        "cnn_conv2_fwd": (64, 256, 288), "res_conv_fwd": (64, 784, 576), "res_conv_dW_NT": (64, 576, 784)}

def f(x, fmt="%.3f"):
    return fmt % x if x is not None else "-"

def ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "-"

print("peers: %s; %s; fast = GEMM kernel %s" % (torch.get("_version", "no torch"), ort.get("_version", "no ORT"), best))
print("\nGEMM (float32, C = A·B), GFLOPS (higher is better)")
print("%-16s %9s %9s %9s %9s | %9s %9s" % ("shape", "fast", "gonum", "torch", "ort", "fast/gonum", "fast/torch"))
for name, (m, n, k) in gemm.items():
    fl = 2 * m * n * k / 1e6  # MFLOP -> GFLOPS from ms
    g = lambda ms: fl / ms if ms else None
    a, b = g(med.get("Sgemm/%s/%s" % (best, name))), g(med.get("Sgemm/gonum/" + name))
    t, o = g(torch.get("Sgemm/" + name)), g(ort.get("Sgemm/" + name))
    print("%-16s %9s %9s %9s %9s | %9s %9s" % (name, f(a, "%.1f"), f(b, "%.1f"), f(t, "%.1f"), f(o, "%.1f"),
          ratio(a, b), ratio(a, t)))
print("\nModels, ms/iter (lower is better); ratios are ours(fast)/peer, < 1 means we are faster")
print("%-22s %9s %9s %9s %9s | %9s %9s %9s" % ("benchmark", "fast", "gonum", "torch", "ort", "/gonum", "/torch", "/ort"))
for name in ["SpeedCNNInfer", "SpeedCNNTrain", "SpeedResBlockInfer", "SpeedMobileBlockInfer", "SpeedLSTMStep"]:
    a, b = med.get(name + "/" + best), med.get(name + "/gonum")
    t, o = torch.get(name), ort.get(name)
    print("%-22s %9s %9s %9s %9s | %9s %9s %9s" % (name, f(a), f(b), f(t), f(o), ratio(a, b), ratio(a, t), ratio(a, o)))
PY
