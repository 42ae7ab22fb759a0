#pragma once
// Inference rewrites. Each pass is one file under graph/passes/ and one line
// in the list in pass_manager.cpp; the manager runs the list in order until
// no pass changes anything.
#include <set>
#include <string>
#include <vector>

#include "graph/ir.h"

namespace normrt {

struct Rewrite {
  std::string pass;
  std::vector<std::string> consumed;  // node labels
  std::string produced;               // node label ("" when nodes were only removed)
};

struct Pass {
  const char* name;
  // Applies every rewrite it can find; appends what it did; true if anything changed.
  bool (*apply)(Graph& g, std::vector<Rewrite>& log);
};

const std::vector<Pass>& all_passes();
std::vector<Rewrite> optimize_graph(Graph& g, const std::set<std::string>& disabled = {});

// Passes (one per file).
bool fold_batch_norm(Graph& g, std::vector<Rewrite>& log);
bool remove_unused(Graph& g, std::vector<Rewrite>& log);

// Helpers shared by passes.
// The node producing `value`, or -1.
int producer_of(const Graph& g, const std::string& value);
// A fresh initializer name based on `base`.
std::string unique_name(const Graph& g, const std::string& base);

}  // namespace normrt
