#include "runtime/session.h"

#include <omp.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <set>

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

// An input whose contents decide shapes, in a plan key: its dtype and
// bytes, exactly (its shape is in the key already).
Shape content_key(const Tensor& t) {
  Shape k(1 + (t.bytes.size() + 7) / 8, 0);
  k[0] = int64_t(t.dtype);
  if (!t.bytes.empty()) std::memcpy(k.data() + 1, t.bytes.data(), t.bytes.size());
  return k;
}

// Stages one run may pass through (a cut in each): a bound on the
// recursion, for models that chain value-dependent nodes without end.
constexpr int kMaxStages = 256;

// Loop iterations in the run on this thread so far, for max_loop_iterations
// (nested loops count together); reset as each run starts.
thread_local int64_t loop_iterations_in_run = 0;

// What every plan of a session is made with.
struct Settings {
  Isa isa = Isa::scalar;
  int threads = 1;
  bool optimize = true, winograd = true, bf16_matmuls = false;
  size_t max_tensor_bytes = 0;
  int64_t max_loop_iterations = 0;
  size_t max_plans = 16;
  const Registry& registry = default_registry();
  mutable kernels::WeightCache weight_cache;  // packed weights shared by the plans
};

// For profiles: what one run did, each plan's steps (or a node run between
// plans) with the seconds each took, under the address of what ran them.
struct Timed {
  const void* key;
  std::vector<Session::StepProfile> rows;
};
using StepTimes = std::vector<Timed>;

// One graph's plans: the session's graph, or the rest of it after a node
// whose output shapes depend on values (a NonZero; a Reshape to a computed
// shape). Where its plans stop before such a node, a Stage for the rest is
// made at the first run that gets there, when that node's outputs are known,
// and kept: there is one per cut node (and per rank of the values carried
// past it), each holding at most max_plans plans.
struct Stage {
  const Settings& session;
  Graph graph;  // plans point into its nodes: it never moves
  std::vector<bool> value_input;
  bool any_value_input = false;  // some input's contents decide shapes
  // Per input, the narrow float it is declared (else undefined): taken as
  // that type or float32 (see Session::Impl::run_into).
  std::vector<DType> narrow_input;

  int depth = 0;  // stages before this one in a run
  // `known`: inputs whose contents the plans may use, as for inputs that decide shapes.
  Stage(const Settings& s, Graph g, int depth = 0, const std::set<std::string>& known = {});

  // Plans are keyed by the input shapes, and by the contents of the graph
  // inputs that decide shapes (a Reshape's shape given as an input). At most
  // max_plans are held (each has its own arena): the least recently used
  // goes first, so a stream of ever-new shapes cannot grow memory without end.
  struct HeldPlan {
    std::shared_ptr<const Plan> plan;
    uint64_t used = 0;  // the `uses` count at its last run
  };
  mutable std::mutex plans_mutex;
  mutable std::map<std::vector<Shape>, HeldPlan> plans;
  mutable uint64_t uses = 0;
  mutable size_t built = 0;  // plans built, a dropped one that returns counted again
  // The last plan used, checked first without building a key: a steady
  // stream of same-shaped requests finds its plan without allocating. (With
  // no input deciding shapes, its key is the input shapes.)
  mutable decltype(plans)::iterator last = plans.end();
  mutable std::mutex rests_mutex;
  mutable std::map<std::string, std::shared_ptr<const Stage>> rests;

  std::shared_ptr<const Plan> plan_for(const std::vector<Shape>& shapes, const std::vector<const Tensor*>& in) const;
  std::shared_ptr<const Plan> build_plan(const std::vector<Shape>& shapes, const std::vector<const Tensor*>& in) const;
  void check_input(size_t i, const Tensor& t) const;
  std::shared_ptr<const Plan> checked_plan(const Tensor* const* in, size_t n) const;
  // Outputs already of the plan's dtypes and shapes are written in place.
  // `steps`: each plan run and the seconds of its steps, for profiles.
  void run_into(const Tensor* const* in, size_t n, std::vector<Tensor>& out, StepTimes* steps = nullptr) const;
  // Runs a Loop node on these inputs (its formal ones, then its implicit ones).
  std::vector<std::shared_ptr<const Tensor>> run_loop(const Node& loop, const std::vector<const Tensor*>& args) const;
  mutable std::mutex bodies_mutex;
  mutable std::map<const Node*, std::shared_ptr<const Stage>> bodies;  // each Loop's body, made at its first run
  // Runs the cut node on the values `plan` carried out, then the rest.
  void run_rest(const Plan& plan, std::vector<Tensor>& carried, std::vector<Tensor>& out, StepTimes* steps) const;
};

}  // namespace

