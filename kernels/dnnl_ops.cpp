#include "kernels/dnnl_ops.h"

#include <atomic>
#include <cstring>
#include <stdexcept>

#include "kernels/gemv.h"

namespace normrt::kernels {
namespace {
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using dims = dnnl::memory::dims;

tag plain_tag(size_t rank) {
  switch (rank) {
    case 1: return tag::a;
    case 2: return tag::ab;
    case 3: return tag::abc;
    case 4: return tag::abcd;
    case 5: return tag::abcde;
    default: return tag::abcdef;
  }
}

dnnl::primitive_attr make_attr(const PostOp& post) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops ops;
  if (post.sum) ops.append_sum(1.f);
  using alg = dnnl::algorithm;
  switch (post.kind) {
    case PostOp::Kind::none: break;
    case PostOp::Kind::relu: ops.append_eltwise(1.f, alg::eltwise_relu, 0.f, 0.f); break;
    case PostOp::Kind::leaky_relu: ops.append_eltwise(1.f, alg::eltwise_relu, post.alpha, 0.f); break;
    case PostOp::Kind::clip: ops.append_eltwise(1.f, alg::eltwise_clip_v2, post.alpha, post.beta); break;
    case PostOp::Kind::sigmoid: ops.append_eltwise(1.f, alg::eltwise_logistic, 0.f, 0.f); break;
    case PostOp::Kind::hard_swish: ops.append_eltwise(1.f, alg::eltwise_hardswish, 0.f, 0.f); break;
    case PostOp::Kind::gelu: ops.append_eltwise(1.f, alg::eltwise_gelu_erf, 0.f, 0.f); break;
    case PostOp::Kind::gelu_tanh: ops.append_eltwise(1.f, alg::eltwise_gelu_tanh, 0.f, 0.f); break;
  }
  attr.set_post_ops(ops);
  return attr;
}

// Copies plain data into a memory of the primitive's chosen layout.
dnnl::memory reordered(const dnnl::memory::desc& plain, const void* data, const dnnl::memory::desc& want) {
  auto& eng = cpu_engine();
  dnnl::memory src(plain, eng, const_cast<void*>(data));
  dnnl::memory dst(want, eng);
  dnnl::stream s(eng);
  dnnl::reorder(src, dst).execute(s, src, dst);
  s.wait();
  return dst;
}

// From the cache when there is one, else a private copy.
dnnl::memory packed(const WeightSource& w, const dnnl::memory::desc& plain, const dnnl::memory::desc& want) {
  if (w.cache && w.owner) return w.cache->get(w.owner, w.data, plain, want);
  if (!w.data) throw std::logic_error("released weights reached a kernel without their cache");
  return reordered(plain, w.data, want);
}

dnnl::memory copied(const dnnl::memory::desc& md, const void* data) {
  dnnl::memory m(md, cpu_engine());
  std::memcpy(m.get_data_handle(), data, md.get_size());
  return m;
}

}  // namespace

dnnl::memory WeightCache::get(const std::shared_ptr<const void>& owner, const void* data,
                               const dnnl::memory::desc& from, const dnnl::memory::desc& to) {
  // Keyed by the owner and the target and source layouts' bytes (dnnl_memory_desc_t is plain data).
  const std::string source(reinterpret_cast<const char*>(&from.data), sizeof(from.data));
  std::string layout(reinterpret_cast<const char*>(&to.data), sizeof(to.data));
  layout.append(source);
  std::lock_guard<std::mutex> lock(mutex_);
  auto key = std::make_pair(owner.get(), std::move(layout));
  auto it = entries_.find(key);
  if (it != entries_.end()) return it->second.second;
  dnnl::memory m;
  if (data) {
    m = reordered(from, data, to);
  } else {
    // Released plain bytes: a packed copy of the same matrix (same owner,
    // read through the same plain layout) holds them too, unless it holds
    // them in bfloat16 and float32 is wanted.
    for (auto& [k, e] : entries_)
      if (k.first == owner.get() && k.second.size() == key.second.size() &&
          k.second.compare(k.second.size() - source.size(), source.size(), source) == 0 &&
          (e.second.get_desc().data_type() != dt::bf16 || to.data_type() == dt::bf16)) {
        m = reordered(e.second.get_desc(), e.second.get_data_handle(), to);
        break;
      }
    if (!m) throw std::logic_error("released weights with no packed copy to rebuild them from");
  }
  entries_.emplace(std::move(key), std::make_pair(owner, m));
  return m;
}

