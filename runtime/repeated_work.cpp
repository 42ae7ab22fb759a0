#include "runtime/repeated_work.h"

namespace normrt {
namespace {

// Constants up to this size are compared by contents (a mask folded per
// layer, a bias); larger ones, weights, by address, which is cheaper to key.
constexpr int64_t kComparedConstantElements = 4096;

// n bytes at p, after their count, so no two sequences of fields read the same.
void append_sized(std::string& key, const void* p, size_t n) {
  key.append(reinterpret_cast<const char*>(&n), sizeof n);
  key.append(static_cast<const char*>(p), n);
}

void append_tensor(std::string& key, const Tensor& t) {
  key += char(t.dtype);
  append_sized(key, t.shape.data(), t.shape.size() * sizeof(int64_t));
  append_sized(key, t.bytes.data(), t.bytes.size());
}

bool random(const Node& n) {
  return n.domain.empty() &&
         (n.op_type.rfind("Random", 0) == 0 || n.op_type == "Multinomial" || n.op_type == "Bernoulli");
}

}  // namespace

std::string constant_id(const Tensor& t) {
  std::string id;
  // (A weight released once packed has no bytes: only its address tells it apart.)
  const bool held = t.bytes.size() == size_t(t.numel()) * dtype_size(t.dtype);
  if (held && t.numel() <= kComparedConstantElements) {
    id.push_back('c');
    append_tensor(id, t);
  } else {
    const void* p = &t;
    id.push_back('p');
    append_sized(id, &p, sizeof p);
  }
  return id;
}

bool work_key(const Node& n, const std::vector<std::string>& input_ids, std::string* key) {
  if (random(n)) return false;
  std::string k;
  append_sized(k, n.domain.data(), n.domain.size());
  append_sized(k, n.op_type.data(), n.op_type.size());
  const size_t inputs = input_ids.size();
  k.append(reinterpret_cast<const char*>(&inputs), sizeof inputs);
  for (auto& id : input_ids) append_sized(k, id.data(), id.size());
  for (auto& [name, a] : n.attrs) {
    append_sized(k, name.data(), name.size());
    k += char(a.kind);
    switch (a.kind) {
      case Attribute::Kind::f: append_sized(k, &a.f, sizeof a.f); break;  // bits: a NaN equals itself
      case Attribute::Kind::i: append_sized(k, &a.i, sizeof a.i); break;
      case Attribute::Kind::s: append_sized(k, a.s.data(), a.s.size()); break;
      case Attribute::Kind::t:
        if (!a.t) return false;
        append_tensor(k, *a.t);
        break;
      case Attribute::Kind::fs: append_sized(k, a.fs.data(), a.fs.size() * sizeof(float)); break;
      case Attribute::Kind::is: append_sized(k, a.is.data(), a.is.size() * sizeof(int64_t)); break;
      case Attribute::Kind::ss: {
        const size_t count = a.ss.size();
        append_sized(k, &count, sizeof count);
        for (auto& s : a.ss) append_sized(k, s.data(), s.size());
        break;
      }
      case Attribute::Kind::g: return false;
    }
  }
  *key = std::move(k);
  return true;
}

}  // namespace normrt
