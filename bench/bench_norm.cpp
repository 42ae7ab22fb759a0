// Normalization kernels beside the machine's copy bandwidth and oneDNN's own
// primitives, on the same shapes in one run, so every number reads as a ratio:
//   BM_<Kernel>/<isa>/<shape>, BM_Copy/<shape>, BM_OneDnn<Kernel>/<shape>
// bytes/s counts what each kernel must move (LayerNorm: 8 bytes per element,
// one read and one write; Add+LayerNorm: 16, two reads, sum and output written).
//   build/bench/bench_norm --benchmark_format=json | bench/norm_table.py
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "kernels/batch_norm.h"
#include "kernels/dnnl_ops.h"
#include "kernels/layer_norm.h"

namespace {
using namespace normrt;

struct BenchShape {
  const char* name;
  int64_t rows, n;  // LayerNorm normalizes the last dim; BatchNorm treats it as [rows(N*C), n(inner)]
};
const BenchShape kShapes[] = {
    {"1x128x768", 128, 768}, {"1x512x1024", 512, 1024}, {"1x2048x4096", 2048, 4096},
    {"64x4096", 64, 4096},   {"1x4194304", 1, 4194304},
};

// 64-byte aligned, as a plan's arena places every tensor.
template <class T>
struct Aligned64 {
  using value_type = T;
  Aligned64() = default;
  template <class U>
  Aligned64(const Aligned64<U>&) {}
  T* allocate(size_t n) {
    void* p = std::aligned_alloc(64, (n * sizeof(T) + 63) / 64 * 64);
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  bool operator==(const Aligned64&) const { return true; }
};
using FloatBuffer = std::vector<float, Aligned64<float>>;

struct Buffers {
  FloatBuffer x, r, y, s, gamma, beta;
  Buffers(int64_t rows, int64_t n) : x(size_t(rows * n)), r(x.size()), y(x.size()), s(x.size()), gamma(size_t(n)), beta(size_t(n)) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-1, 1);
    for (auto* v : {&x, &r, &gamma, &beta})
      for (auto& e : *v) e = u(rng);
    std::fill(y.begin(), y.end(), 0.f);  // touch every page before timing
    std::fill(s.begin(), s.end(), 0.f);
  }
};

void finish(benchmark::State& st, const BenchShape& sh, int bytes_per_element) {
  st.SetBytesProcessed(int64_t(st.iterations()) * sh.rows * sh.n * bytes_per_element);
  st.counters["threads"] = omp_get_max_threads();
}

void copy(benchmark::State& st, BenchShape sh) {
  Buffers b(sh.rows, sh.n);
  const int64_t total = sh.rows * sh.n, chunk = 65536, chunks = (total + chunk - 1) / chunk;
  for (auto _ : st) {
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; ++c)
      std::memcpy(b.y.data() + c * chunk, b.x.data() + c * chunk, size_t(std::min(chunk, total - c * chunk)) * 4);
    benchmark::ClobberMemory();
  }
  finish(st, sh, 8);
}

enum class Kind { layer_norm, rms_norm, add_layer_norm };
void norm(benchmark::State& st, Isa isa, Kind kind, BenchShape sh) {
  Buffers b(sh.rows, sh.n);
  kernels::LayerNormArgs a;
  a.x = b.x.data();
  a.y = b.y.data();
  a.gamma = b.gamma.data();
  a.beta = kind == Kind::rms_norm ? nullptr : b.beta.data();
  a.rows = sh.rows;
  a.n = sh.n;
  a.rms = kind == Kind::rms_norm;
  if (kind == Kind::add_layer_norm) {
    a.residual = b.r.data();
    a.sum_out = b.s.data();
  }
  for (auto _ : st) {
    kernels::layer_norm(isa, a);
    benchmark::ClobberMemory();
  }
  finish(st, sh, kind == Kind::add_layer_norm ? 16 : 8);
}

void batch_norm(benchmark::State& st, Isa isa, BenchShape sh) {
  Buffers b(sh.rows, sh.n);
  std::vector<float> scale(size_t(sh.rows), 1.1f), shift(size_t(sh.rows), 0.1f);
  for (auto _ : st) {
    kernels::batch_norm_inference(isa, b.x.data(), b.y.data(), scale.data(), shift.data(), 1, sh.rows, sh.n);
    benchmark::ClobberMemory();
  }
  finish(st, sh, 8);
}

