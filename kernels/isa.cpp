#include "kernels/isa.h"

#include <cstdlib>
#include <stdexcept>

namespace normrt {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "scalar";
  }
}

// __builtin_cpu_supports also checks that the OS saves the registers (XGETBV);
// xsimd 8.1's own check does not.
bool isa_supported(Isa isa) {
  __builtin_cpu_init();
  switch (isa) {
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("fma");
    case Isa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    default:
      return true;
  }
}

Isa best_isa() {
  if (isa_supported(Isa::avx512)) return Isa::avx512;
  if (isa_supported(Isa::avx2)) return Isa::avx2;
  return Isa::scalar;
}

Isa resolve_isa(const std::string& name) {
  std::string n = name;
  if (n.empty() || n == "auto") {
    const char* env = std::getenv("NORMRT_ISA");
    if (!env || !*env || std::string(env) == "auto") return best_isa();
    n = env;
  }
  Isa isa;
  if (n == "avx512") isa = Isa::avx512;
  else if (n == "avx2") isa = Isa::avx2;
  else if (n == "scalar") isa = Isa::scalar;
  else throw std::invalid_argument("unknown ISA '" + n + "' (use auto, avx512, avx2 or scalar)");
  if (!isa_supported(isa)) throw std::invalid_argument(std::string("this CPU does not support ") + n);
  return isa;
}

}  // namespace normrt
