// RMS norm written out, x / Sqrt(ReduceMean(x^2) + eps) (or x * Reciprocal(...)),
// optionally * gamma, becomes one normrt RMSNormalization node. Same
// conditions as the LayerNorm fusion: trailing negative axes with keepdims,
// constant eps and gamma, intermediates used only by the pattern.
#include "graph/passes/norm_patterns.h"

namespace normrt {

bool fuse_rms_norm(Graph& g, const PassOptions&, std::vector<Rewrite>& log) {
  return rewrite_each(g, [&](const GraphView& v, size_t i) {
    const Node& norm = g.nodes[i];
    Division div;
    RootMeanSquare rms;
    std::vector<int> nodes;
    if (!match_rms_division(g, v, norm, &div, &rms, &nodes)) return false;
    nodes.push_back(int(i));
    std::string out = norm.outputs[0], gamma;
    match_affine(g, v, out, &gamma, nullptr, nodes);

    replace_nodes(g, log, "fuse_rms_norm", nodes,
                  normalization_node("RMSNormalization", norm.name + "_rmsnorm", {div.value, gamma}, out, rms));
    return true;
  });
}

}  // namespace normrt