void WeightCache::rekey(const void* from, const std::shared_ptr<const void>& to) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->first.first != from) {
      ++it;
      continue;
    }
    auto key = std::make_pair(to.get(), it->first.second);
    dnnl::memory m = it->second.second;
    it = entries_.erase(it);
    entries_.emplace(std::move(key), std::make_pair(to, m));
  }
}

bool WeightCache::holds(const void* owner) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [k, e] : entries_)
    if (k.first == owner) return true;
  return false;
}

size_t WeightCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

// The memory objects and argument list of one execution site in one run
// context (dnnl::primitive::execute builds a map and a vector per call; this
// goes to the C API with a kept array).
class BoundArgs {
 public:
  BoundArgs& bind(int arg, const dnnl::memory::desc& md, const void* handle) {
    for (size_t i = 0; i < args_.size(); ++i)
      if (args_[i].arg == arg) {  // a site binds each argument with one desc: only the buffer moves
        mems_[i].set_data_handle(const_cast<void*>(handle));
        return *this;
      }
    mems_.emplace_back(md, cpu_engine(), const_cast<void*>(handle));
    args_.push_back({arg, mems_.back().get()});
    for (size_t i = 0; i < args_.size(); ++i) args_[i].memory = mems_[i].get();  // mems_ may have moved
    return *this;
  }
  void execute(const dnnl::primitive& p, DnnlRun& run) {
    dnnl::error::wrap_c_api(dnnl_primitive_execute(p.get(), run.stream().get(), int(args_.size()), args_.data()),
                            "could not execute a primitive");
  }

 private:
  std::vector<dnnl::memory> mems_;
  std::vector<dnnl_exec_arg_t> args_;
};

DnnlRun::DnnlRun() : stream_(cpu_engine()) {}
DnnlRun::~DnnlRun() = default;

BoundArgs& DnnlRun::bound(uint64_t site) {
  auto& b = bound_[site];
  if (!b) b = std::make_unique<BoundArgs>();
  return *b;
}

uint64_t next_execution_sites() {
  static std::atomic<uint64_t> next{0};
  return next.fetch_add(4) ;  // each wrapper uses up to four: reorder in, addend, primitive, reorder out
}

int64_t conv_channel_block() {
  static const int64_t block = dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core ? 16 : 8;
  return block;
}

HeldLayout held_layout(bool has_depthwise, bool has_winograd) {
  // Measured: resnet18 8% faster in NHWC (brgconv) than blocked with direct
  // convolutions, mobilenet_v2 7% slower (depthwise wants blocks); Winograd
  // runs on blocks only.
  return conv_channel_block() == 16 && !has_depthwise && !has_winograd ? HeldLayout::nhwc : HeldLayout::blocked;
}

bool winograd_candidate(int64_t C, int64_t OC, int64_t group, const std::vector<int64_t>& kernel,
                        const std::vector<int64_t>& strides, const std::vector<int64_t>& dilations) {
  const std::vector<int64_t> ones{1, 1};
  return conv_channel_block() == 16 && group == 1 && C % 16 == 0 && OC % 16 == 0 &&
         kernel == std::vector<int64_t>{3, 3} && strides == ones && dilations == ones;
}

size_t held_bytes(HeldLayout layout, int64_t N, int64_t C, int64_t H, int64_t W) {
  const int64_t b = layout == HeldLayout::nhwc ? 1 : conv_channel_block();
  return size_t(N * ((C + b - 1) / b * b) * H * W) * sizeof(float);
}

