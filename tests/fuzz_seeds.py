#!/usr/bin/python3
"""Small seed models for tests/fuzz_model.cpp, one per rewrite the passes make
(the ONNX conformance models have one node each, so they never reach the
pattern matchers):

    /usr/bin/python3 tests/fuzz_seeds.py build-fuzz/seeds

Each is a few nodes with tiny weights, so the fuzzer's mutations land in the
graph rather than in weight bytes.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(0)


def const(name, shape):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def scalar(name, v, dtype=np.float32):
    return numpy_helper.from_array(np.array(v, dtype=dtype), name)


def ints(name, v):
    return numpy_helper.from_array(np.array(v, dtype=np.int64), name)


def model(nodes, inits, x_shape, y="y", opset=13, inputs=None):
    ins = inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)]
    g = helper.make_graph(nodes, "seed", ins, [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


N = helper.make_node


def decomposed_layer_norm():
    nodes = [N("ReduceMean", ["x"], ["m"], axes=[-1]), N("Sub", ["x", "m"], ["d"]), N("Pow", ["d", "two"], ["p"]),
             N("ReduceMean", ["p"], ["v"], axes=[-1]), N("Add", ["v", "eps"], ["ve"]), N("Sqrt", ["ve"], ["s"]),
             N("Div", ["d", "s"], ["n"]), N("Mul", ["n", "g"], ["ng"]), N("Add", ["ng", "b"], ["y"])]
    return model(nodes, [scalar("two", 2.0), scalar("eps", 1e-5), const("g", [4]), const("b", [4])], [2, 3, 4])


def rms_norm():
    nodes = [N("Pow", ["x", "two"], ["p"]), N("ReduceMean", ["p"], ["v"], axes=[-1]), N("Add", ["v", "eps"], ["ve"]),
             N("Sqrt", ["ve"], ["s"]), N("Reciprocal", ["s"], ["r"]), N("Mul", ["x", "r"], ["n"]),
             N("Mul", ["n", "g"], ["y"])]
    return model(nodes, [scalar("two", 2.0), scalar("eps", 1e-6), const("g", [4])], [2, 3, 4])


def gelu_erf():
    nodes = [N("Div", ["x", "sqrt2"], ["a"]), N("Erf", ["a"], ["e"]), N("Add", ["e", "one"], ["o"]),
             N("Mul", ["x", "o"], ["h"]), N("Mul", ["h", "half"], ["y"])]
    return model(nodes, [scalar("sqrt2", 1.4142135), scalar("one", 1.0), scalar("half", 0.5)], [2, 4])


def conv_bn_relu():
    nodes = [N("Conv", ["x", "w", "cb"], ["c"], pads=[1, 1, 1, 1]),
             N("BatchNormalization", ["c", "s", "bb", "mu", "var"], ["n"]), N("Relu", ["n"], ["r"]),
             N("MaxPool", ["r"], ["y"], kernel_shape=[2, 2], strides=[2, 2])]
    var = numpy_helper.from_array(np.abs(rng.standard_normal(4)).astype(np.float32) + 0.5, "var")
    return model(nodes, [const("w", [4, 2, 3, 3]), const("cb", [4]), const("s", [4]), const("bb", [4]),
                         const("mu", [4]), var], [1, 2, 4, 4])


def residual_add_layer_norm():
    nodes = [N("MatMul", ["x", "w"], ["m"]), N("Add", ["m", "bias"], ["mb"]), N("Add", ["mb", "x"], ["r"]),
             N("LayerNormalization", ["r", "g", "b"], ["y"], axis=-1, epsilon=1e-5)]
    return model(nodes, [const("w", [4, 4]), const("bias", [4]), const("g", [4]), const("b", [4])], [1, 3, 4],
                 opset=17)


def attention():
    # q, k, v from one projection, heads split by Reshape/Transpose, scaled scores, masked softmax.
    nodes = [N("MatMul", ["x", "w"], ["qkv"]), N("Split", ["qkv"], ["q", "k", "v"], axis=-1),
             N("Reshape", ["q", "heads"], ["q4"]), N("Transpose", ["q4"], ["qt"], perm=[0, 2, 1, 3]),
             N("Reshape", ["k", "heads"], ["k4"]), N("Transpose", ["k4"], ["kt"], perm=[0, 2, 3, 1]),
             N("Reshape", ["v", "heads"], ["v4"]), N("Transpose", ["v4"], ["vt"], perm=[0, 2, 1, 3]),
             N("MatMul", ["qt", "kt"], ["s"]), N("Div", ["s", "scale"], ["ss"]), N("Add", ["ss", "mask"], ["sm"]),
             N("Softmax", ["sm"], ["p"], axis=-1), N("MatMul", ["p", "vt"], ["o"]),
             N("Transpose", ["o"], ["ot"], perm=[0, 2, 1, 3]), N("Reshape", ["ot", "merged"], ["y"])]
    inits = [const("w", [4, 12]), ints("heads", [1, 3, 2, 2]), scalar("scale", 1.4142135),
             const("mask", [1, 1, 1, 3]), ints("merged", [1, 3, 4])]
    return model(nodes, inits, [1, 3, 4])


def gemm_chain():
    nodes = [N("Flatten", ["x"], ["f"]), N("Gemm", ["f", "w", "c"], ["g"], transB=1, alpha=0.5),
             N("Mul", ["g", "k"], ["gk"]), N("Identity", ["gk"], ["y"])]
    return model(nodes, [const("w", [3, 8]), const("c", [3]), scalar("k", 2.0)], [1, 2, 4])


def winograd_residual():
    # 16-channel 3x3 convolutions (Winograd on AVX-512) with weights made by
    # ConstantOfShape, so the seed stays small; a strided one after (brgemm).
    fill = helper.make_tensor("v", TensorProto.FLOAT, [1], [0.01])
    nodes = [N("ConstantOfShape", ["wshape"], ["w"], value=fill),
             N("Conv", ["x", "w"], ["c1"], pads=[1, 1, 1, 1]), N("Relu", ["c1"], ["r1"]),
             N("Conv", ["r1", "w"], ["c2"], pads=[1, 1, 1, 1]), N("Add", ["c2", "r1"], ["s"]), N("Relu", ["s"], ["r2"]),
             N("Conv", ["r2", "w"], ["y"], pads=[1, 1, 1, 1], strides=[2, 2])]
    return model(nodes, [ints("wshape", [16, 16, 3, 3])], [1, 16, 6, 6])


def wide_layer_norm():
    # Rows over 2048 wide take the grouped, column-chunked path.
    fill = helper.make_tensor("v", TensorProto.FLOAT, [1], [1.5])
    nodes = [N("ConstantOfShape", ["gshape"], ["g"], value=fill),
             N("LayerNormalization", ["x", "g", "g"], ["y"], axis=-1, epsilon=1e-5)]
    return model(nodes, [ints("gshape", [2100])], [9, 2100], opset=17)


def repeated_work():
    # Two layers rebuild one mask and scale one input alike (a plan runs each
    # once); softmaxes over two views of x that share its buffer must not be.
    nodes = [N("Unsqueeze", ["x", "ax1"], ["u1"]), N("Unsqueeze", ["x", "ax2"], ["u2"]),
             N("Softmax", ["u1"], ["s1"], axis=-1), N("Softmax", ["u2"], ["s2"], axis=-1),
             N("Mul", ["x", "two_a"], ["m1"]), N("Mul", ["x", "two_b"], ["m2"]),
             N("Where", ["mask", "ninf", "zero"], ["w1"]), N("Where", ["mask", "ninf", "zero"], ["w2"]),
             N("Add", ["m1", "w1"], ["a1"]), N("Add", ["m2", "w2"], ["a2"]),
             N("Sub", ["a1", "a2"], ["d"]), N("Add", ["d", "s1"], ["e"]), N("Add", ["e", "s2"], ["y0"]),
             N("Relu", ["y0"], ["y"])]
    inits = [ints("ax1", [1]), ints("ax2", [2]), scalar("two_a", 2.0), scalar("two_b", 2.0),
             numpy_helper.from_array(np.array([[True, False, True]]), "mask"), scalar("ninf", -1e30),
             scalar("zero", 0.0)]
    return model(nodes, inits, [3, 3], opset=13)


def pad_and_activations():
    # Pad's modes and crop (the conformance models pad one way each), into
    # the newer activations and a three-input Max.
    nodes = [N("Pad", ["x", "p1"], ["a"], mode="reflect"), N("Pad", ["a", "p2", "v"], ["b"], mode="constant"),
             N("Pad", ["b", "p3"], ["c"], mode="edge"), N("Elu", ["c"], ["e"], alpha=0.5),
             N("PRelu", ["c", "slope"], ["f"]), N("Softplus", ["e"], ["g"]), N("Max", ["e", "f", "g"], ["h"]),
             N("Sin", ["h"], ["y"])]
    inits = [ints("p1", [0, 1, 2, 0, 1, 1]), ints("p2", [0, -1, 1, 0, 0, -2]), scalar("v", 0.5),
             ints("p3", [1, 0, 0, 0, 2, 1]), const("slope", [1, 1])]
    return model(nodes, inits, [2, 3, 4], opset=13)


def resize_modes():
    # Nearest, linear and cubic passes over two dims, from scales and from sizes.
    nodes = [N("Resize", ["x", "", "s1"], ["a"], mode="nearest", coordinate_transformation_mode="asymmetric",
               nearest_mode="floor"),
             N("Resize", ["a", "", "", "z1"], ["b"], mode="linear", coordinate_transformation_mode="align_corners"),
             N("Resize", ["b", "", "", "z2"], ["y"], mode="cubic", exclude_outside=1)]
    inits = [numpy_helper.from_array(np.array([1, 1, 2, 1.5], dtype=np.float32), "s1"), ints("z1", [1, 2, 5, 7]),
             ints("z2", [1, 2, 3, 4])]
    return model(nodes, inits, [1, 2, 3, 4], opset=13)


def index_ops():
    # Writes and selections driven by index tensors: the fuzzer's mutations of
    # the indices and shapes land in their checks.
    nodes = [N("TopK", ["x", "k"], ["v", "i"], axis=1), N("ScatterElements", ["x", "i", "v"], ["s"], axis=1),
             N("ScatterND", ["s", "nd", "row"], ["t"]), N("OneHot", ["i", "depth", "onoff"], ["o"], axis=-1),
             N("ReduceSum", ["o", "ax"], ["os"], keepdims=0), N("Add", ["t", "os"], ["y"])]
    inits = [ints("k", [2]), ints("nd", [[1]]), const("row", [1, 4]), scalar("depth", 4, np.int64),
             numpy_helper.from_array(np.array([0.0, 0.5], dtype=np.float32), "onoff"), ints("ax", [1])]
    return model(nodes, inits, [2, 4], opset=13)


def recurrent():
    # An LSTM (bidirectional, lengths, peepholes) into a GRU and an RNN: the
    # mutations land in their shapes, lengths and attributes.
    T, B, I, H = 3, 2, 2, 2
    lens = numpy_helper.from_array(np.array([3, 1], dtype=np.int32), "lens")
    nodes = [N("LSTM", ["x", "lw", "lr", "lb", "lens", "", "", "lp"], ["ly"], direction="bidirectional", hidden_size=H,
               clip=2.0),
             N("Reshape", ["ly", "shape"], ["l2"]),
             N("GRU", ["l2", "gw", "gr", "gb", "lens"], ["gy"], direction="reverse", hidden_size=H),
             N("Squeeze", ["gy", "one"], ["g2"]),
             N("RNN", ["g2", "rw", "rr"], ["ry", "y"], hidden_size=H, activations=["LeakyRelu"], activation_alpha=[0.1])]
    inits = [const("lw", [2, 4 * H, I]), const("lr", [2, 4 * H, H]), const("lb", [2, 8 * H]), lens, const("lp", [2, 3 * H]),
             ints("shape", [T, B, 2 * H]), const("gw", [1, 3 * H, 2 * H]), const("gr", [1, 3 * H, H]),
             const("gb", [1, 6 * H]), ints("one", [1]), const("rw", [1, H, H]), const("rr", [1, H, H])]
    return model(nodes, inits, [T, B, I], opset=13)


def einsum():
    # Einsum through its matmul forms and its summed form: mutations land in
    # the equation strings and the shapes they must agree with.
    nodes = [N("Einsum", ["x", "w"], ["q"], equation="btc,dc->btd"),
             N("Einsum", ["q", "q"], ["s"], equation="bqd,bkd->bqk"),
             N("Einsum", ["s", "q"], ["o"], equation="bqk,bkd->bqd"),
             N("Einsum", ["s"], ["tr"], equation="bii->b"),
             N("Einsum", ["o", "tr"], ["y"], equation="...td,b->...dt")]
    return model(nodes, [const("w", [3, 4])], [1, 2, 4], opset=13)


def grid_sample():
    # GridSample in each mode and padding, on a grid reaching past [-1, 1].
    g = numpy_helper.from_array((rng.standard_normal([1, 3, 4, 2]) * 1.5).astype(np.float32), "g")
    nodes = [N("GridSample", ["x", "g"], ["a"], mode="bilinear", padding_mode="zeros"),
             N("GridSample", ["x", "g"], ["b"], mode="nearest", padding_mode="border", align_corners=1),
             N("GridSample", ["x", "g"], ["c"], mode="bicubic", padding_mode="reflection"),
             N("Sum", ["a", "b", "c"], ["y"])]
    return model(nodes, [g], [1, 2, 5, 5], opset=16)


def data_dependent():
    """Output shapes decided by values: NonZero into GatherND, Compress,
    Unique, NonMaxSuppression and a Range whose limit is a count, cut into
    stages."""
    boxes = numpy_helper.from_array(rng.uniform(0, 4, [1, 5, 4]).astype(np.float32), "boxes")
    nodes = [N("Add", ["x", "c"], ["a"]), N("Greater", ["a", "zero"], ["m"]), N("NonZero", ["m"], ["nz"]),
             N("Transpose", ["nz"], ["t"]), N("GatherND", ["a", "t"], ["g"]),
             N("Reshape", ["a", "flat"], ["af"]), N("Reshape", ["m", "flat"], ["mf"]),
             N("Compress", ["af", "mf"], ["cm"], axis=0), N("Floor", ["af"], ["fl"]),
             N("Unique", ["fl"], ["u", "ui", "uinv", "uc"]),
             N("ReduceSum", ["x"], ["sx"], keepdims=0), N("Add", ["scores", "sx"], ["sc"]),
             N("NonMaxSuppression", ["boxes", "sc", "three", "half"], ["sel"]), N("Cast", ["sel"], ["self"], to=1),
             N("Reshape", ["self", "flat"], ["selr"]),
             N("Cast", ["m"], ["mc"], to=1), N("ReduceSum", ["mc"], ["n"], keepdims=0), N("Cast", ["n"], ["ni"], to=7),
             N("Range", ["start", "ni", "step"], ["r"]), N("Cast", ["r"], ["rf"], to=1),
             N("Concat", ["g", "cm", "u", "selr", "rf"], ["y"], axis=0)]
    inits = [const("c", [2, 3, 4]), scalar("zero", 0.0), ints("flat", [-1]), boxes, const("scores", [1, 1, 5]),
             ints("three", [3]), scalar("half", 0.5), scalar("start", 0, np.int64), scalar("step", 1, np.int64)]
    return model(nodes, inits, [2, 3, 4])


def branches():
    """If on a computed condition, one branch holding another If, both
    reading outer values."""
    inner = helper.make_graph([N("Mul", ["x", "two"], ["i"])], "inner", [],
                              [helper.make_tensor_value_info("i", TensorProto.FLOAT, None)])
    inner_else = helper.make_graph([N("Neg", ["x"], ["j"])], "inner_else", [],
                                   [helper.make_tensor_value_info("j", TensorProto.FLOAT, None)])
    then = helper.make_graph([N("Greater", ["s", "two"], ["c2"]),
                              N("If", ["c2"], ["t"], then_branch=inner, else_branch=inner_else)], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)])
    other = helper.make_graph([N("Sub", ["x", "w"], ["e"])], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)])
    nodes = [N("ReduceSum", ["x"], ["s"], keepdims=0), N("Greater", ["s", "zero"], ["c"]),
             N("If", ["c"], ["b"], then_branch=then, else_branch=other), N("Add", ["b", "x"], ["y"])]
    return model(nodes, [scalar("zero", 0.0), scalar("two", 2.0), const("w", [3])], [2, 3])


def narrow_floats():
    """16-bit floats at the model's edge and inside: an input declared
    bfloat16, float16 and bfloat16 weights (raw and int32_data), Casts to
    both, and an output declared bfloat16."""
    half = numpy_helper.from_array(rng.standard_normal([3]).astype(np.float16), "h")
    bits = (rng.standard_normal([3]).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    bf_raw = onnx.TensorProto(name="b", data_type=TensorProto.BFLOAT16, dims=[3], raw_data=bits.tobytes())
    bf_ints = onnx.TensorProto(name="c", data_type=TensorProto.BFLOAT16, dims=[3])
    bf_ints.int32_data.extend(bits.astype(np.int32).tolist())  # each holds one value's bits
    nodes = [N("Mul", ["x", "h"], ["m"]), N("Add", ["m", "b"], ["a"]), N("Cast", ["a"], ["t"], to=TensorProto.FLOAT16),
             N("Sub", ["t", "c"], ["s"]), N("Cast", ["s"], ["y"], to=TensorProto.BFLOAT16)]
    g = helper.make_graph(nodes, "seed", [helper.make_tensor_value_info("x", TensorProto.BFLOAT16, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.BFLOAT16, None)], [half, bf_raw, bf_ints])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


SEEDS = {"decomposed_layer_norm": decomposed_layer_norm, "rms_norm": rms_norm, "gelu_erf": gelu_erf,
         "conv_bn_relu": conv_bn_relu, "residual_add_layer_norm": residual_add_layer_norm, "attention": attention,
         "gemm_chain": gemm_chain, "winograd_residual": winograd_residual, "wide_layer_norm": wide_layer_norm,
         "repeated_work": repeated_work, "pad_and_activations": pad_and_activations,
         "resize_modes": resize_modes, "index_ops": index_ops, "recurrent": recurrent, "einsum": einsum, "grid_sample": grid_sample,
         "data_dependent": data_dependent, "branches": branches,
         "narrow_floats": narrow_floats}

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "seeds"
    os.makedirs(out, exist_ok=True)
    for name, make in SEEDS.items():
        m = make()
        onnx.save(m, os.path.join(out, name + ".onnx"))
        print(os.path.join(out, name + ".onnx"))
