#pragma once
// normrt::Session: load an ONNX model once, answer it many times.
//
// A Session is immutable after construction: run() may be called from
// several threads at once, each call getting the bits a lone call would.
#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "graph/ir.h"
#include "graph/passes/pass_manager.h"
#include "kernels/isa.h"

namespace normrt {

struct SessionOptions {
  int threads = 0;            // 0: every core OpenMP sees
  std::string isa = "auto";   // auto (NORMRT_ISA or the best), avx512, avx2, scalar
  bool optimize = true;       // graph rewrites and constant folding
  // 3x3 stride-1 convolutions as Winograd where oneDNN has a kernel (AVX-512):
  // 1.2-2.5x faster; error beside a float64 reference within 3x of direct's (about 1e-6).
  bool winograd = true;
  // Opt-in: products with a constant right-hand side (MatMul, Gemm,
  // FusedMatMul; a transformer's linear layers) take bfloat16 operands with
  // float32 accumulation where the CPU multiplies bfloat16 (AVX512-BF16, AMX),
  // as OpenVINO's bf16 inference precision does: several times faster on
  // AMX, results within about 1e-2 relative of float32's. Ignored elsewhere
  // (Session::bf16_matmuls says whether it is on).
  bool bf16_matmuls = false;
  size_t max_plans = 16;      // plans held at once (see plans_held); the least recently used goes first
  // A model whose shapes ask for a larger buffer (a constant folded at load,
  // an intermediate of a plan, a kernel's scratch space) gets an Error naming
  // the node instead of the memory; 0: no limit. For models from untrusted
  // sources. It bounds each buffer, not their sum; a node is refused even if
  // its output would be dropped later (read only by a Shape).
  size_t max_tensor_bytes = 0;
  // A Loop that would run more iterations than this gets an Error naming the
  // node (0: no limit); also for untrusted models, whose loops may not end.
  int64_t max_loop_iterations = 0;
  std::set<std::string> disabled_passes;  // by name (graph/passes/pass_manager.cpp)
};

class Session {
 public:
  explicit Session(const std::string& model_path, const SessionOptions& options = {});
  Session(const void* model_bytes, size_t size, const SessionOptions& options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Named inputs -> named outputs. Throws normrt::Error on a missing or
  // unknown input name, a wrong dtype or a shape the model does not accept.
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs) const;
  // Inputs in graph input order -> outputs in graph output order.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) const;
  // The same, writing into `outputs` when they already have the right dtypes
  // and shapes (as after a first call): then a run allocates nothing on the heap.
  void run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) const;

  // Runs `iterations` times and times every kernel of the plan for these
  // inputs (after the passes and plan-time folding).
  struct StepProfile {
    std::string op, name, domain, implementation;
    std::vector<Shape> in_shapes, out_shapes;
    double flops = 0, bytes = 0;
    std::vector<double> seconds;  // one per iteration
  };
  std::vector<StepProfile> profile(const std::vector<Tensor>& inputs, int iterations) const;

  const std::vector<std::string>& input_names() const;
  const std::vector<std::string>& output_names() const;
  const ValueType& input_type(const std::string& name) const;
  // After the rewrites, if optimize. Matmul weights that nothing but their
  // products reads are held packed only: those initializers keep their dtype
  // and shape, with empty bytes.
  const Graph& graph() const;
  // Every rewrite the passes applied, in order: pass, nodes consumed, node produced.
  const std::vector<Rewrite>& rewrites() const;
  Isa isa() const;
  int threads() const;
  bool bf16_matmuls() const;  // SessionOptions::bf16_matmuls asked for and the CPU has them
  // Plans held now: one per distinct input shape (and per content of the
  // inputs that decide shapes), at most SessionOptions::max_plans.
  size_t plans_held() const;
  // Plans built so far; a shape whose plan was dropped is built again.
  size_t plans_built() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace normrt