namespace {
std::string layout_name(const dnnl::memory::desc& md) {
  const auto& b = md.data.format_desc.blocking;
  if (md.data.format_kind != dnnl_blocked) return "opaque";
  if (b.inner_nblks > 0) return "blocked" + std::to_string(b.inner_blks[0]) + "c";
  const dims d = md.dims();
  if (d.size() == 4 && md == dnnl::memory::desc(d, dt::f32, tag::acdb)) return "nhwc";
  return md == dnnl::memory::desc(d, dt::f32, plain_tag(d.size())) ? "plain" : "strided";
}

dnnl::memory::desc activation_desc(const dims& d, bool held, HeldLayout layout) {
  if (!held) return dnnl::memory::desc(d, dt::f32, plain_tag(d.size()));
  if (layout == HeldLayout::nhwc) return dnnl::memory::desc(d, dt::f32, tag::acdb);
  return dnnl::memory::desc(d, dt::f32, conv_channel_block() == 16 ? tag::nChw16c : tag::nChw8c);
}
}  // namespace

bool held_is_plain_1x1(HeldLayout layout, int64_t C) {
  return layout == HeldLayout::nhwc || C % conv_channel_block() == 0;
}

Conv::Conv(const ConvDesc& d, const WeightSource& ws, bool has_bias, const float* bias, const PostOp& post)
    : has_bias_(has_bias) {
  const float* weights = ws.data;
  const size_t r = d.in.size();
  dims src{d.N, d.C}, dst{d.N, d.OC}, wdims, strides, dil, pl, pr;
  src.insert(src.end(), d.in.begin(), d.in.end());
  dst.insert(dst.end(), d.out.begin(), d.out.end());
  if (d.group > 1) wdims = {d.group, d.OC / d.group, d.C / d.group};
  else wdims = {d.OC, d.C};
  wdims.insert(wdims.end(), d.kernel.begin(), d.kernel.end());
  for (size_t i = 0; i < r; ++i) {
    strides.push_back(d.strides[i]);
    dil.push_back(d.dilations[i] - 1);  // oneDNN counts dilation from 0
    pl.push_back(d.pad_begin[i]);
    pr.push_back(d.pad_end[i]);
  }
  src_md_ = activation_desc(src, d.src_blocked, d.held);
  dst_md_ = activation_desc(dst, d.dst_blocked, d.held);
  z_md_ = activation_desc(dst, d.z_blocked, d.held);
  dnnl::memory::desc w_plain(wdims, dt::f32, plain_tag(wdims.size()));
  // With constant weights oneDNN picks the weight layout, and the activation
  // layouts too unless the caller already holds them blocked.
  const bool free_layout = weights != nullptr;
  w_md_ = free_layout ? dnnl::memory::desc(wdims, dt::f32, tag::any) : w_plain;
  b_md_ = dnnl::memory::desc({d.OC}, dt::f32, tag::a);
  const auto any = [&](const dims& x, const dnnl::memory::desc& held, bool blocked) {
    return free_layout && !blocked ? dnnl::memory::desc(x, dt::f32, tag::any) : held;
  };
  const auto prop = dnnl::prop_kind::forward_inference;
  auto make_pd = [&](const dnnl::memory::desc& src_pd, const dnnl::memory::desc& dst_pd,
                     dnnl::algorithm alg = dnnl::algorithm::convolution_direct) {
    auto od = has_bias ? dnnl::convolution_forward::desc(prop, alg, src_pd, w_md_, b_md_, dst_pd, strides, dil, pl, pr)
                       : dnnl::convolution_forward::desc(prop, alg, src_pd, w_md_, dst_pd, strides, dil, pl, pr);
    return dnnl::convolution_forward::primitive_desc(od, make_attr(post), cpu_engine());
  };
  const dnnl::memory::desc src_want = any(src, src_md_, d.src_blocked), dst_want = any(dst, dst_md_, d.dst_blocked);
  dnnl::convolution_forward::primitive_desc pd;
  // Winograd does 2.25-4x fewer multiplications on 3x3 (measured 1.2-2.5x
  // faster than direct on ResNet's layers), its error beside a float64
  // reference about 1e-6 relative, within 3x of direct's (F(2x2,3x3) often
  // below it); where oneDNN has no kernel for the form, direct.
  if (d.winograd && free_layout &&
      winograd_candidate(d.C, d.OC, d.group, d.kernel, d.strides, d.dilations)) {
    try {
      pd = make_pd(src_want, dst_want, dnnl::algorithm::convolution_winograd);
    } catch (const dnnl::error&) {
      pd = {};
    }
  }
  if (!pd) pd = make_pd(src_want, dst_want);
  const auto free_pd = [&] {
    return make_pd(dnnl::memory::desc(src, dt::f32, tag::any), dnnl::memory::desc(dst, dt::f32, tag::any));
  };
  // Held layouts oneDNN has no optimized kernel for (channels far from a
  // multiple of the block) would land on its reference loop: let it choose
  // the layouts instead, and reorder around the primitive.
  if (free_layout && (d.src_blocked || d.dst_blocked) && std::string(pd.impl_info_str()).rfind("ref", 0) == 0)
    pd = free_pd();
  // When Winograd made the chain blocked, the convolutions it does not take
  // (ResNet's strided 3x3) would land on oneDNN 2.6's generic blocked kernel,
  // at about half the FMA peak where its brgemm kernel on NHWC reaches
  // 80-90%: brgemm, with reorders around it, when the input is held (a
  // model's own input is taken as it comes).
  if (d.winograd && free_layout && d.src_blocked && d.held == HeldLayout::blocked &&
      std::string(pd.impl_info_str()) == "jit:avx512_core") {
    auto alt = free_pd();
    if (std::string(alt.impl_info_str()).rfind("brg", 0) == 0) pd = alt;
  }
  prim_ = dnnl::convolution_forward(pd);
  scratch_md_ = pd.scratchpad_desc();
  src_in_ = pd.src_desc();
  dst_in_ = pd.dst_desc();
  sum_ = post.sum;
  auto& eng = cpu_engine();
  auto align = [](size_t n) { return (n + 63) / 64 * 64; };
  scratch_bytes_ = align(scratch_md_.get_size());
  if ((reorder_src_ = src_in_ != src_md_)) {
    src_reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(eng, src_md_, eng, src_in_));
    src_off_ = scratch_bytes_;
    scratch_bytes_ += align(src_in_.get_size());
  }
  if ((reorder_dst_ = dst_in_ != dst_md_)) {
    dst_reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(eng, dst_in_, eng, dst_md_));
    dst_off_ = scratch_bytes_;
    scratch_bytes_ += align(dst_in_.get_size());
  }
  if (sum_ && (reorder_z_ = z_md_ != dst_in_))
    z_reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(eng, z_md_, eng, dst_in_));
  if (weights) {
    w_md_ = pd.weights_desc();
    weights_ = packed(ws, w_plain, w_md_);
  }
  if (bias) bias_ = copied(b_md_, bias);
  impl_ = std::string("oneDNN ") + pd.impl_info_str() + " " + layout_name(src_in_) + "->" + layout_name(dst_in_) +
          (reorder_src_ || reorder_dst_ ? " +reorder" : "");
}

