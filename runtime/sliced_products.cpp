#include "runtime/sliced_products.h"

#include <algorithm>

#include "graph/shape_inference.h"

namespace normrt {
namespace {

// The columns [c0, c1) a Slice step copies, if it cuts its input's last
// axis alone (step 1, every other dim whole).
bool last_axis_range(const Graph& g, const Step& s, const std::map<std::string, ValueInfo>& info, int64_t* c0,
                     int64_t* c1) {
  const Node& n = *s.node;
  if (!is_op(n, "Slice") || s.ins.empty() || s.outs.size() != 1) return false;
  std::vector<const ValueInfo*> in;
  for (auto& name : n.inputs) {
    auto it = name.empty() ? info.end() : info.find(name);
    in.push_back(it == info.end() ? nullptr : &it->second);
  }
  if (in.empty() || !in[0] || in[0]->shape.empty()) return false;
  const auto dims = slice_node_dims(n, in, g.opset, s.where);
  const Shape& x = in[0]->shape;
  for (size_t i = 0; i + 1 < x.size(); ++i)
    if (dims[i].start != 0 || dims[i].step != 1 || dims[i].count != x[i]) return false;
  if (dims.back().step != 1 || dims.back().count == 0) return false;
  *c0 = dims.back().start;
  *c1 = *c0 + dims.back().count;
  return true;
}

}  // namespace

void compute_sliced_products(const Graph& g, std::vector<Step>& steps, const std::vector<Slot>& slots,
                             const std::map<std::string, ValueInfo>& info) {
  std::map<int, int> producer;            // slot -> the step writing it as its only output
  std::map<int, std::vector<int>> readers;  // slot -> the steps reading it
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].outs.size() == 1) producer[steps[i].outs[0]] = int(i);
    for (int s : steps[i].ins)
      if (s >= 0) readers[s].push_back(int(i));
  }
  for (auto& [slot, who] : readers) {
    auto p = producer.find(slot);
    if (p == producer.end() || slots[size_t(slot)].kind != Slot::Kind::arena) continue;
    const Step& product = steps[size_t(p->second)];
    std::vector<std::unique_ptr<Kernel>> kernels;
    for (int r : who) {
      int64_t c0 = 0, c1 = 0;
      const Step& s = steps[size_t(r)];
      if (s.ins[0] != slot || std::count(s.ins.begin(), s.ins.end(), slot) != 1 ||
          !last_axis_range(g, s, info, &c0, &c1))
        break;
      auto k = product.kernel->column_range(c0, c1);
      if (!k) break;
      kernels.push_back(std::move(k));
    }
    if (kernels.size() != who.size()) continue;
    for (size_t j = 0; j < who.size(); ++j) {
      Step& s = steps[size_t(who[j])];
      const double out_bytes = double(slots[size_t(s.outs[0])].bytes);
      const double share = out_bytes / double(slots[size_t(slot)].bytes);
      s.node = product.node;
      s.where = product.where;
      s.kernel = std::move(kernels[j]);
      s.ins = product.ins;
      s.in_shapes = product.in_shapes;
      s.flops = product.flops * share;
      s.bytes = product.bytes - double(slots[size_t(slot)].bytes) + out_bytes;
    }
  }
}

}  // namespace normrt
