// Conv followed by an activation (Relu, Clip as ReLU6, LeakyRelu, Sigmoid,
// HardSwish), and Conv whose output is added to another tensor (the residual
// of a ResNet block), become one normrt FusedConv:
//   Y = activation(Conv(X, W, B) + Z)
// which runs as one oneDNN convolution with sum and eltwise post-ops.
#include "graph/passes/pass_manager.h"

namespace normrt {

bool fuse_conv_activation(Graph& g, const PassOptions&, std::vector<Rewrite>& log) {
  return rewrite_each(g, [&](const GraphView& v, size_t i) {
    const Node& conv = g.nodes[i];
    const bool fused = is_op(conv, "FusedConv", "normrt");
    if (!is_op(conv, "Conv") && !fused) return false;
    if (conv.has("activation")) return false;  // already ends in an activation
    const int r = v.sole_reader(conv.outputs[0]);
    if (r < 0) return false;
    const Node& next = g.nodes[size_t(r)];
    Node out = conv;
    out.domain = "normrt";
    out.op_type = "FusedConv";
    if (!fused) out.name = conv.name + "_fused";
    std::string kind;
    float alpha, beta;
    if (fusible_activation(g, next, &kind, &alpha, &beta) && kind != "Gelu" && kind != "GeluTanh") {
      set_activation(out, kind, alpha, beta);
    } else if (is_op(next, "Add") && out.inputs.size() <= 3 && next.inputs[0] != next.inputs[1]) {
      out.inputs.resize(3);
      out.inputs.push_back(other_input(next, conv.outputs[0]));  // Z
    } else {
      return false;
    }
    out.outputs = next.outputs;
    replace_nodes(g, log, "fuse_conv_activation", {int(i), r}, out);
    return true;
  });
}

}  // namespace normrt