void Conv::run(const float* src, const float* weights, const float* bias, const float* z, float* dst, void* scratch,
               DnnlRun& run) const {
  auto* base = static_cast<char*>(scratch);
  const void* src_p = src;
  void* dst_p = dst;
  if (reorder_src_) {
    src_p = base + src_off_;
    run.bound(site_).bind(DNNL_ARG_FROM, src_md_, src).bind(DNNL_ARG_TO, src_in_, src_p).execute(src_reorder_, run);
  }
  if (reorder_dst_) dst_p = base + dst_off_;
  if (sum_) {  // the addend goes where the primitive writes, in its layout
    if (reorder_z_) run.bound(site_ + 1).bind(DNNL_ARG_FROM, z_md_, z).bind(DNNL_ARG_TO, dst_in_, dst_p).execute(z_reorder_, run);
    else if (z != dst_p) std::memcpy(dst_p, z, dst_in_.get_size());
  }
  BoundArgs& args = run.bound(site_ + 2);
  args.bind(DNNL_ARG_SRC, src_in_, src_p).bind(DNNL_ARG_DST, dst_in_, dst_p).bind(DNNL_ARG_SCRATCHPAD, scratch_md_, scratch);
  args.bind(DNNL_ARG_WEIGHTS, w_md_, weights_ ? weights_.get_data_handle() : weights);
  if (has_bias_) args.bind(DNNL_ARG_BIAS, b_md_, bias_ ? bias_.get_data_handle() : bias);
  args.execute(prim_, run);
  if (reorder_dst_) run.bound(site_ + 3).bind(DNNL_ARG_FROM, dst_in_, dst_p).bind(DNNL_ARG_TO, dst_md_, dst).execute(dst_reorder_, run);
}


