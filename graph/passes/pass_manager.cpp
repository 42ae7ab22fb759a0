#include "graph/passes/pass_manager.h"

namespace normrt {

const std::vector<Pass>& all_passes() {
  static const std::vector<Pass> passes = {
      {"fold_batch_norm", fold_batch_norm},
      {"remove_unused", remove_unused},
  };
  return passes;
}

std::vector<Rewrite> optimize_graph(Graph& g, const std::set<std::string>& disabled) {
  std::vector<Rewrite> log;
  for (int round = 0; round < 16; ++round) {
    bool changed = false;
    for (auto& p : all_passes())
      if (!disabled.count(p.name)) changed = p.apply(g, log) || changed;
    if (!changed) break;
  }
  return log;
}

int producer_of(const Graph& g, const std::string& value) {
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (auto& o : g.nodes[i].outputs)
      if (o == value) return int(i);
  return -1;
}

std::string unique_name(const Graph& g, const std::string& base) {
  std::string name = base;
  for (int k = 1; g.initializers.count(name) || producer_of(g, name) >= 0; ++k) name = base + "_" + std::to_string(k);
  return name;
}

}  // namespace normrt
