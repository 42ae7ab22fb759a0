// Control flow, run by the session between plans (runtime/session.cpp).
// If: the branch its condition chooses runs as the first nodes of the plan
// for the rest of the graph, so a branch's nodes are planned like any
// others. Loop: its body runs as a graph of its own, planned once per
// shape of what it carries, iteration after iteration. Both read outer
// values as implicit inputs.
#include "runtime/registry.h"

namespace normrt {

void register_control_flow_ops(Registry& r) {
  r.add_control_flow("If", 1, 18);
  r.add_control_flow("Loop", 1, 18);
}

}  // namespace normrt
