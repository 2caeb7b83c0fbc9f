#!/usr/bin/env node
// The ONNX Runtime side of `retarget predict` in bench/bench.py: one whole
// process that loads MODEL, runs it on IN.npy (float32, the model's only
// input) with 2 intra-op threads and writes OUT.npy (float32, first output).
// Usage: node bench/ort_predict.js MODEL IN.npy OUT.npy
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, '..', 'testdata', 'gen', 'node_modules', 'onnxruntime-node'));

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(file + ': not a .npy file');
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + hlen);
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(file + ': want little-endian float32');
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map(s => s.trim()).filter(s => s).map(Number);
  const body = buf.subarray(start + hlen);
  const data = new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
  return new ort.Tensor('float32', data, shape);
}

function writeNpy(file, t) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${t.dims.join(', ')}${t.dims.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)]));
}

async function main() {
  const [model, input, out] = process.argv.slice(2);
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const res = await sess.run({ [sess.inputNames[0]]: readNpy(input) });
  writeNpy(out, res[sess.outputNames[0]]);
}

main().catch(e => { console.error(e); process.exit(1); });
