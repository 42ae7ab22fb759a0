#pragma once
// What an op's implementation looks like to the executor: a factory, called
// once per plan with every shape fixed, returns an immutable Kernel whose
// run() only reads and writes the buffers it is given.
#include <oneapi/dnnl/dnnl.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "graph/ir.h"
#include "graph/shape_inference.h"
#include "kernels/dnnl_ops.h"
#include "kernels/isa.h"

namespace normrt {

struct RunArgs {
  const void* const* in;  // null for an omitted optional input
  void* const* out;
  void* scratch;  // scratch_bytes() of it, 64-byte aligned
  kernels::DnnlRun* dnnl;  // the run context's oneDNN stream and bound arguments
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void run(const RunArgs& a) const = 0;
  virtual size_t scratch_bytes() const { return 0; }
  // What runs it, for profiles ("" for normrt's own kernels at the session's ISA).
  virtual std::string implementation() const { return ""; }
  // An input whose buffer output 0 may be written over (the kernel reads it
  // only as the output's starting value), or -1.
  virtual int in_place_input() const { return -1; }
  // A kernel that computes only [c0, c1) of output 0's last dim, writing
  // them as a tensor of their own (what a Slice of that range would copy
  // out), on the same inputs; null if this kernel cannot.
  virtual std::unique_ptr<Kernel> column_range(int64_t /*c0*/, int64_t /*c1*/) const { return nullptr; }
};

struct BindContext {
  const Node& node;
  const std::vector<const ValueInfo*>& in;
  const std::vector<ValueInfo>& out;
  int64_t opset;
  Isa isa;
  std::string where;  // "model.onnx: node Conv 'conv1'"
  // Inputs/outputs the plan keeps in oneDNN's blocked convolution layout
  // (see blocked_conv_values); empty means all plain.
  std::vector<bool> in_blocked, out_blocked;
  kernels::HeldLayout held = kernels::HeldLayout::blocked;  // their layout
  // The Session's packed weights, shared by its plans (null: private copies).
  kernels::WeightCache* weights = nullptr;
  bool winograd = false;  // 3x3 stride-1 convolutions may run as Winograd
  bool bf16_matmuls = false;  // products with a constant B multiply in bfloat16 (SessionOptions::bf16_matmuls)

  const Shape& in_shape(size_t k) const { return in.at(k)->shape; }
  bool has_input(size_t k) const { return k < in.size() && in[k] != nullptr; }
  // The input's contents if known at plan time (a weight), else null.
  const Tensor* constant(size_t k) const { return has_input(k) ? in[k]->value.get() : nullptr; }
  // A constant input as the source of packed weights (one with no elements
  // has nothing to pack, and comes to run() as any input does).
  kernels::WeightSource weight_source(size_t k) const {
    const Tensor* t = constant(k);
    if (!t || t->numel() == 0) return {};
    const bool released = t->bytes.empty();  // held packed only (prepack_matmul_weights)
    if (released && !weights) fail("weights held packed only, planned without their session's cache");
    return kernels::WeightSource{released ? nullptr : t->data<float>(), weights, in[k]->value};
  }
  bool input_blocked(size_t k) const { return k < in_blocked.size() && in_blocked[k]; }
  bool output_blocked(size_t k) const { return k < out_blocked.size() && out_blocked[k]; }
  [[noreturn]] void fail(const std::string& why) const { throw Error(where + ": " + why); }
};

using KernelFactory = std::function<std::unique_ptr<Kernel>(const BindContext&)>;

// Throws, naming `where` and that `what` needs the memory, if `bytes` is
// above `limit` (SessionOptions::max_tensor_bytes; 0: none). Checked for each
// buffer before it is allocated; it bounds each one, not their sum.
void check_bytes(size_t bytes, size_t limit, const std::string& where, const std::string& what);
// `t` if it holds one value of `type` (null, an omitted input, stays null);
// else an Error naming `where` and `what` (a trip count, a threshold).
const Tensor* one_value(const Tensor* t, DType type, const std::string& where, const std::string& what);

// A kernel from a plain function; for ops with nothing to precompute.
template <class F>
std::unique_ptr<Kernel> kernel_fn(F f, size_t scratch = 0, std::string implementation = "", int in_place_input = -1) {
  struct K : Kernel {
    F f;
    size_t s;
    std::string impl;
    int in_place;
    K(F f, size_t s, std::string impl, int in_place) : f(std::move(f)), s(s), impl(std::move(impl)), in_place(in_place) {}
    void run(const RunArgs& a) const override { f(a); }
    size_t scratch_bytes() const override { return s; }
    std::string implementation() const override { return impl; }
    int in_place_input() const override { return in_place; }
  };
  return std::make_unique<K>(std::move(f), scratch, std::move(implementation), in_place_input);
}

}  // namespace normrt
