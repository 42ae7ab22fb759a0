#pragma once
// oneDNN convolution and matmul, created once (weights reordered to the
// primitive's preferred layout at creation) and executed many times.
// Scratchpads are user-managed so concurrent runs never share one.
#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace normrt::kernels {

dnnl::engine& cpu_engine();

// A fresh block of execution-site numbers: each primitive wrapper's own, for
// the life of the process (an address could be reused by a later wrapper).
uint64_t next_execution_sites();

class BoundArgs;  // one execution site's arguments (dnnl_ops.cpp)

// What one run context executes oneDNN primitives with: a stream, and each
// execution site's arguments, made at the first run and only rebound to new
// buffers afterwards, so a steady-state run allocates nothing. A plan's run
// contexts own them: concurrent runs never share one, and they go with the plan.
class DnnlRun {
 public:
  DnnlRun();
  ~DnnlRun();
  DnnlRun(const DnnlRun&) = delete;
  DnnlRun& operator=(const DnnlRun&) = delete;
  dnnl::stream& stream() { return stream_; }
  BoundArgs& bound(uint64_t site);

 private:
  dnnl::stream stream_;
  std::unordered_map<uint64_t, std::unique_ptr<BoundArgs>> bound_;
};

// Weights in the layouts primitives asked for, shared by every plan of a
// Session: a model answered at many input shapes keeps one packed copy of
// each weight per layout, not one per shape. Entries are keyed by their
// owner and hold it alive, so an owner's address is never reused while it
// keys an entry.
class WeightCache {
 public:
  // `data` (held by `owner`) in plain layout `from`, in layout `to`. `data`
  // may be null once the owner's plain bytes are released (runtime's
  // prepack_matmul_weights): a layout not held yet is then rebuilt from a
  // packed copy of the same owner read through the same `from`.
  dnnl::memory get(const std::shared_ptr<const void>& owner, const void* data, const dnnl::memory::desc& from,
                   const dnnl::memory::desc& to);
  size_t size() const;  // packed copies held
  bool holds(const void* owner) const;  // some packed copy of this owner
  // The entries of `from` now belong to `to` (which stands for the same
  // matrix), and `from` is no longer held.
  void rekey(const void* from, const std::shared_ptr<const void>& to);

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<const void*, std::string>, std::pair<std::shared_ptr<const void>, dnnl::memory>> entries_;
};

// Where constant weights come from: the data, and (optionally) the cache and
// the owner that let plans share their packed copies.
struct WeightSource {
  const float* data = nullptr;  // null for a constant whose plain bytes were released (owner and cache set)
  WeightCache* cache = nullptr;
  std::shared_ptr<const void> owner;
};

// An activation fused into the primitive as a oneDNN post-op.
struct PostOp {
  enum class Kind { none, relu, leaky_relu, clip, sigmoid, hard_swish, gelu, gelu_tanh } kind = Kind::none;
  float alpha = 0, beta = 0;
  bool sum = false;  // dst = activation(result + dst): dst holds the addend before run()
};

// Activations passed between 2-D convolutions stay in oneDNN's blocked layout
// (nChw16c where oneDNN runs AVX-512, nChw8c otherwise): channels padded to
// the block. These give the layout and the bytes such a tensor takes.
int64_t conv_channel_block();
// Which layout the activations between convolutions are held in: blocked
// (nChw16c / nChw8c, padded channels), or NHWC where oneDNN's brgemm
// convolutions run (AVX-512) and no depthwise or Winograd convolution wants
// blocks.
enum class HeldLayout { blocked, nhwc };
HeldLayout held_layout(bool has_depthwise, bool has_winograd);
// Whether a convolution of this form is tried as Winograd (oneDNN's F(2x2,3x3)
// and F(4x4,3x3) kernels, on AVX-512 and blocked layouts): 3x3, stride 1, no
// dilation, one group, channels in whole blocks.
bool winograd_candidate(int64_t C, int64_t OC, int64_t group, const std::vector<int64_t>& kernel,
                        const std::vector<int64_t>& strides, const std::vector<int64_t>& dilations);
size_t held_bytes(HeldLayout layout, int64_t N, int64_t C, int64_t H, int64_t W);

struct ConvDesc {
  int64_t N = 1, C = 1, OC = 1, group = 1;
  std::vector<int64_t> in, kernel, out, strides, dilations, pad_begin, pad_end;  // spatial
  // Which tensors the caller holds in `held` (else plain NCHW).
  bool src_blocked = false, dst_blocked = false, z_blocked = false;
  HeldLayout held = HeldLayout::blocked;
  bool winograd = false;  // a winograd_candidate runs as Winograd where oneDNN has a kernel for it
};

class Conv {
 public:
  // weights: [OC, C/group, k...] (ONNX layout), bias: [OC]. Constant ones are
  // given here (and reordered once); null ones are passed to run() instead.
  // The primitive runs on the layout oneDNN prefers; where the caller's
  // layouts differ, reorders through scratch surround it.
  Conv(const ConvDesc& d, const WeightSource& weights, bool has_bias, const float* bias, const PostOp& post = {});
  size_t scratch_bytes() const { return scratch_bytes_; }
  // z: the addend of a sum post-op (of the output's shape), else null.
  void run(const float* src, const float* weights, const float* bias, const float* z, float* dst, void* scratch,
           DnnlRun& run) const;
  // oneDNN's implementation and the layouts it runs on, for profiles.
  const std::string& implementation() const { return impl_; }
  // Whether run() may be given z == dst: the addend is then already where
  // the primitive sums into, and is not copied there first.
  bool sums_in_place() const { return sum_ && !reorder_z_ && !reorder_dst_; }

