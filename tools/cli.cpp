#include "tools/cli.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "runtime/tensor_io.h"

namespace normrt::cli {
namespace fs = std::filesystem;

std::string Args::value() {
  if (i_ + 1 >= argc_) throw UsageError(arg_ + " needs a value");
  return argv_[++i_];
}

double Args::number(double lo, double hi) {
  const std::string option = arg_, v = value();
  char* end = nullptr;
  const double n = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || !(n >= lo && n <= hi)) throw UsageError(option + ": bad number '" + v + "'");
  return n;
}

bool Args::common(SessionOptions& o, std::vector<std::string>& inputs) {
  if (is("-i", "--input")) inputs.push_back(value());
  else if (is("--threads")) o.threads = int(number(1, 1024));
  else if (is("--isa")) o.isa = value();
  else if (is("--no-optimize")) o.optimize = false;
  else if (is("--no-winograd")) o.winograd = false;
  else if (is("--bf16-matmuls")) o.bf16_matmuls = true;
  else return false;
  return true;
}

void Args::positional() {
  if (!arg_.empty() && arg_[0] == '-') throw UsageError("unknown option " + arg_);
  if (!model_.empty()) throw UsageError("more than one model given");
  model_ = arg_;
}

const std::string& Args::model() const {
  if (model_.empty()) throw UsageError("no model given");
  return model_;
}

std::vector<Tensor> make_inputs(const Session& s, const std::vector<std::string>& specs) {
  const auto& names = s.input_names();
  std::map<std::string, Tensor> given;
  size_t next = 0;
  for (auto& spec : specs) {
    std::string name, path = spec;
    auto eq = spec.find('=');
    if (eq != std::string::npos && !fs::exists(spec)) {
      name = spec.substr(0, eq);
      path = spec.substr(eq + 1);
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        std::string all;
        for (auto& n : names) all += (all.empty() ? "" : ", ") + n;
        throw Error(s.graph().source + ": the model has no input named '" + name + "' (inputs: " + all + ")");
      }
    } else {
      if (next >= names.size())
        throw Error(s.graph().source + ": more inputs given than the model's " + std::to_string(names.size()));
      name = names[next++];
    }
    if (given.count(name)) throw Error("input '" + name + "' is given twice");
    given[name] = read_tensor_file(path);
  }
  std::vector<Tensor> out;
  std::mt19937 rng(0);
  for (auto& name : names) {
    auto it = given.find(name);
    if (it != given.end()) {
      out.push_back(std::move(it->second));
      continue;
    }
    const ValueType& vt = s.input_type(name);
    Shape shape = vt.dims;
    for (auto& d : shape) d = d < 0 ? 1 : d;
    Tensor t(vt.dtype, shape);
    if (vt.dtype == DType::float32) {
      std::uniform_real_distribution<float> u(-1.f, 1.f);
      for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
    }  // integers (indices, ids): zeros, valid for any table; bools: false (a padding mask masking nothing)
    out.push_back(std::move(t));
  }
  return out;
}

void write_outputs(const std::string& dir, const Session& s, const std::vector<Tensor>& outputs) {
  fs::path target(dir);
  fs::path tmp = target.string() + ".tmp-" + std::to_string(getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (!fs::create_directories(tmp, ec) && ec) throw Error(dir + ": cannot create output folder: " + ec.message());
  try {
    std::ostringstream json;
    json << "{\"outputs\": [";
    for (size_t k = 0; k < outputs.size(); ++k) {
      write_npy((tmp / ("output_" + std::to_string(k) + ".npy")).string(), outputs[k]);
      json << (k ? ", " : "") << "{\"name\": \"" << s.output_names()[k] << "\", \"file\": \"output_" << k
           << ".npy\", \"shape\": [";
      for (size_t i = 0; i < outputs[k].shape.size(); ++i) json << (i ? ", " : "") << outputs[k].shape[i];
      json << "], \"dtype\": \"" << dtype_name(outputs[k].dtype) << "\"";
      // numpy has no bfloat16: write_npy stores such values as float32, exactly.
      if (outputs[k].dtype == DType::bfloat16) json << ", \"stored_as\": \"float32\"";
      json << "}";
    }
    json << "]}\n";
    std::ofstream f(tmp / "outputs.json");
    f << json.str();
    if (!f.flush()) throw Error(dir + ": cannot write outputs.json");
    f.close();
    if (!fs::exists(target)) {
      fs::rename(tmp, target);
      return;
    }
    if (!fs::is_directory(target)) throw Error(dir + ": exists and is not a folder");
    for (auto& e : fs::directory_iterator(tmp)) fs::rename(e.path(), target / e.path().filename());
    fs::remove(tmp);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

const char* bf16_matmuls_note(const Session& s, const SessionOptions& o) {
  return s.bf16_matmuls() ? "   bf16 matmuls" : o.bf16_matmuls ? "   (no bf16 matmuls on this CPU)" : "";
}

std::string summary(const Tensor& t) {
  std::ostringstream o;
  o << dtype_name(t.dtype) << shape_str(t.shape);
  const int64_t n = t.numel();
  if (n == 0) return o.str();
  std::vector<double> v(size_t(std::min<int64_t>(n, int64_t(1) << 26)));
  for (size_t i = 0; i < v.size(); ++i) {
    switch (t.dtype) {
      case DType::float32: v[i] = t.data<float>()[i]; break;
      case DType::float16: v[i] = half_to_float(t.data<uint16_t>()[i]); break;
      case DType::bfloat16: v[i] = bfloat16_to_float(t.data<uint16_t>()[i]); break;
      case DType::int64: v[i] = double(t.data<int64_t>()[i]); break;
      case DType::int32: v[i] = t.data<int32_t>()[i]; break;
      default: v[i] = t.data<uint8_t>()[i]; break;
    }
  }
  double mn = v[0], mx = v[0], sum = 0;
  size_t argmax = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    mn = std::min(mn, v[i]);
    if (v[i] > mx) mx = v[i], argmax = i;
    sum += v[i];
  }
  o << "  min " << mn << "  max " << mx << "  mean " << sum / double(v.size()) << "  argmax " << argmax << "  first [";
  for (size_t i = 0; i < std::min<size_t>(5, v.size()); ++i) o << (i ? ", " : "") << v[i];
  o << (v.size() > 5 ? ", ...]" : "]");
  return o.str();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace normrt::cli
