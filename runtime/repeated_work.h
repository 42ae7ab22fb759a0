#pragma once
// What a step computes, as a key: two steps with equal keys produce the same
// outputs, so a plan runs only the first (PyTorch's exports rebuild the
// additive attention mask in every layer from the same input).
#include <string>
#include <vector>

#include "graph/ir.h"

namespace normrt {

// The op, its attributes and `input_ids` (what each input is, as the plan
// knows it: a buffer, or a constant's contents); false for a node whose
// outputs may differ between runs on the same inputs (random ops) or that
// holds a subgraph.
bool work_key(const Node& n, const std::vector<std::string>& input_ids, std::string* key);

// A constant's identity for work_key: its contents when small, else its address.
std::string constant_id(const Tensor& t);

}  // namespace normrt
