#pragma once
// Index tensors (int32 or int64) as Gather, GatherElements, GatherND and the
// scatters read them: each index checked against its dim when the step runs
// (outside [-dim, dim) is an error naming the node), a negative one counting
// from the end.
#include <cstdint>
#include <string>

#include "runtime/kernel.h"

namespace normrt {

struct IndexInput {
  size_t input;  // which of the node's inputs holds the indices
  bool idx64;
  std::string where;
  IndexInput(const BindContext& c, size_t input)
      : input(input), idx64(c.in[input]->dtype == DType::int64), where(c.where) {}

  // Index i of the tensor, in [0, dim).
  int64_t at(const RunArgs& a, int64_t i, int64_t dim) const {
    const void* p = a.in[input];
    const int64_t j = idx64 ? static_cast<const int64_t*>(p)[i] : static_cast<const int32_t*>(p)[i];
    if (j < -dim || j >= dim)
      throw Error(where + ": index " + std::to_string(j) + " is out of range for a dim of " + std::to_string(dim));
    return j < 0 ? j + dim : j;
  }
  // The element offset tuple t (indices t * k .. t * k + k - 1) picks, over
  // dims [first, first + k) of a tensor with these dims and strides.
  int64_t tuple_offset(const RunArgs& a, int64_t t, int64_t k, const Shape& dims, const Shape& strides,
                       size_t first) const {
    int64_t off = 0;
    for (int64_t d = 0; d < k; ++d) off += at(a, t * k + d, dims[first + size_t(d)]) * strides[first + size_t(d)];
    return off;
  }
};

}  // namespace normrt
