// normrt profile MODEL [-i ...] [--threads N] [--isa ...] [--bf16-matmuls] [--iters K] [--trace FILE.json]
// Per kernel of the plan (after the passes): op, the kernel that runs it
// (oneDNN's implementation and layouts, or normrt's own at its ISA), shapes, median time,
// share of the total, and achieved GFLOP/s (convolutions, matmuls with more
// FLOPs per byte than the machine's peak over its bandwidth) or GB/s
// (everything else) as a fraction of the machine's limits measured at start
// (peak FMA throughput; copy bandwidth at the footprint of the kernel's
// bytes, so a kernel on cached data is held to the cache's speed).
#include <algorithm>
#include <cstdio>
#include <fstream>

#include "kernels/machine_limits.h"
#include "tools/cli.h"

namespace normrt::cli {
namespace {

std::string shapes_str(const std::vector<Shape>& shapes) {
  std::string r;
  for (auto& s : shapes) {
    if (!r.empty()) r += ' ';
    r += shape_str(s);
  }
  return r;
}

std::string bytes_str(double b) {
  char s[32];
  if (b >= double(1 << 20)) std::snprintf(s, sizeof s, "%.0f MB", b / double(1 << 20));
  else std::snprintf(s, sizeof s, "%.0f KB", b / 1024);
  return s;
}

}  // namespace

int cmd_profile(int argc, char** argv) {
  std::string trace;
  std::vector<std::string> inputs;
  SessionOptions opt;
  int iters = 50;
  Args args(argc, argv);
  while (args.next()) {
    if (args.common(opt, inputs)) continue;
    if (args.is("--iters")) iters = int(args.number(1, 1e6));
    else if (args.is("--trace")) trace = args.value();
    else args.positional();
  }
  const std::string& model = args.model();

  Session s(model, opt);
  const auto in = make_inputs(s, inputs);
  const double peak_gflops = kernels::measure_fma_gflops(s.isa(), s.threads());
  const auto copy = kernels::measure_copy_levels(s.threads());
  for (int k = 0; k < 5; ++k) s.run(in);  // warm up
  const auto steps = s.profile(in, iters);

  double total = 0;
  std::vector<double> med(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) total += (med[i] = median(steps[i].seconds));
  std::vector<size_t> order(steps.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return med[a] > med[b]; });

  std::printf("model %s   isa %s   threads %d   %zu kernels per run, %.3f ms summed (median per kernel, %d runs)\n",
              model.c_str(), isa_name(s.isa()), s.threads(), steps.size(), total * 1e3, iters);
  std::printf("machine limits (measured now): FMA peak %.1f GFLOP/s; copy bandwidth by bytes touched:", peak_gflops);
  for (const auto& l : copy) std::printf(" %s %.1f GB/s", bytes_str(double(l.footprint)).c_str(), l.gbps);
  std::printf("\n(a memory-bound kernel is held to the smallest of these that holds the bytes it reads and writes: "
              "\"of max\" names it)\n\n");
  std::printf("%-24s %-40s %10s %7s %14s %12s  %-44s %s\n", "op", "node", "median ms", "share", "achieved", "of max",
              "kernel", "shapes (in -> out)");
  for (size_t i : order) {
    const auto& st = steps[i];
    const double t = med[i];
    char achieved[64], frac[32];
    const auto& level = kernels::copy_level_for(copy, st.bytes);
    // A kernel with fewer FLOPs per byte than the peak over the bandwidth
    // (a one-row product, a depthwise convolution) is bound by memory.
    if (st.flops > 0 && st.flops >= st.bytes * peak_gflops / level.gbps) {
      std::snprintf(achieved, sizeof achieved, "%.1f GFLOP/s", st.flops / t / 1e9);
      std::snprintf(frac, sizeof frac, "%.0f%%", 100 * st.flops / t / 1e9 / peak_gflops);
    } else {
      std::snprintf(achieved, sizeof achieved, "%.1f GB/s", st.bytes / t / 1e9);
      std::snprintf(frac, sizeof frac, "%.0f%% @%s", 100 * st.bytes / t / 1e9 / level.gbps,
                    bytes_str(double(level.footprint)).c_str());
    }
    std::string op = st.domain.empty() ? st.op : st.domain + "." + st.op;
    std::string name = st.name.size() > 40 ? "..." + st.name.substr(st.name.size() - 37) : st.name;
    std::printf("%-24s %-40s %10.4f %6.1f%% %14s %12s  %-44s %s -> %s\n", op.c_str(), name.c_str(), t * 1e3,
                100 * t / std::max(total, 1e-12), achieved, frac, st.implementation.c_str(),
                shapes_str(st.in_shapes).c_str(), shapes_str(st.out_shapes).c_str());
  }
  if (s.bf16_matmuls())
    std::printf("\nProducts in bfloat16 (bf16, --bf16-matmuls) are held to the float32 FMA peak, so they can pass "
                "100%%.\n");
  else if (opt.bf16_matmuls)
    std::printf("\n--bf16-matmuls: no bfloat16 products on this CPU; every product ran in float32.\n");
  for (const auto& st : steps)
    if (st.implementation.find("wino") != std::string::npos) {
      std::printf("\nWinograd convolutions (wino) are credited the direct algorithm's FLOPs, so they can show more "
                  "than 100%% of the FMA peak.\n");
      break;
    }
  if (!trace.empty()) {
    // Chrome trace (Perfetto opens it): one complete event per kernel per run, back to back.
    std::ofstream f(trace);
    f << "{\"traceEvents\": [";
    double ts = 0;
    bool first = true;
    for (int k = 0; k < iters; ++k) {
      for (const auto& st : steps) {
        if (size_t(k) >= st.seconds.size()) continue;  // a step of a plan not every run used
        const double dur = st.seconds[size_t(k)] * 1e6;
        f << (first ? "" : ",\n") << "{\"name\": \"" << st.op << "\", \"cat\": \"" << st.domain << "\", \"ph\": \"X\", "
          << "\"ts\": " << ts << ", \"dur\": " << dur << ", \"pid\": 1, \"tid\": 1, \"args\": {\"node\": \"";
        for (char c : st.name) f << (c == '"' || c == '\\' ? "_" : std::string(1, c));
        f << "\", \"run\": " << k << "}}";
        ts += dur;
        first = false;
      }
    }
    f << "]}\n";
    if (!f) throw Error(trace + ": cannot write the trace");
    std::printf("\ntrace written to %s\n", trace.c_str());
  }
  return 0;
}

}  // namespace normrt::cli