void onednn_layer_norm(benchmark::State& st, BenchShape sh) {
  Buffers b(sh.rows, sh.n);
  auto& eng = kernels::cpu_engine();
  dnnl::memory::desc md({sh.rows, sh.n}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::ab);
  dnnl::memory::desc wd({sh.n}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a);
  dnnl::layer_normalization_forward::desc d(dnnl::prop_kind::forward_inference, md, 1e-5f,
                                            dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift);
  dnnl::layer_normalization_forward::primitive_desc pd(d, eng);
  dnnl::layer_normalization_forward prim(pd);
  dnnl::memory src(md, eng, b.x.data()), dst(md, eng, b.y.data()), sc(wd, eng, b.gamma.data()), sh_(wd, eng, b.beta.data());
  dnnl::stream s(eng);
  for (auto _ : st) {
    prim.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCALE, sc}, {DNNL_ARG_SHIFT, sh_}});
    s.wait();
  }
  finish(st, sh, 8);
}

void onednn_batch_norm(benchmark::State& st, BenchShape sh) {
  Buffers b(sh.rows, sh.n);
  auto& eng = kernels::cpu_engine();
  // 4-D NCHW ([1, C, inner, 1]): the layout oneDNN's optimized batch norm takes.
  dnnl::memory::desc md({1, sh.rows, sh.n, 1}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::abcd);
  dnnl::memory::desc cd({sh.rows}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a);
  using F = dnnl::normalization_flags;
  dnnl::batch_normalization_forward::desc d(dnnl::prop_kind::forward_inference, md, 1e-5f,
                                            F::use_global_stats | F::use_scale | F::use_shift);
  dnnl::batch_normalization_forward::primitive_desc pd(d, eng);
  dnnl::batch_normalization_forward prim(pd);
  std::vector<float> mean(size_t(sh.rows), 0.1f), var(size_t(sh.rows), 1.2f), scale(size_t(sh.rows), 1.1f), shift(size_t(sh.rows), 0.1f);
  dnnl::memory src(md, eng, b.x.data()), dst(md, eng, b.y.data()), m(cd, eng, mean.data()), v(cd, eng, var.data()),
      sc(cd, eng, scale.data()), sf(cd, eng, shift.data());
  dnnl::stream s(eng);
  for (auto _ : st) {
    prim.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_MEAN, m}, {DNNL_ARG_VARIANCE, v},
                     {DNNL_ARG_SCALE, sc}, {DNNL_ARG_SHIFT, sf}});
    s.wait();
  }
  finish(st, sh, 8);
}

void register_all() {
  for (const auto& sh : kShapes) {
    std::string s = sh.name;
    benchmark::RegisterBenchmark(("BM_Copy/" + s).c_str(), copy, sh)->UseRealTime();
    for (Isa isa : {Isa::avx512, Isa::avx2, Isa::scalar}) {
      if (!isa_supported(isa)) continue;
      std::string i = isa_name(isa);
      benchmark::RegisterBenchmark(("BM_LayerNorm/" + i + "/" + s).c_str(), norm, isa, Kind::layer_norm, sh)->UseRealTime();
      benchmark::RegisterBenchmark(("BM_RMSNorm/" + i + "/" + s).c_str(), norm, isa, Kind::rms_norm, sh)->UseRealTime();
      benchmark::RegisterBenchmark(("BM_AddLayerNorm/" + i + "/" + s).c_str(), norm, isa, Kind::add_layer_norm, sh)->UseRealTime();
      benchmark::RegisterBenchmark(("BM_BatchNorm/" + i + "/" + s).c_str(), batch_norm, isa, sh)->UseRealTime();
    }
    benchmark::RegisterBenchmark(("BM_OneDnnLayerNorm/" + s).c_str(), onednn_layer_norm, sh)->UseRealTime();
    benchmark::RegisterBenchmark(("BM_OneDnnBatchNorm/" + s).c_str(), onednn_batch_norm, sh)->UseRealTime();
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
