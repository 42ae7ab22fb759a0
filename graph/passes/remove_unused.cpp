// Drops nodes none of whose outputs is read or is a graph output, and
// initializers nothing reads.
#include "graph/passes/pass_manager.h"

namespace normrt {

bool remove_unused(Graph& g, const PassOptions&, std::vector<Rewrite>& log) {
  // One sweep from the end: a node is dead when nothing after it reads its
  // outputs; removing it releases its inputs for the nodes before.
  GraphView v(g);
  std::map<std::string, int> uses = v.uses;
  std::vector<bool> dead(g.nodes.size(), false);
  bool changed = false;
  for (size_t i = g.nodes.size(); i-- > 0;) {
    const Node& n = g.nodes[i];
    bool used = false;
    for (auto& o : n.outputs) used = used || (!o.empty() && (uses[o] > 0 || g.is_output(o)));
    if (used) continue;
    dead[i] = changed = true;
    log.push_back(Rewrite{"remove_unused", {n.label()}, ""});
    for (auto& in : n.inputs)
      if (!in.empty()) uses[in]--;
  }
  size_t k = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!dead[i]) {
      if (k != i) g.nodes[k] = std::move(g.nodes[i]);
      ++k;
    }
  g.nodes.resize(k);
  for (auto it = g.initializers.begin(); it != g.initializers.end();)
    it = uses[it->first] <= 0 && !g.is_output(it->first) ? g.initializers.erase(it) : std::next(it);
  return changed;
}

}  // namespace normrt
