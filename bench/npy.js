// Reads a .npy file (float32, int64 or bool) as an onnxruntime-node Tensor.
const fs = require('fs');

module.exports = function readNpy(ort, file) {
  const buf = fs.readFileSync(file);
  const hlen = buf.readUInt16LE(8);
  const header = buf.toString('latin1', 10, 10 + hlen);
  const descr = /'descr':\s*'([^']*)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').filter((s) => s.trim()).map(Number);
  const data = buf.subarray(10 + hlen);
  const copy = (Ctor) => new Ctor(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  if (descr === '<f4') return new ort.Tensor('float32', copy(Float32Array), shape);
  if (descr === '<i8') return new ort.Tensor('int64', copy(BigInt64Array), shape);
  if (descr === '|b1') return new ort.Tensor('bool', new Uint8Array(data), shape);
  throw new Error(`${file}: dtype ${descr} not handled`);
};
