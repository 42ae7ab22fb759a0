// Real models exported by torch.onnx.export (tests/fixtures/export_models.py)
// against PyTorch's own outputs, with and without the graph rewrites, on
// every ISA and with 1 and 2 threads.
#include <gtest/gtest.h>

#include <filesystem>

#include <cstdlib>

#include "runtime/session.h"
#include "runtime/tensor_io.h"
#include "tests/test_util.h"

namespace normrt {
namespace {

int count_ops(const Graph& g, const std::string& op) {
  int n = 0;
  for (auto& node : g.nodes) n += node.op_type == op;
  return n;
}

void check_model(const std::string& base, bool all_isas, double tolerance = 1e-4) {
  Tensor x = read_npy(base + ".input.npy"), want = read_npy(base + ".output.npy");
  std::vector<Isa> isas = all_isas ? test::machine_isas() : std::vector<Isa>{best_isa()};
  for (Isa isa : isas)
    for (bool optimize : {true, false})
      for (int threads : {1, 2}) {
        SessionOptions o;
        o.isa = isa_name(isa);
        o.optimize = optimize;
        o.threads = threads;
        Session s(base + ".onnx", o);
        if (optimize) EXPECT_EQ(count_ops(s.graph(), "BatchNormalization"), 0) << base << ": BN left after folding";
        else EXPECT_GT(count_ops(s.graph(), "BatchNormalization"), 0) << base << ": exported without BN nodes";
        auto out = s.run(std::vector<Tensor>{x});
        ASSERT_EQ(out.size(), 1u);
        ASSERT_EQ(out[0].shape, want.shape);
        EXPECT_LE(test::max_rel_diff(out[0], want), tolerance)
            << base << " isa " << isa_name(isa) << " optimize " << optimize << " threads " << threads;
      }
}

TEST(Models, ResNetBasicBlockMatchesPyTorch) { check_model(test::fixture("models/resnet_basic"), true); }
TEST(Models, ResNetBottleneckMatchesPyTorch) { check_model(test::fixture("models/resnet_bottleneck"), true); }
TEST(Models, MobileNetV2MatchesPyTorch) { check_model(test::fixture("models/mobilenet_v2_small"), true); }
TEST(Models, ActivationsAndUnaryMathMatchPyTorch) { check_model(test::fixture("models/activations"), true); }
TEST(Models, UpsamplingMatchesPyTorch) { check_model(test::fixture("models/upsampling"), true); }
TEST(Models, RearrangingAndIndexingOpsMatchPyTorch) { check_model(test::fixture("models/rearrange"), true); }
TEST(Models, RecurrentLayersMatchPyTorch) { check_model(test::fixture("models/recurrent"), true); }
TEST(Models, EinsumAttentionMatchesPyTorch) { check_model(test::fixture("models/einsum"), true); }
TEST(Models, GridSamplingMatchesPyTorch) { check_model(test::fixture("models/sampling"), true); }
TEST(Models, DetectionPostProcessingMatchesPyTorch) { check_model(test::fixture("models/detection"), true); }
// A float16 model (weights, input and output float16; see to_narrow in
// export_models.py), held as float32: PyTorch's float32 output from the same
// float16 values, rounded to float16; each element within one float16 step.
TEST(Models, Float16ModelMatchesPyTorch) {
  const std::string base = test::fixture("models/resnet_half");
  check_model(base, true, 1e-3);
  Session s(base + ".onnx");
  Tensor x = read_npy(base + ".input.npy"), want = read_npy(base + ".output.npy");
  ASSERT_EQ(x.dtype, DType::float16);
  auto out = s.run(std::vector<Tensor>{x});
  ASSERT_EQ(out[0].dtype, DType::float16);
  EXPECT_EQ(test::compare(out[0], want, 1.0 / 1024, 6e-8), "");
}
// A bfloat16 model, as the float16 one: PyTorch's float32 output from the
// same bfloat16 values, rounded to bfloat16 by PyTorch (the .npy files hold
// bfloat16 values as float32, numpy having no bfloat16); the input is given
// as float32, which a bfloat16 input takes; each element within one step.
TEST(Models, BFloat16ModelMatchesPyTorch) {
  const std::string base = test::fixture("models/resnet_bf16");
  check_model(base, true, 1.0 / 128);
  Session s(base + ".onnx");
  Tensor x = read_npy(base + ".input.npy"), want = read_npy(base + ".output.npy");
  ASSERT_EQ(x.dtype, DType::float32);
  auto out = s.run(std::vector<Tensor>{x});
  ASSERT_EQ(out[0].dtype, DType::bfloat16);
  EXPECT_EQ(test::compare(widened(out[0]), want, 1.0 / 128, 1e-38), "");
  Tensor x16 = narrowed(x, DType::bfloat16);  // the same values given as bfloat16
  auto out16 = s.run(std::vector<Tensor>{x16});
  EXPECT_EQ(out16[0].bytes, out[0].bytes);
}
TEST(Models, ScriptedBranchesMatchPyTorch) { check_model(test::fixture("models/branching"), true); }
TEST(Models, ScriptedLoopMatchesPyTorch) { check_model(test::fixture("models/looping"), true); }

// Transformer fixtures (tests/fixtures/export_transformers.py): inputs and
// PyTorch's output stored per sequence length as <model>.seq<S>.<input>.npy.
std::vector<Tensor> seq_inputs(const Session& s, const std::string& base, int seq) {
  std::vector<Tensor> in;
  for (auto& name : s.input_names()) in.push_back(read_npy(base + ".seq" + std::to_string(seq) + "." + name + ".npy"));
  return in;
}

// `layer_norms`: how many LayerNorm layers the PyTorch module has; after the
// passes each is one LayerNormalization (or Add+LayerNorm) node, and no
// decomposed ReduceMean is left.
void check_transformer(const std::string& name, int layer_norms) {
  const std::string base = test::fixture("models/" + name);
  const Tensor want = read_npy(base + ".seq7.output.npy");
  for (bool optimize : {true, false})
    for (int threads : {1, 2}) {
      SessionOptions o;
      o.optimize = optimize;
      o.threads = threads;
      Session s(base + ".onnx", o);
      auto out = s.run(seq_inputs(s, base, 7));
      ASSERT_EQ(out[0].shape, want.shape);
      if (optimize) {
        // The matmul weights' plain bytes go once packed: the packed copies
        // served this run. (Unoptimized, most weights reach their products
        // through a Transpose step and stay.)
        int released = 0;
        for (auto& [w, t] : s.graph().initializers) released += t->numel() > 0 && t->bytes.empty();
        EXPECT_GE(released, 6) << name;  // each layer's qkv, linear1 and linear2 (2 layers)
        EXPECT_EQ(count_ops(s.graph(), "ReduceMean"), 0) << name;
        EXPECT_EQ(count_ops(s.graph(), "LayerNormalization") + count_ops(s.graph(), "AddLayerNormalization"), layer_norms)
            << name;
      }
      EXPECT_LE(test::max_rel_diff(out[0], want), 1e-4) << name << " optimize " << optimize << " threads " << threads;
    }
}

// SessionOptions::bf16_matmuls on the transformers, against PyTorch's
// float32 outputs: bfloat16 operands move them by about its precision (the
// bound is 2^-7 of the largest output; they measured 1.1-3.9e-3), where the
// CPU multiplies bfloat16; elsewhere the option is ignored and they match as
// float32 does.
TEST(Models, TransformersWithBf16MatmulsStayNearPyTorch) {
  int cases = 0;
  for (const char* name : {"encoder_gelu_post_op17", "encoder_relu_pre_op13", "bert_op17"}) {
    const std::string base = test::fixture(std::string("models/") + name);
    SessionOptions o;
    o.bf16_matmuls = true;
    Session s(base + ".onnx", o);
    for (int seq : {7, 64}) {
      if (!std::filesystem::exists(base + ".seq" + std::to_string(seq) + ".output.npy")) continue;
      const Tensor want = read_npy(base + ".seq" + std::to_string(seq) + ".output.npy");
      auto out = s.run(seq_inputs(s, base, seq));
      const double d = test::max_rel_diff(out[0], want);
      std::printf("%s seq %d: bf16 matmuls %s, max diff / max output %.2e\n", name, seq, s.bf16_matmuls() ? "on" : "off", d);
      EXPECT_LE(d, s.bf16_matmuls() ? 1.0 / 128 : 1e-4) << name << " seq " << seq;
      ++cases;
    }
  }
  EXPECT_EQ(cases, 4);  // seq 7 of each, and bert's seq 64
}

TEST(Models, TransformerEncoderGeluPostNormOpset13) { check_transformer("encoder_gelu_post_op13", 4); }
TEST(Models, TransformerEncoderGeluPostNormOpset17) { check_transformer("encoder_gelu_post_op17", 4); }
TEST(Models, TransformerEncoderReluPreNormOpset13) { check_transformer("encoder_relu_pre_op13", 4); }
TEST(Models, TransformerEncoderReluPreNormOpset17) { check_transformer("encoder_relu_pre_op17", 4); }
TEST(Models, BertStyleEncoderOpset13) { check_transformer("bert_op13", 5); }
TEST(Models, BertStyleEncoderOpset17) { check_transformer("bert_op17", 5); }

// One loaded Session answers every sequence length, planning each once.
TEST(Models, OneSessionAnswersSequenceLengths1To384) {
  const std::string base = test::fixture("models/encoder_gelu_post_op13");
  for (bool optimize : {true, false}) {
    SessionOptions o;
    o.optimize = optimize;
    Session s(base + ".onnx", o);
    for (int round = 0; round < 2; ++round)
      for (int seq : {1, 7, 64, 384}) {
        auto out = s.run(seq_inputs(s, base, seq));
        EXPECT_LE(test::max_rel_diff(out[0], read_npy(base + ".seq" + std::to_string(seq) + ".output.npy")), 1e-4)
            << "seq " << seq << " optimize " << optimize;
      }
    EXPECT_EQ(s.plans_held(), 4u);
  }
}

// Full-size torchvision models at 1x3x224x224, exported at test time (ctest's
// full_models_export); the folder comes in NORMRT_FULL_MODELS.
TEST(FullModels, Resnet18Resnet50MobilenetV2MatchPyTorch) {
  const char* dir = std::getenv("NORMRT_FULL_MODELS");
  ASSERT_NE(dir, nullptr) << "run through ctest (full_models), which exports the models first";
  for (const char* name : {"resnet18", "resnet50", "mobilenet_v2"}) check_model(std::string(dir) + "/" + name, false);
}

}  // namespace
}  // namespace normrt
