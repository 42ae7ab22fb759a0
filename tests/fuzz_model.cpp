// libFuzzer target: any bytes as an ONNX model. Loading it and one run on
// small inputs of the declared types must end in outputs or a normrt::Error;
// a crash, a sanitizer report or any other exception is a defect.
//
//   cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DNORMRT_FUZZ=ON -DNORMRT_BENCH=OFF
//   cmake --build build-fuzz --target fuzz_model
//   /usr/bin/python3 tests/fuzz_seeds.py build-fuzz/seeds
//   build-fuzz/tests/fuzz_model -fork=2 -max_total_time=600 -max_len=8192 build-fuzz/corpus build-fuzz/seeds build/onnx_node_tests
//
// Seeds: the ONNX conformance models (build/onnx_node_tests, written by the
// test suite; one small node of each op) and tests/fuzz_seeds.py's few-node
// models that reach each rewrite. Each finding becomes a regression test in
// tests/test_errors.cpp.
#include <cstdint>
#include <vector>

#include "runtime/session.h"

using namespace normrt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    SessionOptions options;
    options.threads = 1;
    // A few bytes can ask for terabytes (a ConstantOfShape of a huge shape):
    // refused as an Error, as a server taking untrusted models would set it,
    // so ASan's own out-of-memory report does not end the run.
    options.max_tensor_bytes = size_t(64) << 20;
    options.max_loop_iterations = 1000;  // (a Loop's own condition may never end it)
    Session s(data, size, options);
    std::vector<Tensor> inputs;
    for (const auto& name : s.input_names()) {
      const ValueType& t = s.input_type(name);
      Shape dims = t.dims;
      int64_t elements = 1;
      for (int64_t& d : dims) {
        if (d < 0) d = 2;  // a dynamic dim
        if (d > (1 << 16) || (elements *= d) > (1 << 16)) return 0;  // checked per dim: no overflow
      }
      inputs.emplace_back(t.dtype, dims);  // zeros: in range for any index input
    }
    s.run(inputs);
  } catch (const Error&) {
  }
  return 0;
}