 private:
  dnnl::convolution_forward prim_;
  dnnl::memory::desc src_md_, w_md_, b_md_, dst_md_, z_md_, scratch_md_;  // as the caller holds them
  dnnl::memory::desc src_in_, dst_in_;                                    // what the primitive works on
  dnnl::reorder src_reorder_, dst_reorder_, z_reorder_;
  size_t src_off_ = 0, dst_off_ = 0, scratch_bytes_ = 0;
  bool reorder_src_ = false, reorder_dst_ = false, reorder_z_ = false, sum_ = false;
  dnnl::memory weights_, bias_;
  bool has_bias_ = false;
  std::string impl_;
  uint64_t site_ = next_execution_sites();
};

// MaxPool / AveragePool on oneDNN pooling, plain layout.
struct PoolDesc {
  int64_t N = 1, C = 1;
  std::vector<int64_t> in, kernel, out, strides, dilations, pad_begin, pad_end;  // spatial
  bool max = true, include_padding = false;
  // 2-D pooling may read and write the convolutions' held layout.
  bool src_held = false, dst_held = false;
  HeldLayout held = HeldLayout::blocked;
};
// Whether an [N, C, 1, 1] tensor has the same bytes held as plain (a global
// pool's result can then be written held and read as plain).
bool held_is_plain_1x1(HeldLayout layout, int64_t C);

class Pool {
 public:
  explicit Pool(const PoolDesc& d);
  size_t scratch_bytes() const { return scratch_md_.get_size(); }
  const std::string& implementation() const { return impl_; }
  void run(const float* src, float* dst, void* scratch, DnnlRun& run) const;

 private:
  dnnl::pooling_v2_forward prim_;
  dnnl::memory::desc src_md_, dst_md_, scratch_md_;
  std::string impl_;
  uint64_t site_ = next_execution_sites();
};

// ConvTranspose (oneDNN deconvolution), described like a Conv (OC output
// channels; pad_end may be negative: output_padding). Weights in ONNX layout
// [C, OC/group, k...].
class Deconv {
 public:
  // Constant weights/bias are given here; null ones are passed to run().
  Deconv(const ConvDesc& d, const WeightSource& weights, bool has_bias, const float* bias);
  size_t scratch_bytes() const { return scratch_md_.get_size(); }
  const std::string& implementation() const { return impl_; }
  void run(const float* src, const float* weights, const float* bias, float* dst, void* scratch,
           DnnlRun& run) const;

 private:
  dnnl::deconvolution_forward prim_;
  dnnl::memory::desc src_md_, w_md_, b_md_, dst_md_, scratch_md_;
  bool has_bias_ = false;
  dnnl::memory weights_, bias_;
  std::string impl_;
  uint64_t site_ = next_execution_sites();
};

// y[..., M, N] = alpha * A[..., M, K] x B[..., K, N] (+ bias[1.., N]); batch dims
// broadcast. A and B are read through their permutations (logical dim i is
// stored dim perm[i], as Transpose(stored, perm) gives the operand) and y is
// written through its own (stored dim i is logical dim y_perm[i], as
// Transpose(y, y_perm)); empty: as stored. A transposed operand or result is
// then read or written in place with strides, never copied.
struct MatMulDesc {
  std::vector<int64_t> a_dims, b_dims;  // equal rank >= 2, as stored
  std::vector<int64_t> a_perm, b_perm, y_perm;
  float alpha = 1;
  // With a constant B in a 2-D product (A and B may be read permuted): A and
  // B in bfloat16, float32 accumulation (SessionOptions::bf16_matmuls);
  // ignored otherwise.
  bool bf16 = false;
};

// Whether oneDNN multiplies bfloat16 on this CPU (AVX512-BF16 or AMX).
bool bf16_matmul_supported();

// Packs constant matmul weights B ([K, N], or [N, K] when `trans_b`) into
// the layout every MatMul with that B uses, whatever its row count, so a
// Session can pack them at load, before the inputs' shapes are known;
// `bf16`: in bfloat16, for MatMulDesc::bf16 products.
void prepack_matmul_weights(const WeightSource& b, int64_t K, int64_t N, bool trans_b, bool bf16 = false);

class MatMul {
 public:
  // `constant_b`: B when it is a weight (reordered once), else data null.
  // `bias`: N values or null.
  MatMul(const MatMulDesc& d, const WeightSource& constant_b, const float* bias, const PostOp& post = {});
  size_t scratch_bytes() const { return scratch_bytes_; }
  const std::string& implementation() const { return impl_; }
  void run(const float* a, const float* b, float* y, void* scratch, DnnlRun& run) const;
  // The constant B of a 2-D product when it is packed in 64-column panels
  // (what kernels::gemv reads), else null. Valid while this lives.
  const float* panels() const { return panels_; }

 private:
  dnnl::matmul prim_;
  dnnl::memory::desc a_md_, b_md_, dst_md_, scratch_md_;
  dnnl::memory weights_, bias_;
  // bfloat16 products: A converted into scratch (after the primitive's own) first.
  bool bf16_ = false;
  dnnl::reorder a_to_bf16_;
  dnnl::memory::desc a_bf16_md_;
  size_t a_bf16_off_ = 0, scratch_bytes_ = 0;
  std::string impl_;
  const float* panels_ = nullptr;
  uint64_t site_ = next_execution_sites();
};

}  // namespace normrt::kernels
