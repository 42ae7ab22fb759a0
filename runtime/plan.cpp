#include "runtime/plan.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>

#include "graph/geometry.h"
#include "kernels/dnnl_ops.h"
#include "runtime/repeated_work.h"
#include "runtime/sliced_products.h"

namespace normrt {
namespace {

constexpr size_t kAlign = 64;
constexpr int64_t kShapeSized = 16;  // float values this small of constants are evaluated at plan time
size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
uint8_t* aligned_bytes(size_t n) {
  void* p = std::aligned_alloc(kAlign, align_up(std::max<size_t>(n, 1)));
  if (!p) throw std::bad_alloc();
  return static_cast<uint8_t*>(p);
}
size_t bytes_of(const ValueInfo& v) { return size_t(shape_numel(v.shape)) * dtype_size(v.dtype); }

void check_sizes(const Node& n, const std::vector<ValueInfo>& out, size_t limit, const std::string& where) {
  for (size_t k = 0; k < out.size(); ++k)
    check_bytes(bytes_of(out[k]), limit, where,
                "output '" + (k < n.outputs.size() ? n.outputs[k] : "") + "' of shape " + shape_str(out[k].shape));
}

// Runs one kernel now on known inputs (constant folding), its scratch space
// within `limit` (the outputs were checked when inferred).
std::vector<std::shared_ptr<const Tensor>> evaluate(const Kernel& k, const std::vector<const ValueInfo*>& in,
                                                    const std::vector<ValueInfo>& out, size_t limit,
                                                    const std::string& where) {
  check_bytes(k.scratch_bytes(), limit, where, "its scratch space");
  std::vector<Tensor> results;
  for (auto& o : out) results.emplace_back(o.dtype, o.shape);
  std::vector<const void*> in_ptrs(std::max<size_t>(in.size(), 8), nullptr);
  std::vector<void*> out_ptrs(std::max<size_t>(out.size(), 8), nullptr);
  for (size_t i = 0; i < in.size(); ++i) in_ptrs[i] = in[i] ? in[i]->value->bytes.data() : nullptr;
  for (size_t i = 0; i < out.size(); ++i) out_ptrs[i] = results[i].bytes.data();
  std::unique_ptr<uint8_t, void (*)(void*)> scratch(aligned_bytes(k.scratch_bytes()), std::free);
  kernels::DnnlRun run;
  k.run(RunArgs{in_ptrs.data(), out_ptrs.data(), scratch.get(), &run});
  run.stream().wait();
  std::vector<std::shared_ptr<const Tensor>> r;
  for (auto& t : results) r.push_back(std::make_shared<const Tensor>(std::move(t)));
  return r;
}

// Shapes, and the work a step does, for profiles.
void describe(Step& step, const std::vector<const ValueInfo*>& in, const std::vector<ValueInfo>& out) {
  for (auto* v : in) {
    step.in_shapes.push_back(v ? v->shape : Shape{});
    if (v) step.bytes += double(bytes_of(*v));
  }
  for (auto& v : out) {
    step.out_shapes.push_back(v.shape);
    step.bytes += double(bytes_of(v));
  }
  const std::string& op = step.node->op_type;
  if (op == "Conv" || op == "FusedConv") {
    // 2 * output elements * (C/group) * kernel elements
    const Shape& w = in[1]->shape;
    step.flops = 2.0 * double(shape_numel(out[0].shape)) * double(shape_numel(w) / w[0]);
  } else if (op == "ConvTranspose") {
    const Shape& w = in[1]->shape;
    step.flops = 2.0 * double(shape_numel(in[0]->shape)) * double(shape_numel(w) / w[0]);
  } else if (op == "MatMul" || op == "FusedMatMul" || op == "Gemm") {
    // 2 * output elements * K
    Shape a = in[0]->shape;
    if (op == "Gemm" && step.node->attr_i("transA", 0)) std::swap(a[0], a[1]);
    if (step.node->has("perm_a")) a = permuted(a, permutation(*step.node, "perm_a", a.size(), ""));
    const int64_t K = a.empty() ? 1 : a.back();
    step.flops = 2.0 * double(shape_numel(out[0].shape)) * double(K);
  } else if (op == "LSTM" || op == "GRU" || op == "RNN") {
    // The products: 2 * steps * batch * directions * gates * hidden * (input + hidden)
    const Shape &w = in[1]->shape, &r = in[2]->shape;
    const double steps_batch = double(shape_numel(in[0]->shape) / std::max<int64_t>(in[0]->shape.back(), 1));
    step.flops = 2.0 * steps_batch * double(w[0] * w[1]) * double(w[2] + r[2]);
  }
}

// The work_key of the step node `n` would run, from what each input is (its
// buffer, or a constant); false when its outputs must have buffers of their
// own (a graph output, an omitted output).
bool shareable_work(const Graph& g, const Node& n, const std::vector<const ValueInfo*>& in,
                    const std::map<std::string, int>& slot_of, const std::set<std::string>& blocked, std::string* key) {
  std::vector<std::string> ids;
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const std::string& name = n.inputs[k];
    const ValueInfo* v = k < in.size() ? in[k] : nullptr;
    if (name.empty() || !v) {
      ids.push_back("-");
    } else if (v->value) {
      ids.push_back(constant_id(*v->value));
    } else {
      auto it = slot_of.find(name);
      if (it == slot_of.end()) return false;
      // A view shares its input's buffer: the shape tells them apart.
      std::string id = "s";  // (not "s" + ...: g++ 12 warns of a false overlap there)
      id += std::to_string(it->second) + (blocked.count(name) ? "b " : " ") + dtype_name(v->dtype) + shape_str(v->shape);
      ids.push_back(std::move(id));
    }
  }
  for (auto& o : n.outputs) {
    if (o.empty() || g.is_output(o)) return false;
    ids.push_back(blocked.count(o) ? "out b" : "out");
  }
  return work_key(n, ids, key);
}

}  // namespace

