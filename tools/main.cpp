// The normrt command.
#include <cstdio>
#include <cstring>

#include "tools/cli.h"

namespace {
const char* kUsage =
    "usage: normrt <command> ...\n"
    "  run MODEL [-i [NAME=]PATH]... [-o DIR] [--threads N] [--isa auto|avx512|avx2|scalar]\n"
    "            [--no-optimize] [--no-winograd] [--bf16-matmuls] [--iters K]\n"
    "  inspect MODEL [--optimized] [--json]\n"
    "  bench MODEL [-i [NAME=]PATH]... [--threads N] [--warmup W] [--iters K | --seconds S] [--isa ...]\n"
    "              [--no-optimize] [--no-winograd] [--bf16-matmuls] [--json]\n"
    "  profile MODEL [-i [NAME=]PATH]... [--threads N] [--isa ...] [--bf16-matmuls] [--iters K] [--trace FILE.json]\n";
}

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  try {
    if (cmd == "run") return normrt::cli::cmd_run(argc - 2, argv + 2);
    if (cmd == "inspect") return normrt::cli::cmd_inspect(argc - 2, argv + 2);
    if (cmd == "bench") return normrt::cli::cmd_bench(argc - 2, argv + 2);
    if (cmd == "profile") return normrt::cli::cmd_profile(argc - 2, argv + 2);
    throw normrt::cli::UsageError("unknown command '" + cmd + "'");
  } catch (const normrt::cli::UsageError& e) {
    std::fprintf(stderr, "normrt %s: %s\n%s", cmd.c_str(), e.what(), kUsage);
    return 2;
  } catch (const normrt::Error& e) {
    std::fprintf(stderr, "normrt: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "normrt: error: %s\n", e.what());
    return 1;
  }
}
