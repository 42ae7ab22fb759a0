// normrt run MODEL [-i [NAME=]PATH]... [-o DIR] [--threads N] [--isa ...] [--no-optimize] [--no-winograd] [--bf16-matmuls] [--iters K]
#include <chrono>
#include <cstdio>
#include <cstring>

#include "tools/cli.h"

namespace normrt::cli {

int cmd_run(int argc, char** argv) {
  std::string out_dir;
  std::vector<std::string> inputs;
  SessionOptions opt;
  int iters = 10;
  Args args(argc, argv);
  while (args.next()) {
    if (args.common(opt, inputs)) continue;
    if (args.is("-o", "--output")) out_dir = args.value();
    else if (args.is("--iters")) iters = int(args.number(0, 100000));
    else args.positional();
  }
  const std::string& model = args.model();

  using clock = std::chrono::steady_clock;
  auto ms = [](clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  auto t0 = clock::now();
  Session s(model, opt);
  auto t1 = clock::now();
  auto in = make_inputs(s, inputs);
  auto t2 = clock::now();
  auto out = s.run(in);
  auto t3 = clock::now();
  std::vector<double> times;
  for (int k = 0; k < iters; ++k) {
    auto a = clock::now();
    s.run(in);
    times.push_back(ms(clock::now() - a));
  }
  if (!out_dir.empty()) write_outputs(out_dir, s, out);

  std::printf("model    %s\n", model.c_str());
  std::printf("isa      %s   threads %d   optimize %s%s\n", isa_name(s.isa()), s.threads(), opt.optimize ? "on" : "off",
              bf16_matmuls_note(s, opt));
  for (size_t k = 0; k < out.size(); ++k)
    std::printf("output %zu '%s'  %s\n", k, s.output_names()[k].c_str(), summary(out[k]).c_str());
  std::printf("latency  load %.2f ms   first run %.3f ms", ms(t1 - t0), ms(t3 - t2));
  if (!times.empty()) std::printf("   median of %d runs %.3f ms", iters, median(times));
  std::printf("\n");
  if (!out_dir.empty()) std::printf("wrote    %s/output_<k>.npy, outputs.json\n", out_dir.c_str());
  return 0;
}

}  // namespace normrt::cli
