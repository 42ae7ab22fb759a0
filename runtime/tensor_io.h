#pragma once
// Tensors from and to files: numpy .npy and ONNX TensorProto .pb.
#include <string>

#include "graph/ir.h"

namespace normrt {

Tensor read_npy(const std::string& path);
void write_npy(const std::string& path, const Tensor& t);
// By extension: .npy or .pb. `name` receives a .pb tensor's name ("" otherwise).
Tensor read_tensor_file(const std::string& path, std::string* name = nullptr);

}  // namespace normrt
