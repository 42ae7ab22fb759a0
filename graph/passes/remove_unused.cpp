// Drops nodes none of whose outputs is read or is a graph output, and
// initializers nothing reads.
#include "graph/passes/pass_manager.h"

namespace normrt {

bool remove_unused(Graph& g, const PassOptions&, std::vector<Rewrite>& log) {
  bool changed = false;
  for (bool again = true; again;) {
    again = false;
    GraphView v(g);
    for (size_t i = g.nodes.size(); i-- > 0;) {
      auto& n = g.nodes[i];
      bool used = false;
      for (auto& o : n.outputs) used = used || (!o.empty() && (v.uses.count(o) || g.is_output(o)));
      if (used) continue;
      log.push_back(Rewrite{"remove_unused", {n.label()}, ""});
      g.nodes.erase(g.nodes.begin() + long(i));
      again = changed = true;
      break;
    }
  }
  GraphView v(g);
  for (auto it = g.initializers.begin(); it != g.initializers.end();)
    it = !v.uses.count(it->first) && !g.is_output(it->first) ? g.initializers.erase(it) : std::next(it);
  return changed;
}

}  // namespace normrt
