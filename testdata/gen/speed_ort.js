#!/usr/bin/env node
// ONNX Runtime (CPU, intraOpNumThreads 2) timings of the models that
// speed_torch.py --export wrote: node speed_ort.js TORCH_JSON.
// Prints one JSON object {name: ms_per_iter}, the median of 5 rounds.
const fs = require('fs');
const ort = require('onnxruntime-node');

function input(meta) {
  // shapes are fixed by the export; fill with values in [-1, 1)
  const n = meta.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.random() * 2 - 1;
  return new ort.Tensor('float32', data, meta.shape);
}

async function timeit(f, minMs = 300) {
  await f();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs / 3 || n < 2) { await f(); n++; }
  const per = (performance.now() - t0) / n;
  const reps = Math.max(2, Math.floor(minMs / per));
  const rounds = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    for (let i = 0; i < reps; i++) await f();
    rounds.push((performance.now() - t) / reps);
  }
  rounds.sort((a, b) => a - b);
  return rounds[2];
}

async function main() {
  const models = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))._onnx;
  const res = {};
  for (const [name, path] of Object.entries(models)) {
    const sess = await ort.InferenceSession.create(path, {
      intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
    });
    const feeds = {};
    for (const meta of sess.inputMetadata) feeds[meta.name] = input(meta);
    res[name] = await timeit(() => sess.run(feeds));
  }
  res._version = `onnxruntime-node ${ort.env.versions.node}, 2 intra-op threads`;
  console.log(JSON.stringify(res));
}

main().catch(e => { console.error(e); process.exit(1); });
