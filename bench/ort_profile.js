// ONNX Runtime's own per-node times, to read beside `normrt profile`: loads
// MODEL as bench/ort_bench.js does (graph optimization level all), runs it
// RUNS times with ONNX Runtime's profiler on, and prints each node of its
// optimized graph in run order with its op, output shape and median kernel
// time, then their sum.
//   node bench/ort_profile.js MODEL THREADS RUNS NAME=PATH.npy...
const fs = require('fs');
const os = require('os');
const path = require('path');
const ort = require(path.join(__dirname, '.ort', 'node_modules', 'onnxruntime-node'));
const readNpy = require(path.join(__dirname, 'npy.js'));

(async () => {
  const [model, threads, runs, ...specs] = process.argv.slice(2);
  const feeds = {};
  for (const s of specs) {
    const [name, file] = s.split('=');
    feeds[name] = readNpy(ort, file);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ort_profile_'));
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads), interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential',
    enableProfiling: true, profileFilePrefix: path.join(dir, 'p'),
  });
  for (let i = 0; i < Number(runs); ++i) await session.run(feeds);
  session.endProfiling();
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
  const events = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  fs.rmSync(dir, { recursive: true });
  const nodes = new Map();  // first-seen order is run order
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const name = e.name.slice(0, -'_kernel_time'.length);
    if (!nodes.has(name)) nodes.set(name, { op: e.args.op_name, shape: JSON.stringify(e.args.output_type_shape), us: [] });
    nodes.get(name).us.push(e.dur);
  }
  let total = 0;
  for (const [name, n] of nodes) {
    n.us.sort((a, b) => a - b);
    const median = n.us[Math.floor(n.us.length / 2)];
    total += median;
    console.log(`${name.padEnd(60)} ${n.op.padEnd(22)} ${median.toFixed(1).padStart(9)} us  ${n.shape}`);
  }
  console.log(`summed medians ${(total / 1000).toFixed(3)} ms over ${nodes.size} nodes, ${runs} runs, ${threads} threads`);
})().catch((e) => { console.error(e.message); process.exit(1); });
