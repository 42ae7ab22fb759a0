#pragma once
// Slices of a product's columns computed as products of their own.
// PyTorch's exports of nn.MultiheadAttention project q, k and v in one
// product and cut its output in three with Slices on the last axis; each
// Slice then copies a third of the product out. Here each such Slice's step
// becomes the product of its columns alone, written where the Slice wrote,
// and the product's own step, no longer read, is dropped.
#include <map>
#include <string>
#include <vector>

#include "runtime/plan.h"

namespace normrt {

// Over a plan's steps (slots' kinds settled: graph outputs and carried
// values are not arena slots): for every step whose output 0 is read only by
// Slice steps that cut its last axis alone, each from a column its kernel's
// column_range() accepts, those Slice steps compute their columns instead.
// `info`: what the plan knows of each value (the Slices' bounds).
void compute_sliced_products(const Graph& g, std::vector<Step>& steps, const std::vector<Slot>& slots,
                             const std::map<std::string, ValueInfo>& info);

}  // namespace normrt
