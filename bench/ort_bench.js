// ONNX Runtime side of bench/compare.py: loads MODEL with graph optimizations
// at "all" and the given thread count, runs it on the .npy inputs for about
// SECONDS, and prints one JSON line; writes output 0 as raw float32 to OUT.
//   node bench/ort_bench.js MODEL THREADS SECONDS OUT NAME=PATH.npy...
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, '.ort', 'node_modules', 'onnxruntime-node'));

const readNpy = require(path.join(__dirname, 'npy.js'));

(async () => {
  const [model, threads, seconds, out, ...specs] = process.argv.slice(2);
  const feeds = {};
  for (const s of specs) {
    const [name, file] = s.split('=');
    feeds[name] = readNpy(ort, file);
  }
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads), interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential',
  });
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  let result;
  for (let i = 0; i < 10; ++i) result = await session.run(feeds);
  const times = [];
  const start = process.hrtime.bigint();
  while (Number(process.hrtime.bigint() - start) / 1e9 < Number(seconds)) {
    const a = process.hrtime.bigint();
    result = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - a) / 1e6);
  }
  times.sort((a, b) => a - b);
  // VmHWM, this process's own peak (maxRSS would carry over the parent's across exec).
  const hwm = /VmHWM:\s*(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  const first = result[session.outputNames[0]];
  fs.writeFileSync(out, Buffer.from(first.data.buffer, first.data.byteOffset, first.data.byteLength));
  console.log(JSON.stringify({
    load_ms: loadMs, median_ms: times[Math.floor(times.length / 2)], p90_ms: times[Math.floor(times.length * 0.9)],
    min_ms: times[0], runs: times.length, peak_rss_mb: Number(hwm[1]) / 1024, shape: first.dims,
  }));
})().catch((e) => { console.error(e.message); process.exit(1); });
