#include "runtime/session.h"

#include <omp.h>

#include <mutex>

#include "graph/onnx_import.h"
#include "graph/passes/pass_manager.h"
#include "runtime/plan.h"
#include "runtime/registry.h"

namespace normrt {

namespace {
// A model whose shapes ask for more memory than there is gets an error, not
// a crash (corrupt dims, a Reshape to a vast shape).
template <class F>
auto out_of_memory_as_error(const std::string& source, F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    throw Error(source + ": the model needs more memory than is available for these shapes");
  } catch (const std::length_error&) {
    throw Error(source + ": the model asks for a tensor too large to allocate");
  }
}
}  // namespace

struct Session::Impl {
  Graph graph;
  std::vector<Rewrite> rewrites;
  Isa isa = Isa::scalar;
  int threads = 1;
  bool optimize = true, winograd = true;
  size_t max_tensor_bytes = 0;
  const Registry& registry = default_registry();
  mutable std::mutex plans_mutex;
  // Plans are keyed by the input shapes, and by the contents of the graph
  // inputs that decide shapes (a Reshape's shape given as an input). At most
  // max_plans are held (each has its own arena): the least recently used
  // goes first, so a stream of ever-new shapes cannot grow memory without end.
  struct HeldPlan {
    std::shared_ptr<const Plan> plan;
    uint64_t used = 0;  // the `uses` count at its last run
  };
  mutable std::map<std::vector<Shape>, HeldPlan> plans;
  mutable uint64_t uses = 0;
  mutable size_t built = 0;  // plans built, a dropped one that returns counted again
  size_t max_plans = 16;
  mutable kernels::WeightCache weight_cache;  // packed weights shared by the plans
  std::vector<bool> value_input;
  bool any_value_input = false;  // some input's contents decide shapes

  void init(Graph g, const SessionOptions& o) {
    try {
      isa = resolve_isa(o.isa);
    } catch (const std::invalid_argument& e) {
      throw Error(g.source + ": " + e.what());
    }
    threads = o.threads > 0 ? o.threads : omp_get_max_threads();
    optimize = o.optimize;
    winograd = o.winograd;
    max_tensor_bytes = o.max_tensor_bytes;
    max_plans = std::max<size_t>(o.max_plans, 1);
    check_supported(g);
    if (optimize) {
      PassOptions po;
      po.disabled = o.disabled_passes;
      const Isa eval_isa = isa;
      po.evaluate = [this, eval_isa](const Node& n, const std::vector<const Tensor*>& in, int64_t opset) {
        return evaluate_node(registry, n, in, opset, eval_isa, n.label(), max_tensor_bytes);
      };
      rewrites = optimize_graph(g, po);
    }
    graph = std::move(g);
    value_input.assign(graph.inputs.size(), false);
    for (auto& n : graph.nodes)
      for (size_t k = 0; k < n.inputs.size(); ++k)
        for (size_t i = 0; i < graph.inputs.size(); ++i)
          if (n.inputs[k] == graph.inputs[i] && shape_depends_on_value(n, k)) value_input[i] = any_value_input = true;
    // Weights are packed now, not at the first run of each new shape.
    prepack_matmul_weights(graph, weight_cache);
    // Models with fully static inputs are planned now, so load reports shape errors.
    std::vector<const Tensor*> none(graph.inputs.size(), nullptr);
    std::vector<Shape> shapes;
    for (size_t i = 0; i < graph.inputs.size(); ++i) {
      const Shape& d = graph.declared.at(graph.inputs[i]).dims;
      if (value_input[i] || std::any_of(d.begin(), d.end(), [](int64_t x) { return x < 0; })) return;
      shapes.push_back(d);
    }
    plan_for(shapes, none);
  }

  // Every node the registry cannot run, reported at once.
  void check_supported(const Graph& g) const {
    std::string missing;
    int count = 0;
    for (auto& n : g.nodes) {
      if (registry.find(n.domain, n.op_type, g.opset) && has_shape_function(n.op_type)) continue;
      if (count++ < 20) {
        missing += "\n  " + n.label() + (n.domain.empty() ? "" : " (domain " + n.domain + ")");
      }
    }
    if (count)
      throw Error(g.source + ": " + std::to_string(count) + " node(s) use ops normrt does not support at opset " +
                  std::to_string(g.opset) + ":" + missing + (count > 20 ? "\n  ..." : ""));
  }

