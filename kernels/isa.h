#pragma once
// Instruction-set dispatch. Every SIMD family is compiled once per ISA; the
// ISA is chosen once (at Session creation) from what the CPU and OS support,
// or forced with NORMRT_ISA / --isa.
#include <string>

namespace normrt {

enum class Isa { scalar = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);
// The best ISA this CPU (and OS) can run.
Isa best_isa();
// "auto" -> NORMRT_ISA if set, else best_isa(); otherwise the named ISA.
// Throws std::invalid_argument for an unknown name or an ISA the CPU lacks.
Isa resolve_isa(const std::string& name);
bool isa_supported(Isa isa);

}  // namespace normrt

// Selects a family's table compiled for `isa`: each generated translation
// unit defines normrt::kernels::<isa>::<name>.
#define NORMRT_ISA_TABLE(Type, name)                              \
  namespace avx512 { extern const Type name; }                    \
  namespace avx2 { extern const Type name; }                      \
  namespace scalar { extern const Type name; }                    \
  inline const Type& name##_for(Isa isa) {                        \
    return isa == Isa::avx512 ? avx512::name : isa == Isa::avx2 ? avx2::name : scalar::name; \
  }
