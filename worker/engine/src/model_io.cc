#include "model_io.h"

#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <unordered_set>

#include "landscape/core/architectures.h"
#include "torch_save_reader.h"
#include "zoo.h"

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;

std::string FirstLine(const std::exception& e) {
  const std::string all = e.what();
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= all.size()) {
    size_t end = all.find('\n', start);
    if (end == std::string::npos) end = all.size();
    std::string line = all.substr(start, end - start);
    if (line.find_first_not_of(" \t") != std::string::npos) lines.push_back(line);
    start = end + 1;
  }
  if (lines.empty()) return "unknown error";
  // TorchScript interpreter errors put the cause ("RuntimeError: ...") on the last line,
  // after a traceback; LibTorch's own errors put it first, before a backtrace.
  if (all.find("The following operation failed in the TorchScript interpreter") != std::string::npos ||
      lines.front().rfind("Traceback", 0) == 0) {
    for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
      if (it->find("Error: ") != std::string::npos) return it->substr(it->find_first_not_of(" \t"));
    }
    return lines.back();
  }
  return lines.front();
}

namespace {

void Collect(const torch::jit::Module& m, const std::string& prefix, bool params_only,
             std::unordered_set<const void*>* seen, std::vector<NamedTensor>* out) {
  const auto type = m.type();
  const size_t n = type->numAttributes();
  auto add = [&](size_t i, bool is_param) {
    const c10::IValue v = m._ivalue()->getSlot(i);
    if (!v.isTensor()) return;  // e.g. a bias registered as None
    at::Tensor t = v.toTensor();
    if (!seen->insert(t.unsafeGetTensorImpl()).second) return;
    out->push_back(NamedTensor{prefix + type->getAttributeName(i), t, is_param});
  };
  for (size_t i = 0; i < n; ++i)
    if (type->is_parameter(i)) add(i, true);
  if (!params_only) {
    for (size_t i = 0; i < n; ++i)
      if (type->is_buffer(i)) add(i, false);
  }
  for (size_t i = 0; i < n; ++i) {
    if (!type->getAttribute(i)->is_module()) continue;
    const c10::IValue v = m._ivalue()->getSlot(i);
    if (!v.isObject()) continue;
    Collect(torch::jit::Module(v.toObject()), prefix + type->getAttributeName(i) + ".", params_only, seen, out);
  }
}

// The class of the object a torch.save archive pickles at its top ("module.name"), when its data.pkl
// starts with a GLOBAL opcode (after PROTO): torch.save(model) writes the module's class there, a
// state dict writes collections.OrderedDict (or a dict opcode: empty). Reads only the opcode's bytes.
std::string PickledTopClass(caffe2::serialize::PyTorchStreamReader& reader) {
  const auto record = reader.getRecord("data.pkl");
  const char* p = static_cast<const char*>(std::get<0>(record).get());
  const size_t size = std::get<1>(record);
  size_t i = 0;
  if (size >= 2 && static_cast<unsigned char>(p[0]) == 0x80) i = 2;  // PROTO <version>
  if (i >= size || p[i] != 'c') return "";                            // not GLOBAL
  const std::string rest(p + i + 1, std::min<size_t>(size - i - 1, 512));
  const size_t nl1 = rest.find('\n');
  const size_t nl2 = nl1 == std::string::npos ? std::string::npos : rest.find('\n', nl1 + 1);
  if (nl2 == std::string::npos) return "";
  return rest.substr(0, nl1) + "." + rest.substr(nl1 + 1, nl2 - nl1 - 1);
}

// Whether a top-level class is a Python object torch.save pickled whole (an nn.Module): anything but the
// containers and tensors of a state dict or checkpoint.
bool IsPickledObject(const std::string& cls) {
  if (cls.empty()) return false;
  for (const char* plain : {"collections.", "builtins.", "__builtin__.", "torch._utils.", "torch._tensor.",
                            "torch.storage.", "numpy."}) {
    if (cls.rfind(plain, 0) == 0) return false;
  }
  return cls.rfind("torch.", 0) != 0 || cls.rfind("torch.nn.", 0) == 0;
}

}  // namespace

std::vector<NamedTensor> CollectTensors(const torch::jit::Module& module, core::DirType type) {
  std::vector<NamedTensor> out;
  std::unordered_set<const void*> seen;
  Collect(module, "", type == core::DirType::kWeights, &seen, &out);
  return out;
}

Result<ModelFileKind> DetectModelFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return core::NotFound(path + ": no such file");
  {
    std::ifstream f(path, std::ios::binary);
    char magic[2] = {0, 0};
    f.read(magic, 2);
    if (magic[0] != 'P' || magic[1] != 'K') {
      if (IsLegacyTorchSave(path)) return ModelFileKind::kStateDict;  // PyTorch < 1.6's torch.save
      return Status(StatusCode::kInvalidArgument,
                    path + ": not a model file (expected a TorchScript archive from torch.jit.save, or a state dict "
                           "from torch.save)");
    }
  }
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    if (reader.hasRecord("constants.pkl") || reader.hasRecord("code/__torch__.py")) {
      return ModelFileKind::kTorchScript;
    }
    for (const auto& r : reader.getAllRecords()) {
      if (r.rfind("code/", 0) == 0) return ModelFileKind::kTorchScript;
    }
    if (reader.hasRecord("data.pkl")) {
      const std::string cls = PickledTopClass(reader);
      if (IsPickledObject(cls)) {
        return Status(StatusCode::kInvalidArgument,
                      path + ": a pickled " + cls + " (torch.save(model)), which needs its Python class to load; "
                             "save it as TorchScript instead: torch.jit.script(model).save(\"" +
                             std::filesystem::path(path).filename().string() +
                             "\") (or torch.jit.trace(model, example_batch).save(...)), or pass the module to the "
                             "Python package (landscape.local(model, ...) or landscape.connect().submit(model, ...)); "
                             "a state dict (torch.save(model.state_dict())) works with --arch");
      }
      return ModelFileKind::kStateDict;
    }
  } catch (const std::exception& e) {
    return Status(StatusCode::kInvalidArgument, path + ": corrupt or truncated model archive: " + FirstLine(e));
  }
  return Status(StatusCode::kInvalidArgument, path + ": a zip file that is neither TorchScript nor torch.save");
}