struct Session::Impl : Settings {
  std::vector<Rewrite> rewrites;
  std::unique_ptr<Stage> root;

  const Graph& graph() const { return root->graph; }

  void init(Graph g, const SessionOptions& o) {
    try {
      isa = resolve_isa(o.isa);
    } catch (const std::invalid_argument& e) {
      throw Error(g.source + ": " + e.what());
    }
    threads = o.threads > 0 ? o.threads : omp_get_max_threads();
    optimize = o.optimize;
    winograd = o.winograd;
    bf16_matmuls = o.bf16_matmuls && kernels::bf16_matmul_supported();
    max_tensor_bytes = o.max_tensor_bytes;
    max_loop_iterations = o.max_loop_iterations;
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
    // Weights are packed now, not at the first run of each new shape.
    prepack_matmul_weights(g, weight_cache, bf16_matmuls);
    root = std::make_unique<Stage>(*this, std::move(g));
    for (size_t i = 0; i < root->graph.inputs.size(); ++i)
      if (root->narrow_input[i] != DType::undefined) narrow_inputs.push_back(i);
    for (size_t k = 0; k < root->graph.outputs.size(); ++k) {
      auto it = root->graph.narrow_io.find(root->graph.outputs[k]);
      if (it != root->graph.narrow_io.end()) narrow_outputs.push_back({k, it->second});
    }
    // Models with fully static inputs are planned now, so load reports shape errors.
    const Graph& graph = root->graph;
    std::vector<const Tensor*> none(graph.inputs.size(), nullptr);
    std::vector<Shape> shapes;
    for (size_t i = 0; i < graph.inputs.size(); ++i) {
      const Shape& d = graph.declared.at(graph.inputs[i]).dims;
      if (root->value_input[i] || std::any_of(d.begin(), d.end(), [](int64_t x) { return x < 0; })) return;
      shapes.push_back(d);
    }
    root->plan_for(shapes, none);
  }

  // Every node the registry cannot run, reported at once.
  void check_supported(const Graph& g) const {
    std::string missing;
    int count = 0;
    // (a subgraph's nodes too: an If's branches)
    std::function<void(const Graph&, const std::string&)> check = [&](const Graph& sub, const std::string& within) {
      for (auto& n : sub.nodes) {
        for (auto& [name, a] : n.attrs)
          if (a.g) check(*a.g, " (in the " + name + " of " + n.label() + ")");
        const OpEntry* op = registry.find(n.domain, n.op_type, g.opset);
        if (op && (op->compute || op->control_flow || has_shape_function(n.op_type))) continue;
        if (count++ < 20)
          missing += "\n  " + n.label() + (n.domain.empty() ? "" : " (domain " + n.domain + ")") + within;
      }
    };
    check(g, "");
    if (count)
      throw Error(g.source + ": " + std::to_string(count) + " node(s) use ops normrt does not support at opset " +
                  std::to_string(g.opset) + ":" + missing + (count > 20 ? "\n  ..." : ""));
  }

  std::vector<Tensor> run(const std::vector<const Tensor*>& in, StepTimes* steps = nullptr) const {
    std::vector<Tensor> out;
    run_into(in.data(), in.size(), out, steps);
    return out;
  }

