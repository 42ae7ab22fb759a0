// Conv, ConvTranspose, and normrt.FusedConv (Conv + residual Z + activation, written by
// graph/passes/fuse_conv_activation), on oneDNN: primitive and weight
// reorder made once per plan, the addend and activation as post-ops. 1x1
// convolutions of a few pixels with large weights run on normrt's gemm
// instead (conv_on_gemm).
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>

#include "graph/geometry.h"
#include "kernels/dnnl_ops.h"
#include "kernels/gemm.h"
#include "runtime/ops/activation_attrs.h"
#include "runtime/ops/broadcast.h"
#include "runtime/registry.h"

namespace normrt {
namespace {

kernels::ConvDesc conv_desc(int64_t N, int64_t C, int64_t OC, int64_t group, const WindowGeometry& g) {
  kernels::ConvDesc d;
  d.N = N;
  d.C = C;
  d.OC = OC;
  d.group = group;
  d.in = g.in;
  d.kernel = g.kernel;
  d.out = g.out;
  d.strides = g.strides;
  d.dilations = g.dilations;
  d.pad_begin = g.pad_begin;
  d.pad_end = g.pad_end;
  return d;
}

// Where channel c of pixel p lies in an image of `pixels` pixels: plain
// NCHW (block 1), channels-last (block = the channels) or oneDNN's blocked
// layout (block 16 or 8, its channels padded to the block).
struct ChannelLayout {
  int64_t block = 1, pixels = 1;
  std::string name;
  int64_t at(int64_t c, int64_t p) const { return c / block * block * pixels + p * block + c % block; }
  static ChannelLayout of(bool held, kernels::HeldLayout layout, int64_t channels, int64_t pixels) {
    if (!held) return ChannelLayout{1, pixels, "plain"};
    if (layout == kernels::HeldLayout::nhwc) return ChannelLayout{channels, pixels, "nhwc"};
    const int64_t b = kernels::conv_channel_block();
    return ChannelLayout{b, pixels, "blocked" + std::to_string(b) + "c"};
  }
};

// A 1x1 convolution of at most this many output pixels, with at least this
// many bytes of weights, runs on gemm (gemv for one pixel) where
// gemm_chosen: its time is the weights streaming from memory, which oneDNN's
// kernel does not overlap with its FMAs (MobileNetV2's and ResNet-50's 7x7
// layers ran at 50-57% of the FMA peak; gemm prefetches the next panel while
// a panel runs).
constexpr int64_t kGemmConvMaxPixels = 64, kGemmConvMinWeightBytes = 512 * 1024;

// The 1x1 convolution as Y[pixel, OC] = X[pixel, C] · Wᵀ on gemm, over the
// panels oneDNN packs W into for a matmul (shared through the session's
// weight cache), X read where it is when each pixel's channels are
// contiguous at stride 1 and gathered into rows otherwise, Y written in the
// layout the plan holds it in. Requires batch 1, one group, constant weights
// and bias, no residual, Relu, Clip or no activation (NaN kept, as the
// element-wise kernels keep it, where oneDNN's Relu and Clip post-ops drop
// it), an output held (nChw16c or NHWC) and output channels in whole blocks
// of 16; null otherwise.
std::unique_ptr<Kernel> conv_on_gemm(const BindContext& c, const kernels::ConvDesc& d, const FusedActivation& act) {
  const bool one_by_one = d.kernel == std::vector<int64_t>{1, 1} && d.dilations == std::vector<int64_t>{1, 1} &&
                          d.pad_begin == std::vector<int64_t>{0, 0} && d.pad_end == std::vector<int64_t>{0, 0};
  if (!one_by_one) return nullptr;  // (a 1-D or 3-D convolution too)
  const Tensor* bias = c.constant(2);
  const int64_t C = d.C, OC = d.OC, pixels = d.out[0] * d.out[1];
  const bool nhwc = c.held == kernels::HeldLayout::nhwc;
  if (!kernels::gemm_chosen(c.isa) || d.group != 1 || d.N != 1 || !c.constant(1) || c.has_input(3) ||
      (c.has_input(2) && !bias) || pixels > kGemmConvMaxPixels || C * OC * 4 < kGemmConvMinWeightBytes ||
      OC % kernels::kGemmColumnBlock != 0 || !c.output_blocked(0) ||
      (!nhwc && kernels::conv_channel_block() != kernels::kGemmColumnBlock))
    return nullptr;
  if (act.present && act.unary.op != kernels::Unary::relu && act.unary.op != kernels::Unary::clip) return nullptr;
  // At least 8 panels (512 output channels), dividing evenly between the
  // threads: with fewer gemm gained nothing, and panels that do not divide
  // evenly leave it to split rows, each thread then streaming every panel
  // (features.17's projection, 5 panels: level to 9% slower than oneDNN at
  // one thread, 0.106 ms against 0.084 at two).
  const int64_t panels = (OC + kernels::kGemvPanel - 1) / kernels::kGemvPanel;
  if (panels < 8 || panels % std::max(1, omp_get_max_threads()) != 0) return nullptr;
  kernels::MatMulDesc md;
  md.a_dims = {pixels, C};
  md.b_dims = {OC, C};
  md.b_perm = {1, 0};
  auto prim = std::make_shared<const kernels::MatMul>(md, c.weight_source(1), nullptr);
  if (!prim->panels()) return nullptr;
  const std::vector<float> b = bias ? std::vector<float>(bias->data<float>(), bias->data<float>() + OC) : std::vector<float>{};
  const ChannelLayout src = ChannelLayout::of(c.input_blocked(0), c.held, C, d.in[0] * d.in[1]),
                      dst = ChannelLayout::of(true, c.held, OC, pixels);
  const bool in_place = src.block >= C && d.strides == std::vector<int64_t>{1, 1};
  const int64_t Wi = d.in[1], Wo = d.out[1], sh = d.strides[0], sw = d.strides[1];
  const int64_t ldy = nhwc ? OC : kernels::kGemmColumnBlock,
                ldb = nhwc ? kernels::kGemmColumnBlock : pixels * kernels::kGemmColumnBlock;
  const Isa isa = c.isa;
  return kernel_fn(
      [=](const RunArgs& a) {
        const float* x = static_cast<const float*>(a.in[0]);
        const float* A = x;
        if (!in_place) {
          // The pixels the convolution reads, each one's channels in a row.
          float* rows = static_cast<float*>(a.scratch);
          for (int64_t p = 0; p < pixels; ++p) {
            const int64_t q = p / Wo * sh * Wi + p % Wo * sw;
            for (int64_t ch = 0; ch < C; ch += src.block)
              std::memcpy(rows + p * C + ch, x + src.at(ch, q), size_t(std::min(src.block, C - ch)) * sizeof(float));
          }
          A = rows;
        }
        // (one pixel: its output, OC contiguous floats in either held layout, on gemv)
        kernels::panels_product(isa, A, in_place ? src.block : C, prim->panels(), b.empty() ? nullptr : b.data(),
                                static_cast<float*>(a.out[0]), ldy, ldb, pixels, C, OC,
                                act.present ? &act.unary : nullptr);
      },
      in_place ? 0 : size_t(pixels * C) * sizeof(float),
      std::string(pixels == 1 ? "normrt gemv:" : "normrt gemm:") + isa_name(isa) + " " + src.name + "->" + dst.name);
}

std::unique_ptr<Kernel> conv(const BindContext& c) {
  const Shape& x = c.in_shape(0);
  const Shape& w = c.in_shape(1);
  const int64_t group = c.node.attr_i("group", 1);
  kernels::ConvDesc d = conv_desc(
      x[0], x[1], w[0], group,
      window_geometry(c.node, Shape(x.begin() + 2, x.end()), Shape(w.begin() + 2, w.end()), false, c.where));

  d.src_blocked = c.input_blocked(0);
  d.dst_blocked = c.output_blocked(0);
  d.z_blocked = c.input_blocked(3);
  d.held = c.held;
  d.winograd = c.winograd;

  const FusedActivation act = fused_activation(c.node, c.where);
  if (auto k = conv_on_gemm(c, d, act)) return k;
  const Shape& y = c.out[0].shape;
  const bool has_z = c.has_input(3);
  // A Z of the output's shape is a sum post-op; a broadcast one is added after.
  const bool z_in_place = has_z && c.in_shape(3) == y;
  kernels::PostOp post = act.post;
  post.sum = z_in_place;
  const bool after = has_z && !z_in_place;
  if (after) post = kernels::PostOp{};
  if (after && (d.z_blocked || d.dst_blocked)) c.fail("a broadcast residual cannot join a blocked-layout convolution");
  const Tensor* bt = c.constant(2);
  auto prim = std::make_shared<const kernels::Conv>(d, c.weight_source(1), c.has_input(2),
                                                    bt ? bt->data<float>() : nullptr, post);
  const auto z_strides = after ? broadcast_strides({c.in_shape(3)}, y) : std::vector<Shape>{};
  const Isa isa = c.isa;
  return kernel_fn(
      [=](const RunArgs& a) {
        auto* out = static_cast<float*>(a.out[0]);
        auto* z = static_cast<const float*>(a.in[3]);
        prim->run(static_cast<const float*>(a.in[0]), static_cast<const float*>(a.in[1]),
                  static_cast<const float*>(a.in[2]), z_in_place ? z : nullptr, out, a.scratch, *a.dnnl);
        if (!after) return;
        for_each_broadcast(y, z_strides, [&](int64_t i, const auto& o) { out[i] += z[o[0]]; });
        if (act.present) kernels::unary(isa, act.unary, out, out, shape_numel(y));
      },
      prim->scratch_bytes(), prim->implementation(), prim->sums_in_place() ? 3 : -1);
}

std::unique_ptr<Kernel> conv_transpose(const BindContext& c) {
  const Shape& x = c.in_shape(0);
  const Shape& w = c.in_shape(1);
  const Tensor* bt = c.constant(2);
  const int64_t group = c.node.attr_i("group", 1);
  const kernels::ConvDesc d = conv_desc(
      x[0], x[1], w[1] * group, group,
      conv_transpose_geometry(c.node, Shape(x.begin() + 2, x.end()), Shape(w.begin() + 2, w.end()), c.where));
  auto prim = std::make_shared<const kernels::Deconv>(d, c.weight_source(1), c.has_input(2),
                                                      bt ? bt->data<float>() : nullptr);
  return kernel_fn(
      [prim](const RunArgs& a) {
        prim->run(static_cast<const float*>(a.in[0]), static_cast<const float*>(a.in[1]),
                  static_cast<const float*>(a.in[2]), static_cast<float*>(a.out[0]), a.scratch, *a.dnnl);
      },
      prim->scratch_bytes(), prim->implementation());
}

bool is_conv(const Node& n) { return is_op(n, "Conv") || is_op(n, "FusedConv", "normrt"); }

// MaxPool / AveragePool over two spatial dims whose window oneDNN takes.
bool window_pool_2d(const Node& n) {
  if (!is_op(n, "MaxPool") && !is_op(n, "AveragePool")) return false;
  const auto k = n.attr_ints("kernel_shape"), pads = n.attr_ints("pads");
  if (k.size() != 2 || n.outputs.size() != 1) return false;
  if (is_op(n, "AveragePool") && n.attr_i("count_include_pad", 0) && n.attr_i("ceil_mode", 0)) return false;
  for (size_t i = 0; i < pads.size(); ++i)
    if (pads[i] >= k[i % 2]) return false;
  return true;
}

// Nodes that read (input 0, and a conv's residual input 3) and write the held layout.
bool blocked_capable(const Graph& g, const Node& n) {
  const bool conv = is_conv(n);
  const Tensor* w = conv && n.inputs.size() > 1 ? g.constant(n.inputs[1]) : nullptr;
  if (conv) return w && w->shape.size() == 4;
  return window_pool_2d(n) || is_op(n, "GlobalAveragePool") || is_op(n, "GlobalMaxPool");
}

// The channels of a held value: its convolution's output channels, found
// through the pools between (-1 if it cannot be told).
int64_t held_channels(const Graph& g, const std::map<std::string, const Node*>& producer, std::string value) {
  for (int hops = 0; hops < 64; ++hops) {
    auto it = producer.find(value);
    if (it == producer.end()) return -1;
    const Node& n = *it->second;
    if (!is_conv(n)) {
      value = n.inputs.empty() ? "" : n.inputs[0];
      continue;
    }
    const Tensor* w = n.inputs.size() > 1 ? g.constant(n.inputs[1]) : nullptr;
    return w && !w->shape.empty() ? w->shape[0] : -1;
  }
  return -1;
}

}  // namespace

std::set<std::string> blocked_conv_values(const Graph& g, bool winograd) {
  std::map<std::string, std::vector<std::pair<const Node*, size_t>>> readers;
  for (auto& n : g.nodes)
    for (size_t k = 0; k < n.inputs.size(); ++k)
      if (!n.inputs[k].empty()) readers[n.inputs[k]].push_back({&n, k});
  std::set<std::string> blocked;
  for (auto& n : g.nodes) {
    if (!blocked_capable(g, n) || n.outputs.empty() || g.is_output(n.outputs[0])) continue;
    auto it = readers.find(n.outputs[0]);
    if (it == readers.end()) continue;
    bool all = true;
    for (auto& [reader, k] : it->second) all = all && blocked_capable(g, *reader) && (k == 0 || k == 3);
    if (all) blocked.insert(n.outputs[0]);
  }
  // oneDNN pools fast only with one layout in and out: a window pool whose
  // input or output alone could be held keeps both plain; a global pool with
  // a plain reader, unless its held [N, C, 1, 1] result is plain bytes too.
  const kernels::HeldLayout layout = held_conv_layout(g, winograd);
  std::map<std::string, const Node*> producer;
  for (auto& n : g.nodes)
    for (auto& o : n.outputs) producer[o] = &n;
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& n : g.nodes) {
      const bool global = is_op(n, "GlobalAveragePool") || is_op(n, "GlobalMaxPool");
      if (!(window_pool_2d(n) && blocked.count(n.inputs[0]) != blocked.count(n.outputs[0])) &&
          !(global && blocked.count(n.inputs[0]) && !blocked.count(n.outputs[0]) &&
            !kernels::held_is_plain_1x1(layout, held_channels(g, producer, n.inputs[0]))))
        continue;
      blocked.erase(n.inputs[0]);
      blocked.erase(n.outputs[0]);
      changed = true;
    }
  }
  return blocked;
}

kernels::HeldLayout held_conv_layout(const Graph& g, bool allow_winograd) {
  bool depthwise = false, winograd = false;
  for (auto& n : g.nodes) {
    if (!blocked_capable(g, n) || !is_conv(n)) continue;
    const Shape& w = g.constant(n.inputs[1])->shape;
    const int64_t group = n.attr_i("group", 1);
    depthwise = depthwise || group > 1;
    winograd = winograd || (allow_winograd && kernels::winograd_candidate(w[1] * group, w[0], group, {w[2], w[3]},
                                                       n.attr_ints("strides", {1, 1}), n.attr_ints("dilations", {1, 1})));
  }
  return kernels::held_layout(depthwise, winograd);
}

void register_conv_ops(Registry& r) {
  r.add("Conv", 1, 18, conv);
  r.add("ConvTranspose", 1, 18, conv_transpose);
  r.add("FusedConv", 1, 999, conv, "normrt");
}

}  // namespace normrt
