#pragma once
// Pieces shared by the normrt subcommands.
#include <map>
#include <string>
#include <vector>

#include "runtime/session.h"

namespace normrt::cli {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A subcommand's arguments: one model path, options and their values. The
// options every command shares (-i, --threads, --isa, --no-optimize) are
// taken by `common`.
class Args {
 public:
  Args(int argc, char** argv) : argc_(argc), argv_(argv) {}
  bool next() { return ++i_ < argc_ && (arg_ = argv_[i_], true); }
  bool is(const char* name, const char* alias = nullptr) const { return arg_ == name || (alias && arg_ == alias); }
  std::string value();                  // the current option's value
  double number(double lo, double hi);  // ... as a number in [lo, hi]
  // -i, --threads, --isa, --no-optimize into `o` and `inputs`; false if not one of them.
  bool common(SessionOptions& o, std::vector<std::string>& inputs);
  // The model path (once), or a usage error for an unknown option.
  void positional();
  // The model path; a usage error if none was given.
  const std::string& model() const;

 private:
  int argc_;
  char** argv_;
  int i_ = -1;
  std::string arg_, model_;
};

// Inputs from `-i [NAME=]PATH` specs (unnamed ones fill graph inputs in
// order); graph inputs not given get seeded random data of the declared
// shape, dynamic dims = 1.
std::vector<Tensor> make_inputs(const Session& s, const std::vector<std::string>& specs);
// Writes outputs to DIR/output_<k>.npy and DIR/outputs.json through a temporary folder.
void write_outputs(const std::string& dir, const Session& s, const std::vector<Tensor>& outputs);
std::string summary(const Tensor& t);
double median(std::vector<double> v);
// For the tools' header line: "   bf16 matmuls" when they are on, a note when
// asked for on a CPU without them, else "".
const char* bf16_matmuls_note(const Session& s, const SessionOptions& o);

int cmd_run(int argc, char** argv);
int cmd_inspect(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_profile(int argc, char** argv);

}  // namespace normrt::cli