  // The graph's run, with float16 or bfloat16 where the model declares it
  // (see dtype_held): such inputs are given in that type (or as float32,
  // rounded to it first) and widened; such outputs are rounded to it. (Each
  // run of such a model allocates its widened inputs and rounded outputs.)
  void run_into(const Tensor* const* in, size_t n, std::vector<Tensor>& out, StepTimes* steps = nullptr) const {
    if (narrow_inputs.empty() && narrow_outputs.empty()) return root->run_into(in, n, out, steps);
    const Graph& g = graph();
    std::vector<Tensor> wide(n);
    std::vector<const Tensor*> held(in, in + n);
    for (size_t i : narrow_inputs) {
      if (i >= n) continue;  // (Session's run checks the count)
      root->check_input(i, *in[i]);
      const DType declared = root->narrow_input[i];
      wide[i] = out_of_memory_as_error(g.source, [&] {
        if (in[i]->dtype == declared) return widened(*in[i]);
        Tensor t = *in[i];
        for (int64_t e = 0; e < t.numel(); ++e) t.data<float>()[e] = rounded_to(declared, t.data<float>()[e]);
        return t;
      });
      held[i] = &wide[i];
    }
    root->run_into(held.data(), n, out, steps);
    for (auto [k, declared] : narrow_outputs) {
      if (k >= out.size()) continue;
      if (out[k].dtype != DType::float32)
        throw Error(g.source + ": output '" + g.outputs[k] + "' is declared " + dtype_name(declared) +
                    ", but the graph computes it as " + dtype_name(out[k].dtype));
      out[k] = narrowed(out[k], declared);
    }
  }
  // Positions declared a narrow float (with the type, for outputs), found at load.
  std::vector<size_t> narrow_inputs;
  std::vector<std::pair<size_t, DType>> narrow_outputs;
};