  std::shared_ptr<const Plan> plan_for(const std::vector<Shape>& shapes, const std::vector<const Tensor*>& in) const {
    std::vector<Shape> key = shapes;
    for (size_t i = 0; i < in.size(); ++i)
      if (value_input[i]) key.push_back(in[i]->as_int64());
    std::lock_guard<std::mutex> lock(plans_mutex);
    auto it = plans.find(key);
    if (it == plans.end()) {
      it = plans.emplace(key, HeldPlan{build_plan(shapes, in), 0}).first;
      ++built;
    }
    it->second.used = ++uses;
    last = it;
    while (plans.size() > max_plans) {
      auto lru = std::min_element(plans.begin(), plans.end(),
                                  [](const auto& a, const auto& b) { return a.second.used < b.second.used; });
      plans.erase(lru);  // never `last`: it holds the highest count
    }
    return last->second.plan;
  }

  std::shared_ptr<const Plan> build_plan(const std::vector<Shape>& shapes, const std::vector<const Tensor*>& in) const {
    std::vector<ValueInfo> infos;
    for (size_t i = 0; i < shapes.size(); ++i) {
      infos.push_back(ValueInfo{graph.declared.at(graph.inputs[i]).dtype, shapes[i], nullptr});
      if (value_input[i]) infos.back().value = std::make_shared<const Tensor>(*in[i]);
    }
    omp_set_num_threads(threads);
    return std::make_shared<const Plan>(graph, registry, infos, isa, optimize, &weight_cache, winograd,
                                        max_tensor_bytes);
  }

  void check_input(const std::string& name, const Tensor& t) const {
    const ValueType& want = graph.declared.at(name);
    auto fail = [&](const std::string& why) { throw Error(graph.source + ": input '" + name + "': " + why); };
    if (t.dtype != want.dtype)
      fail(std::string("has type ") + dtype_name(t.dtype) + ", the model expects " + dtype_name(want.dtype));
    if (t.shape.size() != want.dims.size())
      fail("has shape " + shape_str(t.shape) + ", the model expects rank " + std::to_string(want.dims.size()) +
           " " + shape_str(want.dims));
    for (size_t i = 0; i < t.shape.size(); ++i)
      if (want.dims[i] >= 0 && t.shape[i] != want.dims[i])
        fail("has shape " + shape_str(t.shape) + ", the model expects " + shape_str(want.dims) + " (dim " +
             std::to_string(i) + " must be " + std::to_string(want.dims[i]) + ")");
    if (t.shape.size() != 0 && std::any_of(t.shape.begin(), t.shape.end(), [](int64_t d) { return d < 0; }))
      fail("has a negative dimension");
    if (t.bytes.size() != size_t(t.numel()) * dtype_size(t.dtype)) fail("holds fewer bytes than its shape needs");
  }

  // The last plan used, checked first without building a key: a steady
  // stream of same-shaped requests finds its plan without allocating. (With
  // no input deciding shapes, its key is the input shapes.)
  mutable decltype(plans)::iterator last = plans.end();
  std::shared_ptr<const Plan> checked_plan(const Tensor* const* in, size_t n) const {
    for (size_t i = 0; i < n; ++i) check_input(graph.inputs[i], *in[i]);
    if (!any_value_input) {
      std::lock_guard<std::mutex> lock(plans_mutex);
      bool same = last != plans.end();
      for (size_t i = 0; same && i < n; ++i) same = last->first[i] == in[i]->shape;
      if (same) {
        last->second.used = ++uses;
        return last->second.plan;
      }
    }
    std::vector<Shape> shapes;
    for (size_t i = 0; i < n; ++i) shapes.push_back(in[i]->shape);
    return plan_for(shapes, std::vector<const Tensor*>(in, in + n));
  }

  // Outputs already of the plan's dtypes and shapes are written in place.
  void run_into(const Tensor* const* in, size_t n, std::vector<Tensor>& out,
                std::vector<double>* step_seconds = nullptr) const {
    auto plan = out_of_memory_as_error(graph.source, [&] { return checked_plan(in, n); });
    const auto& want = plan->outputs();
    bool reuse = out.size() == want.size();
    for (size_t k = 0; reuse && k < want.size(); ++k)
      reuse = out[k].dtype == want[k].dtype && out[k].shape == want[k].shape &&
              out[k].bytes.size() == size_t(shape_numel(want[k].shape)) * dtype_size(want[k].dtype);
    if (!reuse) {
      out.clear();
      for (auto& v : want) out.emplace_back(v.dtype, v.shape);
    }
    omp_set_num_threads(threads);
    plan->execute(in, out, step_seconds);
  }

