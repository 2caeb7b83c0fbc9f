#!/usr/bin/env node
// Run an ONNX model with onnxruntime-node: node ort_run.js MODEL IN.npy...
// Inputs are bound to the model's inputs in order; float32, float64 (sent as
// float32), int64, int32 and bool .npy arrays are read. Prints
// {"outputs":[{"name","shape","data"}]} on stdout.
// node ort_run.js --batch JOBS.json runs [{"model","inputs":[npy...]}] in one
// process and prints one {"outputs"} or {"error"} per job, as a JSON array.
const fs = require('fs');
const ort = require('onnxruntime-node');

function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(path + ': not a .npy file');
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12);
  const header = buf.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(path + ': fortran order');
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map(s => s.trim()).filter(s => s).map(Number);
  const body = buf.subarray(start + hlen);
  const ab = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
  switch (descr) {
    case '<f4': return new ort.Tensor('float32', new Float32Array(ab), shape);
    case '<f8': return new ort.Tensor('float32', Float32Array.from(new Float64Array(ab)), shape);
    case '<i8': return new ort.Tensor('int64', new BigInt64Array(ab), shape);
    case '<i4': return new ort.Tensor('int32', new Int32Array(ab), shape);
    case '|b1': return new ort.Tensor('bool', new Uint8Array(ab), shape);
    default: throw new Error(path + ': unsupported dtype ' + descr);
  }
}

async function runOne(model, inputs) {
  const sess = await ort.InferenceSession.create(model);
  const feeds = {};
  sess.inputNames.forEach((name, i) => { feeds[name] = readNpy(inputs[i]); });
  const res = await sess.run(feeds);
  return sess.outputNames.map(name => ({
    name, shape: res[name].dims.map(Number), data: Array.from(res[name].data, Number),
  }));
}

async function main() {
  if (process.argv[2] === '--batch') {
    const jobs = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
    const results = [];
    for (const job of jobs) {
      try {
        results.push({ outputs: await runOne(job.model, job.inputs) });
      } catch (e) {
        results.push({ error: String(e.message || e) });
      }
    }
    process.stdout.write(JSON.stringify(results));
    return;
  }
  const [model, ...inputs] = process.argv.slice(2);
  if (!model) { console.error('usage: ort_run.js MODEL IN.npy...'); process.exit(2); }
  const sess = await ort.InferenceSession.create(model);
  const feeds = {};
  sess.inputNames.forEach((name, i) => { feeds[name] = readNpy(inputs[i]); });
  const res = await sess.run(feeds);
  const outputs = sess.outputNames.map(name => ({
    name, shape: res[name].dims.map(Number), data: Array.from(res[name].data, Number),
  }));
  process.stdout.write(JSON.stringify({ outputs }));
}

main().catch(e => { console.error(e.message || e); process.exit(1); });
