#pragma once
// Inference rewrites. Each pass is one file under graph/passes/ and one line
// in the list in pass_manager.cpp; the manager runs the list in order until
// no pass changes anything. Every pass checks its pattern without touching
// the graph and applies a rewrite only when every condition holds.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "graph/ir.h"

namespace normrt {

struct Rewrite {
  std::string pass;
  std::vector<std::string> consumed;  // node labels
  std::string produced;               // node label ("" when nodes were only removed)
};

// Computes a node's outputs from constant inputs; runtime supplies it (graph/
// has no kernels). Throws normrt::Error when it cannot.
using Evaluator = std::function<std::vector<std::shared_ptr<const Tensor>>(
    const Node& n, const std::vector<const Tensor*>& inputs, int64_t opset)>;

struct PassOptions {
  std::set<std::string> disabled;  // pass names
  Evaluator evaluate;              // constant folding is skipped without one
};

struct Pass {
  const char* name;
  // Applies every rewrite it can find; appends what it did; true if anything changed.
  bool (*apply)(Graph& g, const PassOptions& o, std::vector<Rewrite>& log);
};

const std::vector<Pass>& all_passes();
std::vector<Rewrite> optimize_graph(Graph& g, const PassOptions& o = {});

// Passes (one per file).
bool remove_identity(Graph& g, const PassOptions& o, std::vector<Rewrite>& log);
bool fold_constants(Graph& g, const PassOptions& o, std::vector<Rewrite>& log);
bool fold_batch_norm(Graph& g, const PassOptions& o, std::vector<Rewrite>& log);
bool fuse_layer_norm(Graph& g, const PassOptions& o, std::vector<Rewrite>& log);
bool fuse_rms_norm(Graph& g, const PassOptions& o, std::vector<Rewrite>& log);
bool fuse_gelu(Graph& g, const PassOptions& o, std::vector<Rewrite>& log);
bool fuse_conv_activation(Graph& g, const PassOptions& o, std::vector<Rewrite>& log);
bool fuse_matmul_bias(Graph& g, const PassOptions& o, std::vector<Rewrite>& log);
bool fold_scale_into_matmul(Graph& g, const PassOptions& o, std::vector<Rewrite>& log);
bool fold_transpose_into_matmul(Graph& g, const PassOptions& o, std::vector<Rewrite>& log);
bool fuse_add_layer_norm(Graph& g, const PassOptions& o, std::vector<Rewrite>& log);
bool fuse_add_softmax(Graph& g, const PassOptions& o, std::vector<Rewrite>& log);
bool remove_unused(Graph& g, const PassOptions& o, std::vector<Rewrite>& log);

// What passes look at: producers and use counts of every value.
struct GraphView {
  const Graph& g;
  std::map<std::string, int> producer;  // value -> node index
  std::map<std::string, int> uses;      // value -> number of node inputs reading it
  std::map<std::string, int> reader;    // value -> the last node reading it

  explicit GraphView(const Graph& graph);
  // The index of the node producing `value`, or -1 (a graph input or constant).
  int producer_of(const std::string& value) const;
  // The default-domain node of type `op` producing `value`, or null.
  const Node* produced_by(const std::string& value, const char* op) const;
  int index_of(const Node* n) const { return int(n - g.nodes.data()); }
  // A value only the pattern reads: `n` uses, not a graph output.
  bool internal(const std::string& value, int n = 1) const;
  // The node index of the one node reading `value` (once), not a graph output; else -1.
  int sole_reader(const std::string& value) const;
  // A constant float scalar (any shape of one element).
  bool scalar(const std::string& value, float* v) const;
  bool constant(const std::string& value) const { return g.is_constant(value); }
};

// The walk every rewriting pass makes: each node index, in order, is offered
// to `try_at`, which either rewrites the graph there and returns true, or
// leaves it untouched and returns false. The view is rebuilt after each
// rewrite and the walk goes on from the next index (the manager repeats the
// passes until none changes anything). True if anything was rewritten.
bool rewrite_each(Graph& g, const std::function<bool(const GraphView& v, size_t i)>& try_at);

// A constant float scalar (any shape of one element).
bool constant_scalar(const Graph& g, const std::string& value, float* v);
// The other input of a two-input node, given one of them (or "" if it is not an input).
std::string other_input(const Node& n, const std::string& one);
// Replaces the nodes at `remove` (indices) by `fused`, placed where the last
// of them was, or at index `at` (one of `remove`) when given, and records the
// rewrite in `log` (the removed nodes' labels in the order given).
void replace_nodes(Graph& g, std::vector<Rewrite>& log, const char* pass, std::vector<int> remove, Node fused,
                   int at = -1);
// A node of normrt's own domain (the fused ops the runtime registers there).
Node fused_node(const char* op, std::string name, std::vector<std::string> inputs, std::vector<std::string> outputs);
// A MatMul as the FusedMatMul that computes the same (a FusedMatMul as itself),
// for passes that move more into it; null if `n` is neither.
std::optional<Node> as_fused_matmul(const Node& n);
// A fresh value or initializer name based on `base`.
std::string unique_name(const Graph& g, const std::string& base);
// An activation a oneDNN primitive can apply as a post-op: sets `kind`
// (Relu, LeakyRelu, Clip, Sigmoid, HardSwish, Gelu, GeluTanh) and its alpha/beta.
bool fusible_activation(const Graph& g, const Node& n, std::string* kind, float* alpha, float* beta);
// Records an activation on a fused node as attributes activation/_alpha/_beta.
void set_activation(Node& n, const std::string& kind, float alpha, float beta);

// The axes attribute or (opset 18+) constant input of a Reduce node; false if unknown.
bool reduce_axes_of(const Graph& g, const Node& n, std::vector<int64_t>* axes);

}  // namespace normrt
