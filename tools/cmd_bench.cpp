// normrt bench MODEL [-i [NAME=]PATH]... [--threads N] [--warmup W] [--iters K | --seconds S]
//                    [--isa ...] [--no-optimize] [--no-winograd] [--bf16-matmuls] [--json]
// Load time, first-run time, then median/p90/p99/min latency and runs/s over
// the timed runs, peak RSS, ISA and threads.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "tools/cli.h"

namespace normrt::cli {
namespace {

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t k = size_t(std::ceil(p * double(v.size()))) - 1;
  return v[std::min(k, v.size() - 1)];
}

// This process's own peak resident set (VmHWM). Not getrusage's ru_maxrss:
// Linux carries that over from the parent across exec, so a benchmark
// launched by a large script would report the script's size.
double peak_rss_mb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;  // kB
  return 0;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// CPU the process burns while idle between requests (worker threads that
// keep spinning), as a percentage of one core, over 200 ms after a run.
double idle_cpu_percent(const Session& s, const std::vector<Tensor>& in) {
  s.run(in);
  const double before = cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  return 100.0 * (cpu_seconds() - before) / 0.2;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  std::vector<std::string> inputs;
  SessionOptions opt;
  int warmup = 10, iters = 0;
  double seconds = 0;
  bool json = false;
  Args args(argc, argv);
  while (args.next()) {
    if (args.common(opt, inputs)) continue;
    if (args.is("--warmup")) warmup = int(args.number(0, 1e6));
    else if (args.is("--iters")) iters = int(args.number(1, 1e7));
    else if (args.is("--seconds")) seconds = args.number(0.001, 3600);
    else if (args.is("--json")) json = true;
    else args.positional();
  }
  const std::string& model = args.model();
  if (iters == 0 && seconds == 0) seconds = 3;

  using clock = std::chrono::steady_clock;
  auto ms = [](clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  const auto t0 = clock::now();
  Session s(model, opt);
  const double load_ms = ms(clock::now() - t0);
  const auto in = make_inputs(s, inputs);
  const auto t1 = clock::now();
  s.run(in);
  const double first_ms = ms(clock::now() - t1);
  for (int k = 0; k < warmup; ++k) s.run(in);

  std::vector<double> times;
  const auto start = clock::now();
  auto last_report = start;
  while (iters ? int(times.size()) < iters : ms(clock::now() - start) < seconds * 1000) {
    const auto a = clock::now();
    s.run(in);
    times.push_back(ms(clock::now() - a));
    if (!json && ms(clock::now() - last_report) > 500) {
      last_report = clock::now();
      std::fprintf(stderr, "\r%zu runs, median so far %.3f ms   ", times.size(), median(times));
    }
  }
  if (!json) std::fprintf(stderr, "\r%60s\r", "");
  const double total_s = ms(clock::now() - start) / 1000;
  const double idle = idle_cpu_percent(s, in);
  const double med = median(times), p90 = percentile(times, 0.9), p99 = percentile(times, 0.99),
               mn = *std::min_element(times.begin(), times.end());
  if (json) {
    std::printf(
        "{\"model\": \"%s\", \"load_ms\": %.3f, \"first_run_ms\": %.3f, \"median_ms\": %.4f, \"p90_ms\": %.4f, "
        "\"p99_ms\": %.4f, \"min_ms\": %.4f, \"runs\": %zu, \"runs_per_s\": %.2f, \"threads\": %d, \"isa\": \"%s\", "
        "\"optimize\": %s, \"bf16_matmuls\": %s, \"peak_rss_mb\": %.1f, \"idle_cpu_percent\": %.1f}\n",
        model.c_str(), load_ms, first_ms, med, p90, p99, mn, times.size(), double(times.size()) / total_s, s.threads(),
        isa_name(s.isa()), opt.optimize ? "true" : "false", s.bf16_matmuls() ? "true" : "false", peak_rss_mb(), idle);
    return 0;
  }
  std::printf("model      %s\n", model.c_str());
  std::printf("isa        %s   threads %d   optimize %s%s\n", isa_name(s.isa()), s.threads(), opt.optimize ? "on" : "off",
              bf16_matmuls_note(s, opt));
  std::printf("load       %.2f ms   first run %.3f ms\n", load_ms, first_ms);
  std::printf("latency    median %.3f ms   p90 %.3f   p99 %.3f   min %.3f   (%zu runs, %.1f runs/s)\n", med, p90, p99,
              mn, times.size(), double(times.size()) / total_s);
  std::printf("peak RSS   %.1f MB   idle CPU after a run %.1f%% of a core\n", peak_rss_mb(), idle);
  return 0;
}

}  // namespace normrt::cli