namespace {

Stage::Stage(const Settings& s, Graph g, int depth, const std::set<std::string>& known)
    : session(s), graph(std::move(g)), depth(depth) {
  value_input.assign(graph.inputs.size(), false);
  for (auto& name : graph.inputs) {
    auto it = graph.narrow_io.find(name);
    narrow_input.push_back(it == graph.narrow_io.end() ? DType::undefined : it->second);
  }
  for (size_t i = 0; i < graph.inputs.size(); ++i)
    if (known.count(graph.inputs[i])) value_input[i] = any_value_input = true;
  for (auto& n : graph.nodes)
    for (size_t k = 0; k < n.inputs.size(); ++k)
      for (size_t i = 0; i < graph.inputs.size(); ++i)
        if (n.inputs[k] == graph.inputs[i] && shape_depends_on_value(n, k)) value_input[i] = any_value_input = true;
}

std::shared_ptr<const Plan> Stage::plan_for(const std::vector<Shape>& shapes,
                                                      const std::vector<const Tensor*>& in) const {
  std::vector<Shape> key = shapes;
  for (size_t i = 0; i < in.size(); ++i)
    if (value_input[i]) key.push_back(content_key(*in[i]));
  std::lock_guard<std::mutex> lock(plans_mutex);
  auto it = plans.find(key);
  if (it == plans.end()) {
    it = plans.emplace(key, HeldPlan{build_plan(shapes, in), 0}).first;
    ++built;
  }
  it->second.used = ++uses;
  last = it;
  while (plans.size() > session.max_plans) {
    auto lru = std::min_element(plans.begin(), plans.end(),
                                [](const auto& a, const auto& b) { return a.second.used < b.second.used; });
    plans.erase(lru);  // never `last`: it holds the highest count
  }
  return last->second.plan;
}

std::shared_ptr<const Plan> Stage::build_plan(const std::vector<Shape>& shapes,
                                              const std::vector<const Tensor*>& in) const {
  std::vector<ValueInfo> infos;
  for (size_t i = 0; i < shapes.size(); ++i) {
    infos.push_back(ValueInfo{graph.declared.at(graph.inputs[i]).dtype, shapes[i], nullptr});
    if (value_input[i]) infos.back().value = std::make_shared<const Tensor>(*in[i]);
  }
  omp_set_num_threads(session.threads);
  return std::make_shared<const Plan>(graph, session.registry, infos, session.isa, session.optimize,
                                      &session.weight_cache, session.winograd, session.max_tensor_bytes,
                                      session.bf16_matmuls);
}

void Stage::check_input(size_t i, const Tensor& t) const {
  const std::string& name = graph.inputs[i];
  const ValueType& want = graph.declared.at(name);
  auto fail = [&](const std::string& why) { throw Error(graph.source + ": input '" + name + "': " + why); };
  const DType narrow = narrow_input[i];
  if (narrow != DType::undefined ? t.dtype != narrow && t.dtype != DType::float32 : t.dtype != want.dtype)
    fail(std::string("has type ") + dtype_name(t.dtype) + ", the model expects " +
         dtype_name(narrow != DType::undefined ? narrow : want.dtype));
  if (t.shape.size() != want.dims.size())
    fail("has shape " + shape_str(t.shape) + ", the model expects rank " + std::to_string(want.dims.size()) + " " +
         shape_str(want.dims));
  for (size_t d = 0; d < t.shape.size(); ++d)
    if (want.dims[d] >= 0 && t.shape[d] != want.dims[d])
      fail("has shape " + shape_str(t.shape) + ", the model expects " + shape_str(want.dims) + " (dim " +
           std::to_string(d) + " must be " + std::to_string(want.dims[d]) + ")");
  if (t.shape.size() != 0 && std::any_of(t.shape.begin(), t.shape.end(), [](int64_t d) { return d < 0; }))
    fail("has a negative dimension");
  if (t.bytes.size() != size_t(t.numel()) * dtype_size(t.dtype)) fail("holds fewer bytes than its shape needs");
}

std::shared_ptr<const Plan> Stage::checked_plan(const Tensor* const* in, size_t n) const {
  for (size_t i = 0; i < n; ++i) check_input(i, *in[i]);
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

void Stage::run_into(const Tensor* const* in, size_t n, std::vector<Tensor>& out, StepTimes* steps) const {
  if (depth == 0) loop_iterations_in_run = 0;
  auto held = out_of_memory_as_error(graph.source, [&] { return checked_plan(in, n); });
  const Plan& plan = *held;
  std::vector<Tensor> carried;
  std::vector<Tensor>& written = plan.cut() < 0 ? out : carried;
  const auto& want = plan.outputs();
  bool reuse = written.size() == want.size();
  for (size_t k = 0; reuse && k < want.size(); ++k)
    reuse = written[k].dtype == want[k].dtype && written[k].shape == want[k].shape &&
            written[k].bytes.size() == size_t(shape_numel(want[k].shape)) * dtype_size(want[k].dtype);
  if (!reuse) {
    written.clear();
    for (auto& v : want) written.emplace_back(v.dtype, v.shape);
  }
  omp_set_num_threads(session.threads);
  std::vector<double> seconds(steps ? plan.steps().size() : 0);
  plan.execute(in, written, steps ? &seconds : nullptr);
  if (steps) {
    Timed t{&plan, {}};
    for (size_t i = 0; i < seconds.size(); ++i) {
      const Step& st = plan.steps()[i];
      const std::string impl = st.kernel->implementation();
      t.rows.push_back(Session::StepProfile{st.node->op_type, st.node->name, st.node->domain,
                                           impl.empty() ? std::string("normrt ") + isa_name(session.isa) : impl,
                                           st.in_shapes, st.out_shapes, st.flops, st.bytes, {seconds[i]}});
    }
    steps->push_back(std::move(t));
  }
  if (plan.cut() >= 0) run_rest(plan, carried, out, steps);
}

// The loop's body runs as a graph of its own: its inputs the iteration
// number, the condition, the carried values and the outer values it reads
// (under the names it reads them by), each of the dims it has at the first
// run. Scan outputs are stacked along a new first dim.
std::vector<std::shared_ptr<const Tensor>> Stage::run_loop(const Node& loop, const std::vector<const Tensor*>& args) const {
  const std::string where = graph.where(loop);
  const Attribute* a = loop.attr("body");
  const Graph* body = a ? a->g.get() : nullptr;
  if (!body) throw Error(where + ": has no body graph");
  const Attribute* implicit = loop.attr("__implicit_inputs");
  const size_t outer = implicit ? implicit->ss.size() : 0, formal = args.size() - std::min(outer, args.size());
  if (outer > args.size() || formal < 2 || body->inputs.size() != formal || body->outputs.size() < formal - 1)
    throw Error(where + ": the body takes " + std::to_string(body->inputs.size()) + " inputs and gives " +
                std::to_string(body->outputs.size()) + " outputs, for " + std::to_string(formal - 2) +
                " carried values");
  const size_t carried = formal - 2, scans = body->outputs.size() - 1 - carried;
  size_t named = loop.outputs.size();  // (omitted trailing outputs aside)
  while (named > 0 && loop.outputs[named - 1].empty()) --named;
  if (named > carried + scans)
    throw Error(where + ": names " + std::to_string(named) + " outputs, but its body gives " +
                std::to_string(carried + scans) + " after its condition (" + std::to_string(carried) + " carried, " +
                std::to_string(scans) + " scanned)");
  const Tensor* trips = one_value(args[0], DType::int64, where, "the trip count");
  const Tensor* cond = one_value(args[1], DType::boolean, where, "the condition");
  const int64_t max_trips = trips ? trips->data<int64_t>()[0] : std::numeric_limits<int64_t>::max();
  bool going = cond ? cond->data<uint8_t>()[0] != 0 : true;
  for (size_t k = 2; k < args.size(); ++k)
    if (!args[k]) throw Error(where + ": input " + std::to_string(k) + " is missing");

  std::vector<Tensor> state;
  for (size_t k = 0; k < carried; ++k) state.push_back(*args[2 + k]);
  std::vector<std::vector<Tensor>> scanned(scans);  // each iteration's scan outputs
  Tensor iteration(DType::int64, {}), condition(DType::boolean, {});
  std::vector<const Tensor*> in(formal + outer);
  for (size_t k = 0; k < outer; ++k) in[formal + k] = args[formal + k];
  in[0] = &iteration;
  in[1] = &condition;
  std::shared_ptr<const Stage> stage;
  int64_t i = 0;
  std::vector<size_t> scanned_bytes(scans, 0);
  for (; i < max_trips && going; ++i) {
    if (session.max_loop_iterations > 0 && ++loop_iterations_in_run > session.max_loop_iterations)
      throw Error(where + ": the run's loops take more than " + std::to_string(session.max_loop_iterations) +
                  " iterations (max_loop_iterations)");
    iteration.data<int64_t>()[0] = i;
    condition.data<uint8_t>()[0] = 1;
    for (size_t k = 0; k < carried; ++k) in[2 + k] = &state[k];
    if (!stage) {
      std::lock_guard<std::mutex> lock(bodies_mutex);
      auto& held = bodies[&loop];
      if (!held) {
        Graph g = *body;
        g.source = graph.source;
        g.opset = graph.opset;
        if (implicit) g.inputs.insert(g.inputs.end(), implicit->ss.begin(), implicit->ss.end());
        for (size_t k = 0; k < g.inputs.size(); ++k)
          g.declared[g.inputs[k]] = ValueType{in[k]->dtype, Shape(in[k]->shape.size(), -1), {}};
        held = std::make_shared<const Stage>(session, std::move(g), depth + 1);
      }
      stage = held;
    }
    std::vector<Tensor> out;
    stage->run_into(in.data(), in.size(), out, nullptr);
    going = one_value(&out[0], DType::boolean, where, "the body's condition output")->data<uint8_t>()[0] != 0;
    for (size_t k = 0; k < carried; ++k) {
      if (out[1 + k].dtype != state[k].dtype || out[1 + k].shape.size() != state[k].shape.size())
        throw Error(where + ": carried value " + std::to_string(k) + " changes from " + dtype_name(state[k].dtype) +
                    shape_str(state[k].shape) + " to " + dtype_name(out[1 + k].dtype) + shape_str(out[1 + k].shape));
      state[k] = std::move(out[1 + k]);
    }
    for (size_t k = 0; k < scans; ++k) {
      Tensor& item = out[1 + carried + k];
      if (!scanned[k].empty() && (item.shape != scanned[k][0].shape || item.dtype != scanned[k][0].dtype))
        throw Error(where + ": scan output " + std::to_string(k) + " changes from " + shape_str(scanned[k][0].shape) +
                    " to " + shape_str(item.shape));
      scanned_bytes[k] += item.bytes.size();
      if (session.max_tensor_bytes != 0)
        check_bytes(scanned_bytes[k], session.max_tensor_bytes, where,
                    "scan output " + std::to_string(k) + " after " + std::to_string(i + 1) + " iterations");
      scanned[k].push_back(std::move(item));
    }
  }
  std::vector<std::shared_ptr<const Tensor>> results;
  for (auto& t : state) results.push_back(std::make_shared<const Tensor>(std::move(t)));
  for (size_t k = 0; k < scans; ++k) {
    const std::vector<Tensor>& items = scanned[k];
    ValueType type;
    if (!items.empty()) {
      type = ValueType{items[0].dtype, items[0].shape, {}};
    } else {
      // No iteration ran: the body's declared type and shape for it, or an error.
      auto it = body->declared.find(body->outputs[1 + carried + k]);
      if (it == body->declared.end() || std::any_of(it->second.dims.begin(), it->second.dims.end(),
                                                    [](int64_t d) { return d < 0; }))
        throw Error(where + ": ran no iterations, and its body does not declare the shape of scan output " +
                    std::to_string(k));
      type = it->second;
    }
    Shape dims{int64_t(items.size())};
    dims.insert(dims.end(), type.dims.begin(), type.dims.end());
    auto stacked = std::make_shared<Tensor>(type.dtype, dims);
    size_t at = 0;
    for (auto& t : items) {
      if (!t.bytes.empty()) std::memcpy(stacked->bytes.data() + at, t.bytes.data(), t.bytes.size());
      at += t.bytes.size();
    }
    results.push_back(std::move(stacked));
  }
  return results;
}

// A node that gives `from` the name `to` (a view: nothing is copied).
Node renamed(const Node& at, const std::string& from, const std::string& to) {
  Node n;
  n.name = at.name + "/" + to;
  n.op_type = "Identity";
  n.inputs = {from};
  n.outputs = {to};
  return n;
}

void Stage::run_rest(const Plan& plan, std::vector<Tensor>& carried, std::vector<Tensor>& out, StepTimes* steps) const {
  const Node& cut = graph.nodes[size_t(plan.cut())];
  std::map<std::string, const Tensor*> value;
  for (size_t k = 0; k < carried.size(); ++k) value[plan.carried()[k]] = &carried[k];
  auto value_of = [&](const std::string& name) -> const Tensor* {
    auto it = value.find(name);
    return name.empty() ? nullptr : it != value.end() ? it->second : graph.constant(name);
  };
  // What runs in the cut node's place, as part of the rest: an If's chosen
  // branch between renames of its inputs and outputs, or nothing once the
  // node has run here.
  std::string key = std::to_string(plan.cut());
  std::vector<Node> before, after;
  const Graph* branch = nullptr;
  std::string prefix;  // of the branch's own names
  std::vector<std::shared_ptr<const Tensor>> results;
  const OpEntry* op = session.registry.find(cut.domain, cut.op_type, graph.opset);
  if (op && op->control_flow && cut.op_type == "If") {
    const Tensor* cond = one_value(value_of(cut.inputs.at(0)), DType::boolean, graph.where(cut), "the condition");
    if (!cond) throw Error(graph.where(cut) + ": the condition is missing");
    const bool then = cond->data<uint8_t>()[0] != 0;
    const Attribute* a = cut.attr(then ? "then_branch" : "else_branch");
    branch = a ? a->g.get() : nullptr;
    if (!branch) throw Error(graph.where(cut) + ": has no " + (then ? "then_branch" : "else_branch") + " graph");
    if (branch->outputs.size() != cut.outputs.size())
      throw Error(graph.where(cut) + ": its " + (then ? "then" : "else") + " branch has " +
                  std::to_string(branch->outputs.size()) + " outputs, the node " + std::to_string(cut.outputs.size()));
    key += then ? " then" : " else";
    prefix = cut.name + (then ? "/then/" : "/else/");
    // Implicit inputs a pass renamed since import come back under the names the branch reads.
    if (const Attribute* names = cut.attr("__implicit_inputs"))
      for (size_t i = 0; i < names->ss.size() && 1 + i < cut.inputs.size(); ++i)
        if (cut.inputs[1 + i] != names->ss[i]) before.push_back(renamed(cut, cut.inputs[1 + i], names->ss[i]));
    for (size_t k = 0; k < cut.outputs.size(); ++k)
      if (!cut.outputs[k].empty()) after.push_back(renamed(cut, branch->outputs[k], cut.outputs[k]));
  } else {
    std::vector<const Tensor*> args;
    for (auto& name : cut.inputs) args.push_back(value_of(name));
    const auto start = std::chrono::steady_clock::now();
    results = out_of_memory_as_error(graph.source, [&] {
      if (op && op->control_flow) {
        if (cut.op_type != "Loop") throw Error(graph.where(cut) + ": control flow normrt does not run");
        return run_loop(cut, args);
      }
      return evaluate_node(session.registry, cut, args, graph.opset, session.isa, graph.where(cut),
                           session.max_tensor_bytes);
    });
    if (steps) {
      Session::StepProfile row{cut.op_type, cut.name, cut.domain, "normrt, between plans", {}, {}, 0, 0, {}};
      for (auto* t : args) {
        row.in_shapes.push_back(t ? t->shape : Shape{});
        row.bytes += t ? double(t->bytes.size()) : 0;
      }
      for (auto& t : results) {
        row.out_shapes.push_back(t->shape);
        row.bytes += double(t->bytes.size());
      }
      row.seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      steps->push_back(Timed{&cut, {std::move(row)}});
    }
    for (size_t k = 0; k < results.size() && k < cut.outputs.size(); ++k)
      if (!cut.outputs[k].empty()) value[cut.outputs[k]] = results[k].get();
  }
  std::vector<const Node*> order;
  for (auto& n : before) order.push_back(&n);
  if (branch)
    for (auto& n : branch->nodes) order.push_back(&n);
  for (auto& n : after) order.push_back(&n);
  for (size_t i = size_t(plan.cut()) + 1; i < graph.nodes.size(); ++i) order.push_back(&graph.nodes[i]);
  // The rest reads, as its inputs, every value computed so far that it
  // reads, of dims decided anew at each run.
  std::set<std::string> known;
  for (size_t k = 0; k < carried.size(); ++k)
    if (plan.carried_known()[k]) known.insert(plan.carried()[k]);
  std::vector<std::string> inputs;
  std::set<std::string> seen;
  auto add_input = [&](const std::string& name) {
    auto it = value.find(name);
    if (name.empty() || it == value.end() || !seen.insert(name).second) return;
    inputs.push_back(name);
    key += " " + name + ":" + dtype_name(it->second->dtype) + std::to_string(it->second->shape.size()) +
           (known.count(name) ? "=" : "");
  };
  for (auto* n : order)
    for (auto& name : n->inputs) add_input(name);
  for (auto& name : graph.outputs) add_input(name);
  if (depth + 1 >= kMaxStages)
    throw Error(graph.where(cut) + ": more than " + std::to_string(kMaxStages) +
                " nodes whose output shapes depend on values, one after another");
  std::shared_ptr<const Stage> rest;
  out_of_memory_as_error(graph.source, [&] {
    std::lock_guard<std::mutex> lock(rests_mutex);
    auto& held = rests[key];
    if (!held) {
      // The branch's own names get the If's as a prefix: another branch
      // spliced in later (a sibling's, which may reuse them) cannot meet them.
      // (They are never among the values carried in, so the key holds without it.)
      std::map<std::string, std::string> own;
      if (branch) {
        for (auto& [name, t] : branch->initializers) own[name] = prefix + name;
        for (auto& n : branch->nodes)
          for (auto& o : n.outputs)
            if (!o.empty()) own[o] = prefix + o;
      }
      auto own_name = [&](std::string& name) {
        if (auto it = own.find(name); it != own.end()) name = it->second;
      };
      Graph g;
      g.source = graph.source;
      g.opset = graph.opset;
      for (auto* n : order) {
        g.nodes.push_back(*n);
        for (auto& name : g.nodes.back().inputs) own_name(name);
        for (auto& name : g.nodes.back().outputs) own_name(name);
      }
      g.initializers = graph.initializers;
      if (branch)
        for (auto& [name, t] : branch->initializers) g.initializers[own.at(name)] = t;
      g.outputs = graph.outputs;
      for (auto& name : g.outputs)
        if (auto it = graph.declared.find(name); it != graph.declared.end()) g.declared[name] = it->second;
      g.inputs = inputs;
      for (auto& name : inputs) g.declared[name] = ValueType{value[name]->dtype, Shape(value[name]->shape.size(), -1), {}};
      held = std::make_shared<const Stage>(session, std::move(g), depth + 1, known);
    }
    rest = held;
    return 0;
  });
  std::vector<const Tensor*> rest_in;
  for (auto& name : inputs) rest_in.push_back(value.at(name));
  rest->run_into(rest_in.data(), rest_in.size(), out, steps);
}

}  // namespace

Session::Session(const std::string& model_path, const SessionOptions& options) : impl_(std::make_unique<Impl>()) {
  out_of_memory_as_error(model_path, [&] { impl_->init(load_onnx_file(model_path), options); });
}

Session::Session(const void* bytes, size_t size, const SessionOptions& options) : impl_(std::make_unique<Impl>()) {
  out_of_memory_as_error("<bytes>", [&] { impl_->init(load_onnx_bytes(bytes, size), options); });
}

Session::~Session() = default;

void Session::run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) const {
  auto& g = impl_->graph();
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
  auto& g = impl_->graph();
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
  if (in.size() != impl_->graph().inputs.size()) throw Error(impl_->graph().source + ": wrong number of inputs");
  // One row per step of each plan run (a graph cut by a node whose output
  // shapes depend on values runs several, and that node between them), in
  // the order first run; later runs of the same add their seconds.
  std::vector<StepProfile> r;
  std::map<const void*, size_t> first_row;
  for (int k = 0; k < iterations; ++k) {
    StepTimes times;
    impl_->run(in, &times);
    for (auto& t : times) {
      auto it = first_row.find(t.key);
      const bool same = it != first_row.end() && it->second + t.rows.size() <= r.size() &&
                        std::equal(t.rows.begin(), t.rows.end(), r.begin() + std::ptrdiff_t(it->second),
                                   [](const StepProfile& a, const StepProfile& b) {
                                     return a.name == b.name && a.in_shapes == b.in_shapes;
                                   });
      if (!same) {
        first_row[t.key] = r.size();
        r.insert(r.end(), t.rows.begin(), t.rows.end());
        continue;
      }
      for (size_t i = 0; i < t.rows.size(); ++i) r[it->second + i].seconds.push_back(t.rows[i].seconds[0]);
    }
  }
  return r;
}

const std::vector<std::string>& Session::input_names() const { return impl_->graph().inputs; }
const std::vector<std::string>& Session::output_names() const { return impl_->graph().outputs; }
const ValueType& Session::input_type(const std::string& name) const { return impl_->graph().declared.at(name); }
const Graph& Session::graph() const { return impl_->graph(); }
const std::vector<Rewrite>& Session::rewrites() const { return impl_->rewrites; }
Isa Session::isa() const { return impl_->isa; }
int Session::threads() const { return impl_->threads; }
bool Session::bf16_matmuls() const { return impl_->bf16_matmuls; }
size_t Session::plans_held() const {
  std::lock_guard<std::mutex> lock(impl_->root->plans_mutex);
  return impl_->root->plans.size();
}
size_t Session::plans_built() const {
  std::lock_guard<std::mutex> lock(impl_->root->plans_mutex);
  return impl_->root->built;
}

}  // namespace normrt
