#include "graph/ir.h"

#include <cmath>
#include <cstring>

namespace normrt {

const char* dtype_name(DType t) { return onnx_dtype_name(int32_t(t)); }

const char* onnx_dtype_name(int32_t t) {
  static const char* names[] = {"undefined", "float32", "uint8",  "int8",      "uint16",    "int16",
                                "int32",     "int64",   "string", "bool",      "float16",   "float64",
                                "uint32",    "uint64",  "complex64", "complex128", "bfloat16"};
  if (t >= 0 && t < int32_t(sizeof(names) / sizeof(names[0]))) return names[t];
  return "unknown";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::float32: case DType::int32: return 4;
    case DType::int64: case DType::float64: return 8;
    case DType::float16: case DType::bfloat16: return 2;
    case DType::uint8: case DType::int8: case DType::boolean: return 1;
    default: return 0;
  }
}

bool dtype_supported(int32_t t) {
  return t == int32_t(DType::float32) || t == int32_t(DType::int64) || t == int32_t(DType::int32) ||
         t == int32_t(DType::boolean);
}

bool narrow_float(DType t) { return t == DType::float16 || t == DType::bfloat16; }

bool dtype_held(int32_t t) { return dtype_supported(t) || narrow_float(DType(t)); }

DType held_dtype(int32_t t) { return narrow_float(DType(t)) ? DType::float32 : DType(t); }

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000 | (mant << 13);  // inf, NaN (payload kept)
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: mant * 2^-24, exact in float
    const float v = float(mant) * 0x1p-24f;
    std::memcpy(&bits, &v, 4);
    bits |= sign;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7fffffff;
  if (abs > 0x7f800000) return uint16_t(sign | 0x7e00 | ((abs >> 13) & 0x3ff));  // NaN stays NaN
  if (abs >= 0x477ff000) return uint16_t(sign | 0x7c00);  // rounds past 65504: inf
  if (abs < 0x38800000) {  // below the smallest normal: a multiple of 2^-24, rounded to even
    float a;
    std::memcpy(&a, &abs, 4);
    return uint16_t(sign | uint16_t(std::nearbyint(a * 0x1p24f)));
  }
  // Normal: drop 13 mantissa bits, rounding to nearest even (a carry into
  // the exponent is the right result).
  const uint32_t rounded = abs + 0xfff + ((abs >> 13) & 1);
  return uint16_t(sign | ((rounded - 0x38000000) >> 13));
}

float bfloat16_to_float(uint16_t b) {
  const uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_bfloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return uint16_t((x >> 16) | 0x40);  // NaN stays NaN (quiet)
  // Drop 16 mantissa bits, rounding to nearest even; a carry into the
  // exponent is the right result, up to inf.
  return uint16_t((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

float rounded_to(DType t, float f) {
  if (t == DType::bfloat16) return bfloat16_to_float(float_to_bfloat16(f));
  if (t == DType::float16) return half_to_float(float_to_half(f));
  throw Error(std::string("a value rounded to ") + dtype_name(t));
}

namespace {
// t (of dtype `from`, elements From) with each element f'd into dtype `to`.
template <class From, class To, class F>
Tensor converted(const Tensor& t, DType from, DType to, F f) {
  if (t.dtype != from || t.bytes.size() != size_t(t.numel()) * sizeof(From))
    throw Error(std::string("a ") + dtype_name(t.dtype) + " tensor converted as " + dtype_name(from));
  Tensor r(to, t.shape);
  for (int64_t i = 0; i < t.numel(); ++i) r.data<To>()[i] = f(t.data<From>()[i]);
  return r;
}
}  // namespace

Tensor widened(const Tensor& t) {
  if (t.dtype == DType::bfloat16) return converted<uint16_t, float>(t, DType::bfloat16, DType::float32, bfloat16_to_float);
  if (t.dtype == DType::float16) return converted<uint16_t, float>(t, DType::float16, DType::float32, half_to_float);
  throw Error(std::string("a ") + dtype_name(t.dtype) + " tensor widened as a 16-bit float");
}

Tensor narrowed(const Tensor& t, DType to) {
  if (to == DType::bfloat16) return converted<float, uint16_t>(t, DType::float32, DType::bfloat16, float_to_bfloat16);
  if (to == DType::float16) return converted<float, uint16_t>(t, DType::float32, DType::float16, float_to_half);
  throw Error(std::string("a tensor narrowed to ") + dtype_name(to));
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

int64_t checked_numel(const Shape& s, const std::string& where) {
  int64_t n = 1;
  for (int64_t d : s)
    if (d < 0 || d > kMaxTensorElements || __builtin_mul_overflow(n, d, &n) || n > kMaxTensorElements)
      throw Error(where + ": shape " + shape_str(s) + " has too many elements");
  return n;
}

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ',';
    r += std::to_string(s[i]);
  }
  return r + "]";
}

std::vector<int64_t> Tensor::as_int64() const {
  std::vector<int64_t> r(static_cast<size_t>(numel()));
  for (size_t i = 0; i < r.size(); ++i) {
    switch (dtype) {
      case DType::int64: r[i] = data<int64_t>()[i]; break;
      case DType::int32: r[i] = data<int32_t>()[i]; break;
      case DType::boolean: case DType::uint8: r[i] = data<uint8_t>()[i]; break;
      case DType::float32: {  // (saturated: a float beyond int64 has no integer value to convert to)
        const float v = data<float>()[i];
        r[i] = v != v ? 0 : v >= 4.6e18f ? int64_t(1) << 62 : v <= -4.6e18f ? -(int64_t(1) << 62) : int64_t(v);
        break;
      }
      default: throw Error("tensor of type " + std::string(dtype_name(dtype)) + " read as integers");
    }
  }
  return r;
}

const Attribute* Node::attr(const std::string& a) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? nullptr : &it->second;
}
int64_t Node::attr_i(const std::string& a, int64_t dflt) const {
  auto* p = attr(a);
  return p ? p->i : dflt;
}
float Node::attr_f(const std::string& a, float dflt) const {
  auto* p = attr(a);
  return p ? p->f : dflt;
}
std::string Node::attr_s(const std::string& a, const std::string& dflt) const {
  auto* p = attr(a);
  return p ? p->s : dflt;
}
std::vector<int64_t> Node::attr_ints(const std::string& a, std::vector<int64_t> dflt) const {
  auto* p = attr(a);
  return p ? p->is : dflt;
}
std::string Node::label() const { return op_type + " '" + name + "'"; }
size_t Node::num_inputs() const {
  size_t n = inputs.size();
  while (n > 0 && inputs[n - 1].empty()) --n;
  return n;
}

bool Graph::is_output(const std::string& v) const {
  for (auto& o : outputs)
    if (o == v) return true;
  return false;
}


bool is_op(const Node& n, const char* op, const char* domain) { return n.domain == domain && n.op_type == op; }

}  // namespace normrt
