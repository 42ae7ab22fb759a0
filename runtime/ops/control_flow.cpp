// Control flow. If: a plan stops before it, and the session runs the branch
// its condition chooses as the first nodes of the plan for the rest of the
// graph (runtime/session.cpp), so a branch's nodes are planned like any
// others. The If's implicit inputs are the outer values its branches read.
#include "runtime/registry.h"

namespace normrt {

void register_control_flow_ops(Registry& r) { r.add_splice("If", 1, 18); }

}  // namespace normrt
