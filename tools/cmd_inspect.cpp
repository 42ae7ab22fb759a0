// normrt inspect MODEL [--optimized] [--json]
// The op histogram before and after the graph passes, every rewrite applied,
// and for BatchNorm folding and LayerNorm fusion (and all passes together)
// the largest deviation measured by running the graph before and after on
// the same seeded random input. --optimized also lists the optimized graph's nodes.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "tools/cli.h"

namespace normrt::cli {
namespace {

std::map<std::string, int> histogram(const Graph& g) {
  std::map<std::string, int> h;
  for (auto& n : g.nodes) h[n.domain.empty() ? n.op_type : n.domain + "." + n.op_type]++;
  return h;
}

struct Deviation {
  double abs = 0, rel = 0;
};

Deviation deviation(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  Deviation d;
  for (size_t k = 0; k < a.size(); ++k) {
    if (a[k].dtype != DType::float32 && !narrow_float(a[k].dtype)) continue;
    // (16-bit floats compared as the float32 values they widen to.)
    const Tensor wa = narrow_float(a[k].dtype) ? widened(a[k]) : a[k], wb = narrow_float(b[k].dtype) ? widened(b[k]) : b[k];
    double scale = 1e-30, worst = 0;
    for (int64_t i = 0; i < wa.numel(); ++i) {
      const double x = wa.data<float>()[i], y = wb.data<float>()[i];
      if (std::isnan(x) && std::isnan(y)) continue;
      worst = std::max(worst, std::abs(x - y));
      scale = std::max(scale, std::abs(y));
    }
    d.abs = std::max(d.abs, worst);
    d.rel = std::max(d.rel, worst / scale);
  }
  return d;
}

std::string json_str(const std::string& s) {
  std::string r = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    r += c;
  }
  return r + "\"";
}

std::string json_hist(const std::map<std::string, int>& h) {
  std::string r = "{";
  for (auto& [op, n] : h) r += (r.size() > 1 ? ", " : "") + json_str(op) + ": " + std::to_string(n);
  return r + "}";
}

}  // namespace

int cmd_inspect(int argc, char** argv) {
  bool json = false, list = false;
  Args args(argc, argv);
  while (args.next()) {
    if (args.is("--json")) json = true;
    else if (args.is("--optimized")) list = true;
    else args.positional();
  }
  const std::string& model = args.model();

  SessionOptions plain_opt;
  plain_opt.optimize = false;
  Session plain(model, plain_opt);
  Session optimized(model);
  const auto inputs = make_inputs(plain, {});
  const auto reference = plain.run(inputs);
  const Deviation all = deviation(optimized.run(inputs), reference);

  // Each measured pass alone (every other pass off) against the unoptimized graph.
  std::vector<std::pair<std::string, Deviation>> per_pass;
  for (const char* pass : {"fold_batch_norm", "fuse_layer_norm"}) {
    bool applied = false;
    for (auto& r : optimized.rewrites()) applied = applied || r.pass == pass;
    if (!applied) continue;
    SessionOptions only;
    for (auto& p : all_passes())
      if (std::string(p.name) != pass) only.disabled_passes.insert(p.name);
    Session s(model, only);
    per_pass.push_back({pass, deviation(s.run(inputs), reference)});
  }

  const auto before = histogram(plain.graph()), after = histogram(optimized.graph());
  if (json) {
    std::ostringstream o;
    o << "{\"model\": " << json_str(model) << ", \"isa\": \"" << isa_name(optimized.isa()) << "\", \"nodes_before\": " << plain.graph().nodes.size()
      << ", \"nodes_after\": " << optimized.graph().nodes.size() << ", \"ops_before\": " << json_hist(before)
      << ", \"ops_after\": " << json_hist(after) << ", \"rewrites\": [";
    for (size_t k = 0; k < optimized.rewrites().size(); ++k) {
      auto& r = optimized.rewrites()[k];
      o << (k ? ", " : "") << "{\"pass\": " << json_str(r.pass) << ", \"consumed\": [";
      for (size_t j = 0; j < r.consumed.size(); ++j) o << (j ? ", " : "") << json_str(r.consumed[j]);
      o << "], \"produced\": " << json_str(r.produced) << "}";
    }
    o << "], \"max_abs_diff\": " << all.abs << ", \"max_rel_diff\": " << all.rel << ", \"per_pass\": {";
    for (size_t k = 0; k < per_pass.size(); ++k)
      o << (k ? ", " : "") << json_str(per_pass[k].first) << ": {\"max_abs_diff\": " << per_pass[k].second.abs
        << ", \"max_rel_diff\": " << per_pass[k].second.rel << "}";
    o << "}}\n";
    std::fputs(o.str().c_str(), stdout);
    return 0;
  }
  std::printf("model %s (opset %lld)   isa %s   threads %d\n", model.c_str(),
              static_cast<long long>(plain.graph().opset), isa_name(optimized.isa()), optimized.threads());
  std::printf("nodes %zu before the passes, %zu after\n\n%-36s %8s %8s\n", plain.graph().nodes.size(),
              optimized.graph().nodes.size(), "op", "before", "after");
  std::map<std::string, std::pair<int, int>> rows;
  for (auto& [op, n] : before) rows[op].first = n;
  for (auto& [op, n] : after) rows[op].second = n;
  for (auto& [op, c] : rows) std::printf("%-36s %8d %8d\n", op.c_str(), c.first, c.second);
  std::printf("\nrewrites (%zu)\n", optimized.rewrites().size());
  for (auto& r : optimized.rewrites()) {
    std::string consumed;
    for (auto& c : r.consumed) consumed += (consumed.empty() ? "" : ", ") + c;
    std::printf("  %-22s %s%s%s\n", r.pass.c_str(), consumed.c_str(), r.produced.empty() ? "" : " -> ",
                r.produced.c_str());
  }
  std::printf("\ndeviation from the unoptimized graph (same seeded input)\n");
  for (auto& [pass, d] : per_pass) std::printf("  %-22s max abs %.3g  max rel %.3g\n", pass.c_str(), d.abs, d.rel);
  std::printf("  %-22s max abs %.3g  max rel %.3g\n", "all passes", all.abs, all.rel);
  if (list) {
    std::printf("\noptimized graph\n");
    for (auto& n : optimized.graph().nodes) {
      std::string in, out;
      for (auto& x : n.inputs) in += (in.empty() ? "" : ", ") + x;
      for (auto& x : n.outputs) out += (out.empty() ? "" : ", ") + x;
      std::printf("  %s%s%s (%s) -> %s\n", n.domain.empty() ? "" : (n.domain + ".").c_str(), n.op_type.c_str(),
                  (" '" + n.name + "'").c_str(), in.c_str(), out.c_str());
    }
  }
  return 0;
}

}  // namespace normrt::cli
