#include "graph/passes/pass_manager.h"

#include <algorithm>
#include <limits>
#include <optional>

namespace normrt {

const std::vector<Pass>& all_passes() {
  static const std::vector<Pass> passes = {
      {"remove_identity", remove_identity},
      {"fold_constants", fold_constants},
      {"fold_batch_norm", fold_batch_norm},
      {"fuse_layer_norm", fuse_layer_norm},
      {"fuse_rms_norm", fuse_rms_norm},
      {"fuse_gelu", fuse_gelu},
      {"fuse_conv_activation", fuse_conv_activation},
      {"fuse_matmul_bias", fuse_matmul_bias},
      {"fold_scale_into_matmul", fold_scale_into_matmul},
      {"fold_transpose_into_matmul", fold_transpose_into_matmul},
      {"fuse_add_layer_norm", fuse_add_layer_norm},
      {"fuse_add_softmax", fuse_add_softmax},
      {"remove_unused", remove_unused},
  };
  return passes;
}

std::vector<Rewrite> optimize_graph(Graph& g, const PassOptions& o) {
  for (auto& name : o.disabled)
    if (std::none_of(all_passes().begin(), all_passes().end(), [&](const Pass& p) { return name == p.name; }))
      throw Error("unknown pass '" + name + "'");
  std::vector<Rewrite> log;
  for (int round = 0; round < 16; ++round) {
    bool changed = false;
    for (auto& p : all_passes())
      if (!o.disabled.count(p.name)) changed = p.apply(g, o, log) || changed;
    if (!changed) break;
  }
  return log;
}

bool rewrite_each(Graph& g, const std::function<bool(const GraphView& v, size_t i)>& try_at) {
  bool changed = false;
  std::optional<GraphView> view;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!view) view.emplace(g);
    if (!try_at(*view, i)) continue;
    view.reset();
    changed = true;
  }
  return changed;
}

GraphView::GraphView(const Graph& graph) : g(graph) {
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (auto& o : g.nodes[i].outputs)
      if (!o.empty()) producer[o] = int(i);
    for (auto& in : g.nodes[i].inputs)
      if (!in.empty()) uses[in]++, reader[in] = int(i);
  }
}

int GraphView::sole_reader(const std::string& value) const { return internal(value) ? reader.at(value) : -1; }

int GraphView::producer_of(const std::string& value) const {
  auto it = producer.find(value);
  return it == producer.end() ? -1 : it->second;
}

const Node* GraphView::produced_by(const std::string& value, const char* op) const {
  const int p = producer_of(value);
  return p >= 0 && is_op(g.nodes[size_t(p)], op) ? &g.nodes[size_t(p)] : nullptr;
}

bool GraphView::internal(const std::string& value, int n) const {
  auto it = uses.find(value);
  return it != uses.end() && it->second == n && !g.is_output(value);
}

bool GraphView::scalar(const std::string& value, float* v) const { return constant_scalar(g, value, v); }

bool constant_scalar(const Graph& g, const std::string& value, float* v) {
  const Tensor* t = g.constant(value);
  // Rank above 1 is refused: broadcasting it would raise the rank of a
  // lower-rank operand, which the fused node would not.
  if (!t || t->dtype != DType::float32 || t->numel() != 1 || t->shape.size() > 1) return false;
  *v = t->data<float>()[0];
  return true;
}

std::string other_input(const Node& n, const std::string& one) {
  if (n.inputs.size() != 2) return "";
  if (n.inputs[0] == one) return n.inputs[1];
  if (n.inputs[1] == one) return n.inputs[0];
  return "";
}

void replace_nodes(Graph& g, std::vector<Rewrite>& log, const char* pass, std::vector<int> remove, Node fused,
                   int at) {
  Rewrite r{pass, {}, fused.label()};
  for (int k : remove) r.consumed.push_back(g.nodes[size_t(k)].label());
  log.push_back(std::move(r));
  std::sort(remove.begin(), remove.end());
  remove.erase(std::unique(remove.begin(), remove.end()), remove.end());
  if (at < 0) at = remove.back();
  g.nodes[size_t(at)] = std::move(fused);
  for (size_t k = remove.size(); k-- > 0;)
    if (remove[k] != at) g.nodes.erase(g.nodes.begin() + remove[k]);
}

std::string unique_name(const Graph& g, const std::string& base) {
  std::set<std::string> taken;
  for (auto& n : g.nodes)
    for (auto& o : n.outputs) taken.insert(o);
  std::string name = base;
  for (int k = 1; g.initializers.count(name) || taken.count(name) || std::count(g.inputs.begin(), g.inputs.end(), name);
       ++k)
    name = base + "_" + std::to_string(k);
  return name;
}

bool fusible_activation(const Graph& g, const Node& n, std::string* kind, float* alpha, float* beta) {
  *alpha = *beta = 0;
  if (is_op(n, "Relu") || is_op(n, "Sigmoid") || is_op(n, "HardSwish")) {
    *kind = n.op_type;
    return true;
  }
  if (is_op(n, "LeakyRelu")) {
    *kind = n.op_type;
    *alpha = n.attr_f("alpha", 0.01f);
    return true;
  }
  if (is_op(n, "Clip")) {
    *kind = "Clip";
    *alpha = -std::numeric_limits<float>::infinity();
    *beta = std::numeric_limits<float>::infinity();
    if (g.opset < 11) {
      *alpha = n.attr_f("min", *alpha);
      *beta = n.attr_f("max", *beta);
      return true;
    }
    for (size_t k = 1; k < 3; ++k)
      if (n.has_input(k) && !constant_scalar(g, n.inputs[k], k == 1 ? alpha : beta)) return false;
    return true;
  }
  if (is_op(n, "Gelu", "normrt")) {
    *kind = n.attr_s("approximate", "none") == "tanh" ? "GeluTanh" : "Gelu";
    return true;
  }
  return false;
}

void set_activation(Node& n, const std::string& kind, float alpha, float beta) {
  n.attrs["activation"] = Attribute::text(kind);
  n.attrs["activation_alpha"] = Attribute::real(alpha);
  n.attrs["activation_beta"] = Attribute::real(beta);
}

std::optional<Node> as_fused_matmul(const Node& n) {
  if (is_op(n, "FusedMatMul", "normrt")) return n;
  if (is_op(n, "MatMul")) return fused_node("FusedMatMul", n.name, {n.inputs[0], n.inputs[1]}, n.outputs);
  return std::nullopt;
}

Node fused_node(const char* op, std::string name, std::vector<std::string> inputs, std::vector<std::string> outputs) {
  Node n;
  n.name = std::move(name);
  n.op_type = op;
  n.domain = "normrt";
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  return n;
}

bool reduce_axes_of(const Graph& g, const Node& n, std::vector<int64_t>* axes) {
  if (n.has("axes")) {
    *axes = n.attr_ints("axes");
    return true;
  }
  if (n.inputs.size() > 1 && !n.inputs[1].empty()) {
    const Tensor* t = g.constant(n.inputs[1]);
    if (!t) return false;
    *axes = t->as_int64();
    return true;
  }
  return false;
}

}  // namespace normrt
