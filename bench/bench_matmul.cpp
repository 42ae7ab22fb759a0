// What it costs a matmul when its weights come from memory rather than
// cache, as they do in a model whose weights do not fit in the last-level
// cache: normrt's MatMul (oneDNN brgemm, weights packed at load) on the
// encoders' shapes, with weights hot (the same product run back to back) and
// cold (256 MiB of other data read between runs, outside the timing):
//   build/bench/bench_matmul
// Read BM_MatMulCold beside BM_MatMulHot of the same shape: the FLOP/s ratio
// is what weight streaming costs a product the kernel cannot overlap it with.
// Products of one row (1xKxN) also run as BM_Gemv*: kernels::gemv on the same
// packed weights, what a session runs them with; its GB/s counter is the
// weights' bytes over the time. Products of more rows also run as BM_Gemm*:
// kernels::gemm on the same packed weights, what a session runs them with
// where oneDNN packs that layout (AVX-512).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/dnnl_ops.h"
#include "kernels/gemm.h"
#include "kernels/gemv.h"

namespace {
using namespace normrt;

struct Shape3 {
  int64_t M, K, N;
};

enum class Run { onednn, gemv, gemm };

void matmul(benchmark::State& st, Shape3 s, bool cold, Run how) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> a(size_t(s.M * s.K)), w(size_t(s.K * s.N)), y(size_t(s.M * s.N));
  for (auto* v : {&a, &w})
    for (float& e : *v) e = u(rng);
  kernels::MatMulDesc d;
  d.a_dims = {s.M, s.K};
  d.b_dims = {s.K, s.N};
  const kernels::MatMul mm(d, kernels::WeightSource{w.data(), nullptr, nullptr}, nullptr);
  std::unique_ptr<void, void (*)(void*)> scratch(std::aligned_alloc(64, (mm.scratch_bytes() + 64) / 64 * 64), std::free);
  kernels::DnnlRun run;
  std::vector<float> other(cold ? size_t(64) << 20 : 0, 1.f);  // 256 MiB
  float sink = 0;
  if (how != Run::onednn && !mm.panels()) {
    st.SkipWithError("oneDNN did not pack B in the 64-column panels gemv and gemm read (not AVX-512)");
    return;
  }
  for (auto _ : st) {
    if (cold) {
      st.PauseTiming();
      for (size_t i = 0; i < other.size(); i += 16) sink += other[i];
      st.ResumeTiming();
    }
    if (how == Run::gemv) {
      kernels::gemv(best_isa(), a.data(), mm.panels(), nullptr, y.data(), s.K, s.N);
    } else if (how == Run::gemm) {
      kernels::gemm(best_isa(), a.data(), mm.panels(), nullptr, y.data(), s.M, s.K, s.N, nullptr);
    } else {
      mm.run(a.data(), nullptr, y.data(), scratch.get(), run);
      run.stream().wait();
    }
  }
  benchmark::DoNotOptimize(sink);
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(s.M * s.K * s.N) * double(st.iterations()) / 1e9,
                                               benchmark::Counter::kIsRate);
  st.counters["GB/s"] = benchmark::Counter(4.0 * double(s.K * s.N) * double(st.iterations()) / 1e9,
                                           benchmark::Counter::kIsRate);
}

}  // namespace

int main(int argc, char** argv) {
  const Shape3 shapes[] = {{128, 384, 1536}, {128, 1536, 384}, {128, 768, 3072}, {128, 3072, 768},
                           {4, 768, 3072},   {32, 768, 3072},  {512, 768, 768},  {1, 1280, 1000},
                           {1, 2048, 1000},  {1, 768, 3072},   {1, 3072, 768}};
  for (const auto& s : shapes) {
    const std::string name = std::to_string(s.M) + "x" + std::to_string(s.K) + "x" + std::to_string(s.N);
    for (bool cold : {false, true}) {
      const std::string temp = cold ? "Cold/" : "Hot/";
      benchmark::RegisterBenchmark(("BM_MatMul" + temp + name).c_str(), matmul, s, cold, Run::onednn)->UseRealTime();
      const bool one = s.M == 1;
      benchmark::RegisterBenchmark(((one ? "BM_Gemv" : "BM_Gemm") + temp + name).c_str(), matmul, s, cold,
                                   one ? Run::gemv : Run::gemm)
          ->UseRealTime();
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
}