  std::vector<Tensor> run(const std::vector<const Tensor*>& in, std::vector<double>* step_seconds = nullptr) const {
    std::vector<Tensor> out;
    run_into(in.data(), in.size(), out, step_seconds);
    return out;
  }
};

Session::Session(const std::string& model_path, const SessionOptions& options) : impl_(std::make_unique<Impl>()) {
  out_of_memory_as_error(model_path, [&] { impl_->init(load_onnx_file(model_path), options); });
}

Session::Session(const void* bytes, size_t size, const SessionOptions& options) : impl_(std::make_unique<Impl>()) {
  out_of_memory_as_error("<bytes>", [&] { impl_->init(load_onnx_bytes(bytes, size), options); });
}

Session::~Session() = default;

void Session::run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) const {
  auto& g = impl_->graph;
  if (inputs.size() != g.inputs.size())
    throw Error(g.source + ": the model takes " + std::to_string(g.inputs.size()) + " input(s), " +
                std::to_string(inputs.size()) + " given");
  // Pointers to the inputs without a heap array (models have few inputs).
  constexpr size_t kMax = 16;
  if (inputs.size() > kMax) {
    std::vector<const Tensor*> in;
    for (auto& t : inputs) in.push_back(&t);
    impl_->run_into(in.data(), in.size(), outputs);
    return;
  }
  const Tensor* in[kMax];
  for (size_t i = 0; i < inputs.size(); ++i) in[i] = &inputs[i];
  impl_->run_into(in, inputs.size(), outputs);
}

std::vector<Tensor> Session::run(const std::vector<Tensor>& inputs) const {
  std::vector<Tensor> out;
  run(inputs, out);
  return out;
}

std::map<std::string, Tensor> Session::run(const std::map<std::string, Tensor>& inputs) const {
  auto& g = impl_->graph;
  for (auto& [name, t] : inputs)
    if (std::find(g.inputs.begin(), g.inputs.end(), name) == g.inputs.end()) {
      std::string names;
      for (auto& n : g.inputs) names += (names.empty() ? "" : ", ") + n;
      throw Error(g.source + ": the model has no input named '" + name + "' (inputs: " + names + ")");
    }
  std::vector<const Tensor*> in;
  for (auto& name : g.inputs) {
    auto it = inputs.find(name);
    if (it == inputs.end()) throw Error(g.source + ": input '" + name + "' is missing");
    in.push_back(&it->second);
  }
  auto out = impl_->run(in);
  std::map<std::string, Tensor> named;
  for (size_t k = 0; k < out.size(); ++k) named[g.outputs[k]] = std::move(out[k]);
  return named;
}

std::vector<Session::StepProfile> Session::profile(const std::vector<Tensor>& inputs, int iterations) const {
  std::vector<const Tensor*> in;
  for (auto& t : inputs) in.push_back(&t);
  if (in.size() != impl_->graph.inputs.size()) throw Error(impl_->graph.source + ": wrong number of inputs");
  auto plan = impl_->checked_plan(in.data(), in.size());
  std::vector<StepProfile> r;
  for (auto& s : plan->steps())
    r.push_back(StepProfile{s.node->op_type, s.node->name, s.node->domain,
                            s.kernel->implementation().empty() ? std::string("normrt ") + isa_name(impl_->isa)
                                                               : s.kernel->implementation(),
                            s.in_shapes, s.out_shapes, s.flops, s.bytes, {}});
  std::vector<double> t(r.size());
  for (int k = 0; k < iterations; ++k) {
    impl_->run(in, &t);
    for (size_t i = 0; i < r.size(); ++i) r[i].seconds.push_back(t[i]);
  }
  return r;
}

const std::vector<std::string>& Session::input_names() const { return impl_->graph.inputs; }
const std::vector<std::string>& Session::output_names() const { return impl_->graph.outputs; }
const ValueType& Session::input_type(const std::string& name) const { return impl_->graph.declared.at(name); }
const Graph& Session::graph() const { return impl_->graph; }
const std::vector<Rewrite>& Session::rewrites() const { return impl_->rewrites; }
Isa Session::isa() const { return impl_->isa; }
int Session::threads() const { return impl_->threads; }
size_t Session::plans_held() const {
  std::lock_guard<std::mutex> lock(impl_->plans_mutex);
  return impl_->plans.size();
}
size_t Session::plans_built() const {
  std::lock_guard<std::mutex> lock(impl_->plans_mutex);
  return impl_->built;
}

}  // namespace normrt