void check_bytes(size_t bytes, size_t limit, const std::string& where, const std::string& what) {
  if (limit != 0 && bytes > limit)
    throw Error(where + ": " + what + " needs " + std::to_string(bytes) + " bytes, above the session's limit of " +
                std::to_string(limit) + " (max_tensor_bytes)");
}

const Tensor* one_value(const Tensor* t, DType type, const std::string& where, const std::string& what) {
  if (t && (t->dtype != type || t->numel() != 1))
    throw Error(where + ": " + what + " must be one " + dtype_name(type) + " value, not " + dtype_name(t->dtype) + " " +
                shape_str(t->shape));
  return t;
}

std::vector<std::shared_ptr<const Tensor>> evaluate_node(const Registry& reg, const Node& n,
                                                         const std::vector<const Tensor*>& inputs, int64_t opset,
                                                         Isa isa, const std::string& where,
                                                         size_t max_tensor_bytes) {
  const OpEntry* op = reg.find(n.domain, n.op_type, opset);
  if (!op) throw Error(where + ": op is not supported at opset " + std::to_string(opset));
  if (op->compute) return op->compute(n, inputs, opset, where, max_tensor_bytes);
  if (op->control_flow) throw Error(where + ": runs only as part of a session's run");
  std::vector<ValueInfo> infos(inputs.size());
  std::vector<const ValueInfo*> in;
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k]) {
      in.push_back(nullptr);
      continue;
    }
    infos[k] = ValueInfo{inputs[k]->dtype, inputs[k]->shape, std::shared_ptr<const Tensor>(inputs[k], [](const Tensor*) {})};
    in.push_back(&infos[k]);
  }
  while (!in.empty() && !in.back()) in.pop_back();
  std::vector<ValueInfo> out = infer_node(n, in, opset, where);
  check_sizes(n, out, max_tensor_bytes, where);
  std::unique_ptr<Kernel> k;
  try {
    k = op->make(BindContext{n, in, out, opset, isa, where, {}, {}, kernels::HeldLayout::blocked, nullptr});
  } catch (const dnnl::error& e) {
    throw Error(where + ": oneDNN cannot run this node: " + e.what());
  }
  // Copies: the non-owning input views above must not escape.
  return evaluate(*k, in, out, max_tensor_bytes, where);
}


