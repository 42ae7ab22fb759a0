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

// Inputs from `-i [NAME=]PATH` specs (unnamed ones fill graph inputs in
// order); graph inputs not given get seeded random data of the declared
// shape, dynamic dims = 1.
std::vector<Tensor> make_inputs(const Session& s, const std::vector<std::string>& specs);
// Writes outputs to DIR/output_<k>.npy and DIR/outputs.json through a temporary folder.
void write_outputs(const std::string& dir, const Session& s, const std::vector<Tensor>& outputs);
std::string summary(const Tensor& t);
double median(std::vector<double> v);

int cmd_run(int argc, char** argv);
int cmd_inspect(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_profile(int argc, char** argv);

}  // namespace normrt::cli
