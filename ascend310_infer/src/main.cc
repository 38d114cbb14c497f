/**
 * TSM offline inference on the unified MindSpore C++ API (MindSpore Lite, or a MindSpore inference package).
 * C++14 (the CMake option TSM_CXX_STANDARD checks it), so GCC 7.3 of the Ascend toolkits can build it.
 *
 *   tsm_infer --model_path=tsm.mindir --input_dir=clips --output_dir=logits [--device_target=Ascend|CPU]
 *             [--device_id=0] [--cpu_threads=0]
 *
 * The model is always built as ModelType::kMindIR: MindSpore Lite's Model::Build accepts nothing else (an OM
 * file is refused with "Invalid model type"), so the Ascend 310/310P route is the MINDIR of export.py.
 *
 * Every `<name>.bin` of input_dir is one clip, the raw bytes of the model input (batch 1, as preprocess.py writes
 * it: float32 or uint8, `(1, T*3, H, W)`). Writes `<name>.bin` = the float32 logits `(1, num_classes)` of each clip
 * to output_dir, and `latency.txt` there: mean and median Predict time over one timed call per clip, after one
 * untimed warm-up call on the first clip. Exits non-zero with a message naming the file on any failed step.
 */
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "include/api/context.h"
#include "include/api/model.h"
#include "include/api/status.h"
#include "include/api/types.h"
#include "utils.h"

namespace {

const char kUsage[] =
    "usage: tsm_infer --model_path=FILE --input_dir=DIR --output_dir=DIR [--device_target=Ascend|CPU]\n"
    "                 [--device_id=0] [--cpu_threads=0]\n"
    "  model_path     Ascend: the MINDIR of export.py; CPU: a MindIR made by the MindSpore Lite converter\n"
    "                 (see README.md). OM files are not accepted (MindSpore Lite builds MindIR only)\n"
    "  input_dir      one <name>.bin per clip, as preprocess.py writes them\n"
    "  output_dir     <name>.bin float32 logits per clip, latency.txt\n";

struct Options {
  std::string model_path, input_dir, output_dir;
  std::string device_target = "Ascend";
  int device_id = 0, cpu_threads = 0;
};

int ToInt(const std::string &name, const std::string &value) {
  try {
    size_t used = 0;
    const int number = std::stoi(value, &used);
    if (used == value.size() && number >= 0) return number;
  } catch (const std::exception &) {
  }
  throw std::runtime_error("--" + name + " must be a non-negative integer, got '" + value + "'");
}

Options ParseOptions(int argc, char **argv) {
  std::map<std::string, std::string> values;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t equals = arg.find('=');
    if (arg.rfind("--", 0) != 0 || equals == std::string::npos) {
      throw std::runtime_error("expected --name=value, got '" + arg + "'\n" + kUsage);
    }
    const std::string name = arg.substr(2, equals - 2), value = arg.substr(equals + 1);
    if (!values.emplace(name, value).second) {
      throw std::runtime_error("--" + name + " given twice ('" + values[name] + "' and '" + value + "'); give it once");
    }
  }
  Options options;
  for (const auto &option : values) {
    const std::string &name = option.first, &value = option.second;
    if (name == "model_path") options.model_path = value;
    else if (name == "input_dir") options.input_dir = value;
    else if (name == "output_dir") options.output_dir = value;
    else if (name == "device_target") options.device_target = value;
    else if (name == "device_id") options.device_id = ToInt(name, value);
    else if (name == "cpu_threads") options.cpu_threads = ToInt(name, value);
    else throw std::runtime_error("unknown option --" + name + "\n" + kUsage);
  }
  if (options.model_path.empty() || options.input_dir.empty() || options.output_dir.empty()) {
    throw std::runtime_error(std::string("--model_path, --input_dir and --output_dir are required\n") + kUsage);
  }
  if (options.device_target != "Ascend" && options.device_target != "CPU") {
    throw std::runtime_error("--device_target must be Ascend or CPU, got '" + options.device_target + "'");
  }
  const std::string &path = options.model_path;
  if (path.size() >= 3 && path.compare(path.size() - 3, 3, ".om") == 0) {
    throw std::runtime_error(path + ": OM models are not supported; MindSpore Lite's Model::Build takes MindIR "
                             "only. Give the MINDIR of export.py (see ascend310_infer/README.md)");
  }
  return options;
}

void Check(const mindspore::Status &status, const std::string &what) {
  if (status != mindspore::kSuccess) {
    throw std::runtime_error(what + " failed: " + status.ToString());
  }
}