Pool::Pool(const PoolDesc& d) {
  dims src{d.N, d.C}, dst{d.N, d.C}, strides, kernel, dil, pl, pr;
  src.insert(src.end(), d.in.begin(), d.in.end());
  dst.insert(dst.end(), d.out.begin(), d.out.end());
  for (size_t i = 0; i < d.in.size(); ++i) {
    strides.push_back(d.strides[i]);
    kernel.push_back(d.kernel[i]);
    dil.push_back(d.dilations[i] - 1);
    pl.push_back(d.pad_begin[i]);
    pr.push_back(d.pad_end[i]);
  }
  src_md_ = activation_desc(src, d.src_held, d.held);
  dst_md_ = activation_desc(dst, d.dst_held, d.held);
  const auto alg = d.max ? dnnl::algorithm::pooling_max
                         : d.include_padding ? dnnl::algorithm::pooling_avg_include_padding
                                             : dnnl::algorithm::pooling_avg_exclude_padding;
  dnnl::pooling_v2_forward::desc od(dnnl::prop_kind::forward_inference, alg, src_md_, dst_md_, strides, kernel, dil, pl, pr);
  dnnl::pooling_v2_forward::primitive_desc pd(od, make_attr({}), cpu_engine());
  prim_ = dnnl::pooling_v2_forward(pd);
  scratch_md_ = pd.scratchpad_desc();
  impl_ = std::string("oneDNN ") + pd.impl_info_str();
}

void Pool::run(const float* src, float* dst, void* scratch, DnnlRun& run) const {
  run.bound(site_ + 2)
      .bind(DNNL_ARG_SRC, src_md_, src)
      .bind(DNNL_ARG_DST, dst_md_, dst)
      .bind(DNNL_ARG_SCRATCHPAD, scratch_md_, scratch)
      .execute(prim_, run);
}