Plan::Plan(const Graph& g, const Registry& reg, const std::vector<ValueInfo>& inputs, Isa isa, bool fold_float,
           kernels::WeightCache* weights, bool winograd, size_t max_tensor_bytes, bool bf16_matmuls) {
  std::set<std::string> blocked = fold_float ? blocked_conv_values(g, winograd) : std::set<std::string>{};
  build(g, reg, inputs, isa, fold_float, weights, winograd, max_tensor_bytes, bf16_matmuls, blocked);
  // Values carried past a cut leave as plain tensors: if one was to be held
  // in the convolutions' layout, the plan is made again with it plain.
  bool again = false;
  for (auto& name : carried_) again = blocked.erase(name) != 0 || again;
  if (!again) return;
  steps_.clear();
  slots_.clear();
  constants_.clear();
  outputs_.clear();
  output_slots_.clear();
  carried_.clear();
  carried_known_.clear();
  cut_ = -1;
  arena_bytes_ = scratch_bytes_ = max_args_ = 0;
  pool_.clear();
  build(g, reg, inputs, isa, fold_float, weights, winograd, max_tensor_bytes, bf16_matmuls, blocked);
}

void Plan::build(const Graph& g, const Registry& reg, const std::vector<ValueInfo>& inputs, Isa isa, bool fold_float,
                 kernels::WeightCache* weights, bool winograd, size_t max_tensor_bytes, bool bf16_matmuls,
                 const std::set<std::string>& blocked) {
  std::map<std::string, ValueInfo> info;
  std::map<std::string, int> slot_of;
  auto new_slot = [&](const std::string& name, Slot s) {
    slot_of[name] = int(slots_.size());
    slots_.push_back(s);
  };
  for (auto& [name, t] : g.initializers) info[name] = ValueInfo{t->dtype, t->shape, t};
  const kernels::HeldLayout held = held_conv_layout(g, winograd);
  std::map<std::string, std::vector<int>> done;  // work_key -> the output slots of the step that does it
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    info[g.inputs[i]] = inputs[i];
    new_slot(g.inputs[i], Slot{Slot::Kind::input, int(i), 0, bytes_of(inputs[i]), nullptr});
  }

  // Bind kernels in order; evaluate what is already known. The plan stops
  // at the first node whose output shapes depend on values not known yet.
  for (size_t index = 0; index < g.nodes.size(); ++index) {
    const Node& n = g.nodes[index];
    const std::string where = g.where(n);
    std::vector<const ValueInfo*> in;
    bool all_known = true;
    for (auto& name : n.inputs) {
      if (name.empty()) { in.push_back(nullptr); continue; }
      auto it = info.find(name);
      if (it == info.end()) throw Error(where + ": input '" + name + "' is not defined");
      in.push_back(&it->second);
      all_known = all_known && it->second.value != nullptr;
    }
    while (!in.empty() && !in.back()) in.pop_back();
    const OpEntry* op = reg.find(n.domain, n.op_type, g.opset);
    if (!op) throw Error(where + ": op is not supported at opset " + std::to_string(g.opset));
    bool waits_for_values = op->control_flow || (op->compute && !all_known);
    for (size_t k = 0; k < in.size(); ++k)
      waits_for_values = waits_for_values || (in[k] && !in[k]->value && shape_depends_on_value(n, k));
    if (waits_for_values) {
      cut_ = int(index);
      break;
    }
    if (op->compute) {
      std::vector<const Tensor*> values;
      for (auto* v : in) values.push_back(v ? v->value.get() : nullptr);
      auto results = op->compute(n, values, g.opset, where, max_tensor_bytes);
      for (size_t k = 0; k < results.size() && k < n.outputs.size(); ++k)
        if (!n.outputs[k].empty()) info[n.outputs[k]] = ValueInfo{results[k]->dtype, results[k]->shape, results[k]};
      continue;
    }
    std::vector<ValueInfo> out = infer_node(n, in, g.opset, where);
    check_sizes(n, out, max_tensor_bytes, where);
    // Every output empty: nothing to compute, so no kernel is bound (kernels
    // still meet empty inputs, or some empty outputs, and handle them).
    if (std::all_of(out.begin(), out.end(), [](const ValueInfo& o) { return shape_numel(o.shape) == 0; }))
      for (auto& o : out)
        if (!o.value) o.value = std::make_shared<Tensor>(o.dtype, o.shape);
    // Integer and bool values of constants (shape chains), and float ones of
    // a few elements (Resize's scales, built by Concat), are evaluated now
    // whatever fold_float says: they may decide shapes.
    bool shape_like = true, known_by_inference = true;
    for (auto& o : out) {
      shape_like = shape_like && (o.dtype != DType::float32 || shape_numel(o.shape) <= kShapeSized);
      known_by_inference = known_by_inference && o.value != nullptr;
    }
    // Kernels evaluated now read and write plain tensors; only kernels of
    // the plan's steps see the held convolution layouts.
    auto bind = [&](bool step) {
      // (Products folded now stay float32, as folding at load does.)
      BindContext bc{n, in, out, g.opset, isa, where, {}, {}, held, weights, winograd, bf16_matmuls && step};
      for (size_t k = 0; k < n.inputs.size(); ++k)  // (a value folded to a constant is plain)
        bc.in_blocked.push_back(step && blocked.count(n.inputs[k]) != 0 && !(k < in.size() && in[k] && in[k]->value));
      for (auto& name : n.outputs) bc.out_blocked.push_back(step && blocked.count(name) != 0);
      try {
        return op->make(bc);
      } catch (const dnnl::error& e) {
        throw Error(where + ": oneDNN cannot run this node: " + e.what());
      }
    };
    if (!known_by_inference && all_known && (fold_float || shape_like)) {
      auto values = evaluate(*bind(false), in, out, max_tensor_bytes, where);
      for (size_t k = 0; k < out.size(); ++k) out[k].value = values[k];
      known_by_inference = true;
    }
    for (size_t k = 0; k < out.size(); ++k)
      if (!n.outputs[k].empty()) info[n.outputs[k]] = out[k];
    if (known_by_inference) continue;
    // A view of a plain value shares its buffer.
    if (op->view && slot_of.count(n.inputs[0]) && op->view(n, in) && !blocked.count(n.inputs[0]) && !blocked.count(n.outputs[0])) {
      slot_of[n.outputs[0]] = slot_of[n.inputs[0]];
      continue;
    }

    // Work an earlier step does already: its buffers serve this node's readers.
    std::string key;
    if (fold_float && shareable_work(g, n, in, slot_of, blocked, &key)) {
      if (auto it = done.find(key); it != done.end()) {
        for (size_t k = 0; k < n.outputs.size(); ++k) slot_of[n.outputs[k]] = it->second[k];
        continue;
      }
    }

    Step step;
    step.node = &n;
    step.kernel = bind(true);
    check_bytes(step.kernel->scratch_bytes(), max_tensor_bytes, where, "its scratch space");
    describe(step, in, out);
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const std::string& name = n.inputs[k];
      if (name.empty()) { step.ins.push_back(-1); continue; }
      if (!slot_of.count(name)) {  // a constant read by a kernel at run time
        auto& v = info[name];
        constants_.push_back(v.value);
        new_slot(name, Slot{Slot::Kind::constant, -1, 0, v.value->bytes.size(), v.value->bytes.data()});
      }
      step.ins.push_back(slot_of[name]);
    }
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      // An omitted optional output still gets a buffer: kernels write every output.
      std::string name = n.outputs[k].empty() ? "\x01unnamed" + std::to_string(slots_.size()) : n.outputs[k];
      size_t bytes = bytes_of(out[k]);
      if (blocked.count(name)) {
        const Shape& s = out[k].shape;
        bytes = kernels::held_bytes(held, s[0], s[1], s[2], s[3]);
        check_bytes(bytes, max_tensor_bytes, where, "output '" + name + "' in its blocked layout");
      }
      new_slot(name, Slot{Slot::Kind::arena, -1, 0, bytes, nullptr});
      step.outs.push_back(slot_of[name]);
    }
    if (!key.empty()) done.emplace(key, step.outs);
    step.where = where;
    scratch_bytes_ = std::max(scratch_bytes_, step.kernel->scratch_bytes());
    max_args_ = std::max({max_args_, step.ins.size(), step.outs.size()});
    steps_.push_back(std::move(step));
  }

  // Graph outputs (or, for a plan that stops early, every value the rest of
  // the graph reads): written in place by their producer where possible,
  // else copied at the end.
  if (cut_ >= 0) {
    std::set<std::string> seen;
    auto carry = [&](const std::string& name) {
      if (!name.empty() && !g.is_constant(name) && info.count(name) && seen.insert(name).second)
        carried_.push_back(name);
    };
    for (size_t i = size_t(cut_); i < g.nodes.size(); ++i)
      for (auto& name : g.nodes[i].inputs) carry(name);
    for (auto& name : g.outputs) carry(name);
  }
  for (auto& name : carried_) {
    const ValueInfo& v = info.at(name);
    carried_known_.push_back(v.value && (v.dtype != DType::float32 || shape_numel(v.shape) <= kShapeSized));
  }
  const std::vector<std::string>& produced = cut_ >= 0 ? carried_ : g.outputs;
  for (size_t k = 0; k < produced.size(); ++k) {
    const std::string& name = produced[k];
    auto& v = info.at(name);
    outputs_.push_back(ValueInfo{v.dtype, v.shape, nullptr});
    if (!slot_of.count(name)) {
      constants_.push_back(v.value);
      new_slot(name, Slot{Slot::Kind::constant, -1, 0, v.value->bytes.size(), v.value->bytes.data()});
    }
    Slot& s = slots_[size_t(slot_of[name])];
    if (s.kind == Slot::Kind::arena) {
      s.kind = Slot::Kind::output;
      s.index = int(k);
    }
    output_slots_.push_back(slot_of[name]);
  }

  if (fold_float) compute_sliced_products(g, steps_, slots_, info);

  // Steps whose outputs nothing reads at run time (their readers were shape
  // ops, folded above, or Slices that compute their columns) are dropped.
  std::vector<bool> read(slots_.size(), false);
  for (int s : output_slots_) read[size_t(s)] = true;
  for (size_t i = steps_.size(); i-- > 0;) {
    if (std::none_of(steps_[i].outs.begin(), steps_[i].outs.end(), [&](int s) { return read[size_t(s)]; })) {
      steps_.erase(steps_.begin() + std::ptrdiff_t(i));
      continue;
    }
    for (int s : steps_[i].ins)
      if (s >= 0) read[size_t(s)] = true;
  }

  // A step that may write over an input (a convolution summing a residual)
  // gets that input's buffer for its output when nothing reads the input
  // afterwards, so the residual is not copied first.
  std::vector<int> last_read(slots_.size(), -1);
  for (size_t i = 0; i < steps_.size(); ++i)
    for (int s : steps_[i].ins)
      if (s >= 0) last_read[size_t(s)] = int(i);
  for (size_t i = 0; i < steps_.size(); ++i) {
    const int k = steps_[i].kernel->in_place_input();
    if (k < 0 || size_t(k) >= steps_[i].ins.size() || steps_[i].ins[size_t(k)] < 0) continue;
    const int from = steps_[i].ins[size_t(k)], to = steps_[i].outs[0];
    const Slot &in = slots_[size_t(from)], &out = slots_[size_t(to)];
    if (in.kind != Slot::Kind::arena || out.kind != Slot::Kind::arena || in.bytes != out.bytes ||
        last_read[size_t(from)] != int(i) || std::count(steps_[i].ins.begin(), steps_[i].ins.end(), from) != 1)
      continue;
    for (auto& st : steps_)
      for (int& s : st.ins)
        if (s == to) s = from;
    steps_[i].outs[0] = from;
    for (size_t j = i + 1; j < steps_.size(); ++j)
      for (int s : steps_[j].ins)
        if (s == from) last_read[size_t(from)] = int(j);
  }

  // Arena: lifetimes [first write, last read] in step order; place the
  // largest first at the lowest offset free for its whole lifetime.
  std::vector<int> first(slots_.size(), -1), last(slots_.size(), -1);
  for (size_t i = 0; i < steps_.size(); ++i) {
    for (int s : steps_[i].outs) {  // (a slot written in place is written twice)
      if (first[size_t(s)] < 0) first[size_t(s)] = int(i);
      last[size_t(s)] = int(i);
    }
    for (int s : steps_[i].ins)
      if (s >= 0) last[size_t(s)] = int(i);
  }
  std::vector<size_t> order;
  for (size_t s = 0; s < slots_.size(); ++s)
    if (slots_[s].kind == Slot::Kind::arena && first[s] >= 0) order.push_back(s);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return slots_[a].bytes > slots_[b].bytes; });
  std::vector<size_t> placed;
  for (size_t s : order) {
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t p : placed)
      if (first[p] <= last[s] && first[s] <= last[p])
        busy.push_back({slots_[p].offset, slots_[p].offset + align_up(slots_[p].bytes)});
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (auto& [b, e] : busy) {
      if (offset + align_up(slots_[s].bytes) <= b) break;
      offset = std::max(offset, e);
    }
    slots_[s].offset = offset;
    arena_bytes_ = std::max(arena_bytes_, offset + align_up(slots_[s].bytes));
    placed.push_back(s);
  }
  // One run context ready, its pages touched, so the first run does not pay for them.
  auto ctx = acquire();
  std::memset(ctx->arena.get(), 0, arena_bytes_);
  std::memset(ctx->scratch.get(), 0, scratch_bytes_);
  pool_.reserve(4);
  release(std::move(ctx));
}