std::shared_ptr<mindspore::Context> CreateContext(const Options &options) {
  auto context = std::make_shared<mindspore::Context>();
  auto &devices = context->MutableDeviceInfo();
  if (options.device_target == "Ascend") {  // Ascend 310 / 310P (Atlas 200/300/500 inference products)
    auto ascend = std::make_shared<mindspore::AscendDeviceInfo>();
    ascend->SetDeviceID(options.device_id);
    devices.push_back(ascend);
  } else {
    if (options.cpu_threads > 0) context->SetThreadNum(options.cpu_threads);
    devices.push_back(std::make_shared<mindspore::CPUDeviceInfo>());
  }
  return context;
}

std::string ShapeText(const std::vector<int64_t> &shape) {
  std::ostringstream text;
  text << "(";
  for (size_t i = 0; i < shape.size(); ++i) text << (i ? ", " : "") << shape[i];
  text << ")";
  return text.str();
}

struct Latency {
  double mean_ms, median_ms;
  size_t count;
};

Latency Summarize(std::vector<double> times_ms) {
  std::sort(times_ms.begin(), times_ms.end());
  const size_t n = times_ms.size();
  double total = 0;
  for (double t : times_ms) total += t;
  const double median = n % 2 ? times_ms[n / 2] : (times_ms[n / 2 - 1] + times_ms[n / 2]) / 2;
  return {total / n, median, n};
}

/// One Predict on the clip file; returns its float32 logits output and sets `elapsed_ms` to the Predict time.
mindspore::MSTensor PredictClip(mindspore::Model *model, const mindspore::MSTensor &spec, const std::string &clip,
                                const Options &options, double *elapsed_ms) {
  std::vector<char> data = tsm::ReadExactly(clip, spec.DataSize());
  std::vector<mindspore::MSTensor> inputs;
  inputs.emplace_back(spec.Name(), spec.DataType(), spec.Shape(), data.data(), data.size());
  std::vector<mindspore::MSTensor> outputs;
  const auto start = std::chrono::steady_clock::now();
  Check(model->Predict(inputs, &outputs), "Predict on " + clip);
  *elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (outputs.size() != 1 || outputs[0].DataType() != mindspore::DataType::kNumberTypeFloat32) {
    throw std::runtime_error(options.model_path + ": expected one float32 output (the logits) for " + clip);
  }
  return outputs[0];
}

/// Predict every clip of input_dir after one untimed warm-up Predict on the first; returns the timed calls' latency.
Latency RunClips(mindspore::Model *model, const Options &options, const std::vector<std::string> &clips) {
  std::vector<mindspore::MSTensor> model_inputs = model->GetInputs();
  if (model_inputs.size() != 1) {
    throw std::runtime_error(options.model_path + ": expected one input (the clip), the model has " +
                             std::to_string(model_inputs.size()));
  }
  const mindspore::MSTensor &spec = model_inputs[0];
  std::cout << "model input " << spec.Name() << " " << ShapeText(spec.Shape()) << ", " << spec.DataSize()
            << " bytes" << std::endl;
  double elapsed_ms = 0;
  PredictClip(model, spec, clips[0], options, &elapsed_ms);  // warm-up: first-call allocations, not timed
  std::vector<double> times_ms;
  for (const std::string &clip : clips) {
    mindspore::MSTensor logits = PredictClip(model, spec, clip, options, &elapsed_ms);
    times_ms.push_back(elapsed_ms);
    auto data = logits.Data();
    if (data == nullptr) throw std::runtime_error("no output data for " + clip);
    tsm::WriteFile(options.output_dir + "/" + tsm::Stem(clip) + ".bin", data.get(), logits.DataSize());
  }
  return Summarize(times_ms);
}

}  // namespace

int main(int argc, char **argv) {
  try {
    const Options options = ParseOptions(argc, argv);
    const std::vector<std::string> clips = tsm::ListFiles(options.input_dir, ".bin");
    if (clips.empty()) throw std::runtime_error("no .bin clip files in " + options.input_dir);
    tsm::MakeDirs(options.output_dir);
    mindspore::Model model;
    Check(model.Build(options.model_path, mindspore::ModelType::kMindIR, CreateContext(options)),
          "building " + options.model_path + " for " + options.device_target);
    const Latency latency = RunClips(&model, options, clips);
    std::ostringstream report;
    report << std::fixed << std::setprecision(3) << "mean latency " << latency.mean_ms << " ms, median "
           << latency.median_ms << " ms over " << latency.count << " timed Predict calls (one per clip, after 1 "
           << "untimed warm-up call; " << options.device_target << ")\n";
    tsm::WriteFile(options.output_dir + "/latency.txt", report.str().data(), report.str().size());
    std::cout << report.str() << "wrote " << clips.size() << " logits files to " << options.output_dir << std::endl;
  } catch (const std::exception &error) {
    std::cerr << "tsm_infer: " << error.what() << std::endl;
    return 1;
  }
  return 0;
}
