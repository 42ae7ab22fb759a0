#pragma once
#include <stdexcept>
#include <string>

namespace normrt {

// Every failure a user can cause ends in one of these: the message names the
// model (or file), the node where it applies, and the reason.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace normrt