Deconv::Deconv(const ConvDesc& d, const WeightSource& ws, bool has_bias, const float* bias) : has_bias_(has_bias) {
  const float* weights = ws.data;
  const size_t r = d.in.size();
  dims src{d.N, d.C}, dst{d.N, d.OC}, strides, dil, pl, pr;
  src.insert(src.end(), d.in.begin(), d.in.end());
  dst.insert(dst.end(), d.out.begin(), d.out.end());
  int64_t k = 1;
  for (int64_t e : d.kernel) k *= e;
  const int64_t g = d.group, ocg = d.OC / g, icg = d.C / g;
  // Logical (g,) oc, ic, k... over the ONNX storage [g][ic][oc][k...].
  dims wdims, wstrides;
  if (g > 1) {
    wdims = {g, ocg, icg};
    wstrides = {icg * ocg * k, k, ocg * k};
  } else {
    wdims = {ocg, icg};
    wstrides = {k, ocg * k};
  }
  int64_t ks = k;
  for (size_t i = 0; i < r; ++i) {
    wdims.push_back(d.kernel[i]);
    ks /= d.kernel[i];
    wstrides.push_back(ks);
    strides.push_back(d.strides[i]);
    dil.push_back(d.dilations[i] - 1);
    pl.push_back(d.pad_begin[i]);
    pr.push_back(d.pad_end[i]);
  }
  src_md_ = dnnl::memory::desc(src, dt::f32, plain_tag(src.size()));
  dst_md_ = dnnl::memory::desc(dst, dt::f32, plain_tag(dst.size()));
  const dnnl::memory::desc w_onnx(wdims, dt::f32, wstrides);
  w_md_ = weights ? dnnl::memory::desc(wdims, dt::f32, tag::any) : w_onnx;
  b_md_ = dnnl::memory::desc({d.OC}, dt::f32, tag::a);
  const auto prop = dnnl::prop_kind::forward_inference;
  const auto alg = dnnl::algorithm::deconvolution_direct;
  auto od = has_bias ? dnnl::deconvolution_forward::desc(prop, alg, src_md_, w_md_, b_md_, dst_md_, strides, dil, pl, pr)
                     : dnnl::deconvolution_forward::desc(prop, alg, src_md_, w_md_, dst_md_, strides, dil, pl, pr);
  dnnl::deconvolution_forward::primitive_desc pd(od, make_attr({}), cpu_engine());
  prim_ = dnnl::deconvolution_forward(pd);
  scratch_md_ = pd.scratchpad_desc();
  impl_ = std::string("oneDNN ") + pd.impl_info_str();
  if (weights) {
    w_md_ = pd.weights_desc();
    weights_ = packed(ws, w_onnx, w_md_);
  }
  if (bias) bias_ = copied(b_md_, bias);
}

void Deconv::run(const float* src, const float* weights, const float* bias, float* dst, void* scratch,
                 DnnlRun& run) const {
  BoundArgs& args = run.bound(site_ + 2);
  args.bind(DNNL_ARG_SRC, src_md_, src).bind(DNNL_ARG_DST, dst_md_, dst).bind(DNNL_ARG_SCRATCHPAD, scratch_md_, scratch);
  args.bind(DNNL_ARG_WEIGHTS, w_md_, weights_ ? weights_.get_data_handle() : weights);
  if (has_bias_) args.bind(DNNL_ARG_BIAS, b_md_, bias_ ? bias_.get_data_handle() : bias);
  args.execute(prim_, run);
}

namespace {
// A strided desc whose matrix dims (the last two) of size 1 take the
// stride a row-major layout would give them there. Any stride addresses a
// dim of 1 the same, but oneDNN judges a layout by its strides: a product's
// one row written transposed ([b, 1, n] at strides [n, 1, 1]) was accepted
// when the primitive was made and refused when it ran. (Batch dims keep
// theirs: a unit batch dim given a row-major stride moved attention's
// strided products off oneDNN's brgemm kernel.)
dnnl::memory::desc strided_desc(const dims& logical, dims strides) {
  const size_t r = logical.size();
  if (r >= 2 && logical[r - 1] == 1) strides[r - 1] = 1;
  if (r >= 2 && logical[r - 2] == 1) strides[r - 2] = strides[r - 1] * logical[r - 1];
  return dnnl::memory::desc(logical, dt::f32, strides);
}

// Desc of the logical view of `stored` dims (row-major) that `perm` picks.
dnnl::memory::desc matrix_desc(const std::vector<int64_t>& stored, const std::vector<int64_t>& perm) {
  dims stored_strides(stored.size()), logical(stored.size()), strides(stored.size());
  int64_t s = 1;
  for (size_t i = stored.size(); i-- > 0;) {
    stored_strides[i] = s;
    s *= stored[i];
  }
  for (size_t i = 0; i < stored.size(); ++i) {
    const size_t from = perm.empty() ? i : size_t(perm[i]);
    logical[i] = stored[from];
    strides[i] = stored_strides[from];
  }
  return strided_desc(logical, strides);
}

// The layout constant [K, N] weights are packed in: the one oneDNN's matmul
// picks for a 64-row product, given to products of any row count, so what is
// packed at load and what every plan asks for agree by construction (oneDNN
// 2.6 picks one layout for all row counts today; nothing here relies on it).
dnnl::memory::desc packed_weights_desc(int64_t K, int64_t N, bool bf16) {
  const dt in = bf16 ? dt::bf16 : dt::f32;
  const dnnl::memory::desc a({64, K}, in, tag::ab), b({K, N}, in, tag::any), y({64, N}, dt::f32, tag::ab);
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, y), cpu_engine()).weights_desc();
}