Result<torch::jit::Module> LoadTorchScript(const std::string& path) {
  try {
    torch::jit::Module m = torch::jit::load(path, c10::Device(c10::kCPU));
    m.eval();
    return m;
  } catch (const std::exception& e) {
    return Status(StatusCode::kInvalidArgument, path + ": cannot load the TorchScript model: " + FirstLine(e));
  }
}

Result<std::vector<std::pair<std::string, at::Tensor>>> LoadStateDict(const std::string& path) {
  LS_ASSIGN_OR_RETURN(PyRef root, ReadTorchSave(path));
  if (root->kind != PyValue::Kind::kDict) {
    return Status(StatusCode::kInvalidArgument, path + ": torch.save file does not hold a dict");
  }
  PyRef dict = root;
  for (const char* key : {"state_dict", "model_state_dict", "model", "net"}) {
    PyRef inner = root->Get(key);
    if (inner && inner->kind == PyValue::Kind::kDict) {
      dict = inner;
      break;
    }
  }
  std::vector<std::pair<std::string, at::Tensor>> out;
  bool all_prefixed = !dict->dict.empty();
  for (const auto& [k, v] : dict->dict) {
    if (!k || k->kind != PyValue::Kind::kString) continue;
    if (!v || v->kind != PyValue::Kind::kTensor) continue;
    out.emplace_back(k->s, v->tensor);
    all_prefixed = all_prefixed && k->s.rfind("module.", 0) == 0;
  }
  if (out.empty()) return Status(StatusCode::kInvalidArgument, path + ": holds no tensors (not a state dict)");
  if (all_prefixed) {
    for (auto& [k, v] : out) k = k.substr(7);
  }
  return out;
}

Status ApplyStateDict(torch::jit::Module& module, const std::vector<std::pair<std::string, at::Tensor>>& state,
                      const std::string& what) {
  std::map<std::string, at::Tensor> by_name(state.begin(), state.end());
  std::set<std::string> used;
  torch::NoGradGuard no_grad;
  for (auto& nt : CollectTensors(module, core::DirType::kStates)) {
    // The tensor's own name, else the reference's name for it (checkpoints of the reference's
    // model classes on a built-in architecture).
    std::string key = nt.name;
    auto it = by_name.find(key);
    if (it == by_name.end()) {
      const std::string alias = ReferenceZooName(nt.name);
      if (alias != nt.name && by_name.count(alias)) it = by_name.find(key = alias);
    }
    if (it == by_name.end()) {
      // PyTorch before 0.4.1 saved BatchNorm without this counter; evaluation never reads it.
      static const std::string kCounter = "num_batches_tracked";
      if (nt.name.size() >= kCounter.size() &&
          nt.name.compare(nt.name.size() - kCounter.size(), kCounter.size(), kCounter) == 0) {
        continue;
      }
      const std::string alias = ReferenceZooName(nt.name);
      return Status(StatusCode::kInvalidArgument,
                    what + ": the state dict lacks '" + nt.name + "'" +
                        (alias != nt.name ? " (or the reference's name for it, '" + alias + "')" : "") +
                        ": it does not match the architecture");
    }
    if (it->second.sizes() != nt.tensor.sizes()) {
      std::ostringstream os;
      os << what << ": '" << key << "' has shape " << it->second.sizes() << " in the state dict but "
         << nt.tensor.sizes() << " in the architecture ('" << nt.name << "')";
      return Status(StatusCode::kInvalidArgument, os.str());
    }
    nt.tensor.copy_(it->second);
    used.insert(key);
  }
  for (const auto& [name, t] : state) {
    if (!used.count(name)) {
      return Status(StatusCode::kInvalidArgument,
                    what + ": the state dict has '" + name + "', which the architecture does not");
    }
  }
  return Status::Ok();
}

Result<torch::jit::Module> LoadModel(const std::string& path, const torch::jit::Module* arch,
                                     const std::string& what) {
  LS_ASSIGN_OR_RETURN(ModelFileKind kind, DetectModelFile(path));
  if (kind == ModelFileKind::kTorchScript) {
    auto m = LoadTorchScript(path);
    if (!m.ok()) return m.status().WithContext(what);
    return m;
  }
  if (!arch) {
    return Status(StatusCode::kInvalidArgument,
                  what + ": " + path + " is a state dict; give the architecture with --arch: a built-in name (" +
                      core::ArchitectureNameList() + ") or a TorchScript model",
                  "model.arch");
  }
  auto state = LoadStateDict(path);
  if (!state.ok()) return state.status().WithContext(what);
  try {
    torch::jit::Module m = arch->deepcopy();
    LS_RETURN_IF_ERROR(ApplyStateDict(m, *state, what + " (" + path + ")"));
    m.eval();
    return m;
  } catch (const std::exception& e) {
    return Status(StatusCode::kInvalidArgument, what + ": cannot apply " + path + ": " + FirstLine(e));
  }
}

}  // namespace landscape::engine