std::unique_ptr<RunContext> Plan::acquire() const {
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (!pool_.empty()) {
      auto c = std::move(pool_.back());
      pool_.pop_back();
      return c;
    }
  }
  auto c = std::make_unique<RunContext>();
  c->arena.reset(aligned_bytes(arena_bytes_));
  c->scratch.reset(aligned_bytes(scratch_bytes_));
  c->ptrs.resize(slots_.size());
  c->in_args.resize(std::max<size_t>(max_args_, 8));
  c->out_args.resize(std::max<size_t>(max_args_, 8));
  return c;
}

void Plan::release(std::unique_ptr<RunContext> c) const {
  std::lock_guard<std::mutex> lock(pool_mutex_);
  pool_.push_back(std::move(c));
}

void Plan::execute(const Tensor* const* inputs, std::vector<Tensor>& outputs,
                   std::vector<double>* step_seconds) const {
  auto ctx = acquire();
  struct Return {
    const Plan* p;
    std::unique_ptr<RunContext>& c;
    ~Return() { p->release(std::move(c)); }
  } give_back{this, ctx};
  for (size_t s = 0; s < slots_.size(); ++s) {
    const Slot& sl = slots_[s];
    switch (sl.kind) {
      case Slot::Kind::constant: ctx->ptrs[s] = const_cast<void*>(sl.data); break;
      case Slot::Kind::input: ctx->ptrs[s] = const_cast<uint8_t*>(inputs[size_t(sl.index)]->bytes.data()); break;
      case Slot::Kind::arena: ctx->ptrs[s] = ctx->arena.get() + sl.offset; break;
      case Slot::Kind::output: ctx->ptrs[s] = outputs[size_t(sl.index)].bytes.data(); break;
    }
  }
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& step = steps_[i];
    std::fill(ctx->in_args.begin(), ctx->in_args.end(), nullptr);
    for (size_t k = 0; k < step.ins.size(); ++k)
      ctx->in_args[k] = step.ins[k] < 0 ? nullptr : ctx->ptrs[size_t(step.ins[k])];
    for (size_t k = 0; k < step.outs.size(); ++k) ctx->out_args[k] = ctx->ptrs[size_t(step.outs[k])];
    const auto start = step_seconds ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    try {
      step.kernel->run(RunArgs{ctx->in_args.data(), ctx->out_args.data(), ctx->scratch.get(), &ctx->dnnl});
    } catch (const dnnl::error& e) {
      throw Error(step.where + ": oneDNN could not run it: " + e.what());
    }
    if (step_seconds) {
      ctx->dnnl.stream().wait();
      (*step_seconds)[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  }
  ctx->dnnl.stream().wait();
  for (size_t k = 0; k < output_slots_.size(); ++k) {
    const Slot& sl = slots_[size_t(output_slots_[k])];
    if (sl.kind == Slot::Kind::output && sl.index == int(k)) continue;
    if (!outputs[k].bytes.empty()) std::memcpy(outputs[k].bytes.data(), ctx->ptrs[size_t(output_slots_[k])], outputs[k].bytes.size());
  }
}

}  // namespace normrt
