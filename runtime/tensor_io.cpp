#include "runtime/tensor_io.h"

#include <cstring>
#include <fstream>
#include <regex>

#include "graph/onnx_import.h"

namespace normrt {
namespace {

const char* npy_descr(DType t) {
  switch (t) {
    case DType::float32: return "<f4";
    case DType::float16: return "<f2";
    case DType::int64: return "<i8";
    case DType::int32: return "<i4";
    case DType::boolean: return "|b1";
    case DType::uint8: return "|u1";
    default: return nullptr;
  }
}

DType dtype_of_descr(const std::string& d, const std::string& path) {
  for (DType t : {DType::float32, DType::float16, DType::int64, DType::int32, DType::boolean})
    if (d == npy_descr(t)) return t;
  throw Error(path + ": .npy dtype '" + d +
              "' is not supported (use float32, float16, int64, int32 or bool; numpy has no bfloat16: give a bfloat16 "
              "input as float32)");
}

}  // namespace

Tensor read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open");
  char magic[8];
  if (!f.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw Error(path + ": not a .npy file");
  uint32_t hlen = 0;
  if (magic[6] == 1) {
    uint8_t b[2];
    if (!f.read(reinterpret_cast<char*>(b), 2)) throw Error(path + ": truncated .npy header");
    hlen = uint32_t(b[0]) | uint32_t(b[1]) << 8;
  } else {
    uint8_t b[4];
    if (!f.read(reinterpret_cast<char*>(b), 4)) throw Error(path + ": truncated .npy header");
    hlen = uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
  }
  if (hlen > (1u << 20)) throw Error(path + ": .npy header too large");
  std::string h(hlen, '\0');
  if (!f.read(h.data(), hlen)) throw Error(path + ": truncated .npy header");
  std::smatch m;
  if (!std::regex_search(h, m, std::regex("'descr':\\s*'([^']*)'"))) throw Error(path + ": .npy header has no descr");
  DType t = dtype_of_descr(m[1], path);
  if (std::regex_search(h, m, std::regex("'fortran_order':\\s*True"))) throw Error(path + ": Fortran-order .npy is not supported");
  if (!std::regex_search(h, m, std::regex("'shape':\\s*\\(([^)]*)\\)"))) throw Error(path + ": .npy header has no shape");
  Shape shape;
  std::string dims = m[1];
  const std::regex number("\\d+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), number); it != std::sregex_iterator(); ++it) {
    if (it->str().size() > 12) throw Error(path + ": .npy dimension too large");
    shape.push_back(std::stoll(it->str()));
  }
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d > 0 && n > (int64_t(1) << 40) / d) throw Error(path + ": .npy shape too large");
    n *= d;
  }
  Tensor out(t, shape);
  if (!f.read(reinterpret_cast<char*>(out.bytes.data()), std::streamsize(out.bytes.size())))
    throw Error(path + ": .npy data is shorter than its shape " + shape_str(shape) + " needs");
  return out;
}

void write_npy(const std::string& path, const Tensor& t) {
  if (t.dtype == DType::bfloat16) return write_npy(path, widened(t));  // numpy has no bfloat16; float32 holds it exactly
  const char* descr = npy_descr(t.dtype);
  if (!descr) throw Error(path + ": cannot write dtype " + dtype_name(t.dtype) + " as .npy");
  std::string shape = "(";
  for (size_t i = 0; i < t.shape.size(); ++i) shape += std::to_string(t.shape[i]) + (t.shape.size() == 1 ? "," : i + 1 < t.shape.size() ? ", " : "");
  shape += ")";
  std::string h = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + h.size() + 1;
  h.append((64 - total % 64) % 64, ' ');
  h += '\n';
  std::ofstream f(path, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  uint16_t hl = uint16_t(h.size());
  char b[2] = {char(hl & 0xff), char(hl >> 8)};
  f.write(b, 2);
  f.write(h.data(), std::streamsize(h.size()));
  f.write(reinterpret_cast<const char*>(t.bytes.data()), std::streamsize(t.bytes.size()));
  if (!f) throw Error(path + ": write failed");
}

Tensor read_tensor_file(const std::string& path, std::string* name) {
  if (name) name->clear();
  auto ends = [&](const char* s) { return path.size() >= std::strlen(s) && path.compare(path.size() - std::strlen(s), std::string::npos, s) == 0; };
  if (ends(".npy")) return read_npy(path);
  if (ends(".pb")) return load_tensor_pb(path, name);
  throw Error(path + ": unknown tensor file type (use .npy or .pb)");
}

}  // namespace normrt
