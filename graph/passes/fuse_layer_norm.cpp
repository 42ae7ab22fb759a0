// The decomposed LayerNorm that torch.onnx.export writes below opset 17,
//   m = ReduceMean(x); d = x - m; v = ReduceMean(d^2 | d*d); y = d / Sqrt(v + eps)
//   (or d * Reciprocal(Sqrt(v + eps))), then optionally * gamma and + beta,
// becomes one normrt LayerNormalization node. Only when both means reduce the
// same trailing axes (given as negative axes) with keepdims, eps, gamma and
// beta are constants, and every intermediate feeds only the pattern.
#include "graph/passes/norm_patterns.h"

namespace normrt {

bool fuse_layer_norm(Graph& g, const PassOptions&, std::vector<Rewrite>& log) {
  return rewrite_each(g, [&](const GraphView& v, size_t i) {
    const Node& norm = g.nodes[i];
    Division div;
    RootMeanSquare rms;
    std::vector<int> nodes;
    if (!match_rms_division(g, v, norm, &div, &rms, &nodes)) return false;
    // The centred value d = x - ReduceMean(x), read by the square and the division only.
    const Node* sub = v.produced_by(div.value, "Sub");
    const Node* mean = sub ? v.produced_by(sub->inputs[1], "ReduceMean") : nullptr;
    if (!mean || mean->inputs[0] != sub->inputs[0] || !v.internal(sub->inputs[1]) ||
        !v.internal(div.value, rms.value_reads + 1) || trailing_reduce_axes(g, *mean) != rms.axes)
      return false;
    for (const Node* n : {mean, sub, &norm}) nodes.push_back(v.index_of(n));
    std::string out = norm.outputs[0], gamma, beta;
    match_affine(g, v, out, &gamma, &beta, nodes);

    replace_nodes(g, log, "fuse_layer_norm", nodes,
                  normalization_node("LayerNormalization", norm.name + "_layernorm", {sub->inputs[0], gamma, beta}, out, rms));
    return true;
  });
}

}  // namespace normrt