// oneDNN's brgemm matmul takes a strided batch only as a 4-D layout (acbd,
// adbc); a 3-D product with a permuted operand gets a leading unit dim.
MatMulDesc with_unit_batch(MatMulDesc d) {
  auto widen = [](std::vector<int64_t>& perm) {
    if (perm.empty()) return;
    for (int64_t& p : perm) ++p;
    perm.insert(perm.begin(), 0);
  };
  d.a_dims.insert(d.a_dims.begin(), 1);
  d.b_dims.insert(d.b_dims.begin(), 1);
  widen(d.a_perm);
  widen(d.b_perm);
  widen(d.y_perm);
  return d;
}
}  // namespace

bool bf16_matmul_supported() {
  // AVX512-BF16 (and AMX, which has it): the ISA's bits include avx512_core_bf16's.
  static const bool yes = (unsigned(dnnl::get_effective_cpu_isa()) & unsigned(dnnl::cpu_isa::avx512_core_bf16)) ==
                          unsigned(dnnl::cpu_isa::avx512_core_bf16);
  return yes;
}

MatMul::MatMul(const MatMulDesc& given, const WeightSource& ws, const float* bias, const PostOp& post) {
  const bool permuted = !given.a_perm.empty() || !given.b_perm.empty() || !given.y_perm.empty();
  const MatMulDesc d = permuted && given.a_dims.size() == 3 ? with_unit_batch(given) : given;
  // A constant B: its data, or (its plain bytes released) its owner's packed copies.
  const bool constant_b = ws.data || ws.owner;
  a_md_ = matrix_desc(d.a_dims, d.a_perm);
  dnnl::memory::desc b_plain = matrix_desc(d.b_dims, d.b_perm);
  const size_t r = d.a_dims.size();
  dims ad = a_md_.dims(), bd = b_plain.dims(), yd(r);
  for (size_t i = 0; i + 2 < r; ++i) yd[i] = std::max(ad[i], bd[i]);
  yd[r - 2] = ad[r - 2];
  yd[r - 1] = bd[r - 1];
  if (d.y_perm.empty()) {
    dst_md_ = dnnl::memory::desc(yd, dt::f32, plain_tag(r));
  } else {
    // y is stored as yd permuted: stored dim i holds logical dim y_perm[i].
    dims stored(r), strides(r);
    for (size_t i = 0; i < r; ++i) stored[i] = yd[size_t(d.y_perm[i])];
    int64_t s = 1;
    for (size_t i = r; i-- > 0;) {
      strides[size_t(d.y_perm[i])] = s;
      s *= stored[i];
    }
    dst_md_ = strided_desc(yd, strides);
  }
  dims bias_dims(r, 1);
  bias_dims[r - 1] = yd[r - 1];
  dnnl::memory::desc bias_md(bias_dims, dt::f32, plain_tag(r));
  auto attr = make_attr(post);
  if (d.alpha != 1.f) attr.set_output_scales(0, {d.alpha});
  // bfloat16 operands: A converted into scratch before each product, B packed so.
  bf16_ = d.bf16 && constant_b && r == 2 && bf16_matmul_supported();
  const dt in = bf16_ ? dt::bf16 : dt::f32;
  if (bf16_) a_bf16_md_ = dnnl::memory::desc(ad, dt::bf16, plain_tag(r));
  auto make_pd = [&] {
    const dnnl::memory::desc& src = bf16_ ? a_bf16_md_ : a_md_;
    auto od = bias ? dnnl::matmul::desc(src, b_md_, bias_md, dst_md_) : dnnl::matmul::desc(src, b_md_, dst_md_);
    return dnnl::matmul::primitive_desc(od, attr, cpu_engine());
  };
  b_md_ = constant_b ? dnnl::memory::desc(bd, in, tag::any) : b_plain;
  dnnl::matmul::primitive_desc pd;
  if (constant_b && r == 2) {
    try {
      b_md_ = packed_weights_desc(bd[0], bd[1], bf16_);
      pd = make_pd();
    } catch (const dnnl::error&) {
    }
    // This product cannot take that layout, or only with a reference kernel: its own layout.
    if (!pd || std::string(pd.impl_info_str()).find("ref") != std::string::npos) {
      pd = {};
      b_md_ = dnnl::memory::desc(bd, in, tag::any);
    }
  }
  if (!pd) pd = make_pd();
  prim_ = dnnl::matmul(pd);
  scratch_md_ = pd.scratchpad_desc();
  scratch_bytes_ = (scratch_md_.get_size() + 63) / 64 * 64;
  if (bf16_) {
    a_to_bf16_ = dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), a_md_, cpu_engine(), a_bf16_md_));
    a_bf16_off_ = scratch_bytes_;
    scratch_bytes_ += a_bf16_md_.get_size();
  }
  impl_ = std::string("oneDNN ") + pd.impl_info_str() + (bf16_ ? " bf16" : "");
  if (constant_b) {
    weights_ = packed(ws, b_plain, pd.weights_desc());
    b_md_ = pd.weights_desc();
    // BA16a64b: panels of kGemvPanel columns, rows padded to kGemvKBlock (gemv.h).
    static_assert(kGemvPanel == 64 && kGemvKBlock == 16);
    if (r == 2 && b_md_ == dnnl::memory::desc(bd, dt::f32, tag::BA16a64b))
      panels_ = static_cast<const float*>(weights_.get_data_handle());
  }
  if (bias) bias_ = copied(bias_md, bias);
}

void prepack_matmul_weights(const WeightSource& b, int64_t K, int64_t N, bool trans_b, bool bf16) {
  packed(b, matrix_desc({trans_b ? N : K, trans_b ? K : N}, trans_b ? std::vector<int64_t>{1, 0} : std::vector<int64_t>{}),
         packed_weights_desc(K, N, bf16));
}

void MatMul::run(const float* a, const float* b, float* y, void* scratch, DnnlRun& run) const {
  const void* src = a;
  if (bf16_) {
    src = static_cast<char*>(scratch) + a_bf16_off_;
    run.bound(site_).bind(DNNL_ARG_FROM, a_md_, a).bind(DNNL_ARG_TO, a_bf16_md_, src).execute(a_to_bf16_, run);
  }
  BoundArgs& args = run.bound(site_ + 2);
  args.bind(DNNL_ARG_SRC, bf16_ ? a_bf16_md_ : a_md_, src).bind(DNNL_ARG_DST, dst_md_, y).bind(DNNL_ARG_SCRATCHPAD, scratch_md_, scratch);
  args.bind(DNNL_ARG_WEIGHTS, b_md_, weights_ ? weights_.get_data_handle() : b);
  if (bias_) args.bind(DNNL_ARG_BIAS, bias_.get_desc(), bias_.get_data_handle());
  args.execute(prim_, run);
}

}  // namespace normrt::kernels
