#include "zoo.h"

#include <ATen/ATen.h>

#include <array>
#include <cmath>
#include <functional>
#include <map>
#include <regex>
#include <sstream>

#include "landscape/core/architectures.h"
#include "landscape/core/rng.h"
#include "model_io.h"

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;
using torch::jit::Module;

namespace {

// Creates script modules; modules with the same signature share one class type,
// whose forward is compiled once.
class ModuleFactory {
 public:
  explicit ModuleFactory(uint64_t seed) : seed_(seed), cu_(std::make_shared<torch::jit::CompilationUnit>()) {}

  // `setup` registers the module's attributes (always in the same order for a signature).
  Module Make(const std::string& cls, const std::string& signature, const std::function<void(Module&)>& setup,
              const std::string& forward) {
    auto it = types_.find(signature);
    if (it != types_.end()) {
      Module m(cu_, it->second);
      m.register_attribute("training", c10::BoolType::get(), true);
      setup(m);
      return m;
    }
    Module m(c10::QualifiedName("__torch__.landscape." + cls), cu_, /*shouldMangle=*/true);
    m.register_attribute("training", c10::BoolType::get(), true);
    setup(m);
    m.define(forward);
    types_[signature] = m.type();
    return m;
  }

  std::string TypeName(const Module& m) const { return m.type()->name()->qualifiedName(); }

  at::Tensor Normal(std::vector<int64_t> shape, double stddev) {
    at::Tensor t = at::empty(shape, at::kFloat);
    core::Rng rng = core::Rng::Stream(seed_, 0x5eed, counter_++);
    rng.FillGaussian(t.data_ptr<float>(), static_cast<size_t>(t.numel()));
    return t.mul_(stddev);
  }

  Module Conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, bool bias = false) {
    std::ostringstream fwd;
    fwd << "def forward(self, x):\n    return torch.conv2d(x, self.weight, " << (bias ? "self.bias" : "None") << ", ["
        << stride << ", " << stride << "], [" << pad << ", " << pad << "], [1, 1], 1)\n";
    at::Tensor w = Normal({out, in, k, k}, std::sqrt(2.0 / static_cast<double>(in * k * k)));
    return Make(
        "Conv2d", "conv:" + std::to_string(stride) + ":" + std::to_string(pad) + ":" + std::to_string(bias),
        [&](Module& m) {
          m.register_parameter("weight", w.requires_grad_(), false);
          if (bias) m.register_parameter("bias", at::zeros({out}).requires_grad_(), false);
        },
        fwd.str());
  }

  Module BatchNorm(int64_t c) {
    return Make(
        "BatchNorm", "bn",
        [&](Module& m) {
          m.register_parameter("weight", at::ones({c}).requires_grad_(), false);
          m.register_parameter("bias", at::zeros({c}).requires_grad_(), false);
          m.register_buffer("running_mean", at::zeros({c}));
          m.register_buffer("running_var", at::ones({c}));
          m.register_buffer("num_batches_tracked", at::zeros({}, at::kLong));
        },
        R"(
def forward(self, x):
    if self.training:
        self.num_batches_tracked.add_(1)
    return torch.batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var, self.training, 0.1, 1e-5, True)
)");
  }

  // Linear with N(0, stddev²) weights and zero bias; stddev < 0 means Kaiming (fan_in).
  Module Linear(int64_t in, int64_t out, double stddev) {
    if (stddev < 0) stddev = std::sqrt(2.0 / static_cast<double>(in));
    at::Tensor w = Normal({out, in}, stddev);
    return Make(
        "Linear", "linear",
        [&](Module& m) {
          m.register_parameter("weight", w.requires_grad_(), false);
          m.register_parameter("bias", at::zeros({out}).requires_grad_(), false);
        },
        "def forward(self, x):\n    return torch.linear(x, self.weight, self.bias)\n");
  }

  // A module holding `children` in order, with the given forward.
  Module Composite(const std::string& cls, const std::vector<std::pair<std::string, Module>>& children,
                   const std::string& forward, const std::string& extra_signature = {}) {
    std::string sig = cls + ":" + extra_signature;
    for (const auto& [name, child] : children) sig += "|" + name + "=" + TypeName(child);
    return Make(
        cls, sig,
        [&](Module& m) {
          for (const auto& [name, child] : children) m.register_module(name, child);
        },
        forward);
  }

  // Children called one after another.
  Module Sequential(const std::string& cls, const std::vector<std::pair<std::string, Module>>& children) {
    std::string fwd = "def forward(self, x):\n";
    for (const auto& [name, child] : children) fwd += "    x = self." + name + ".forward(x)\n";
    fwd += "    return x\n";
    return Composite(cls, children, fwd);
  }

 private:
  uint64_t seed_;
  uint64_t counter_ = 0;
  std::shared_ptr<torch::jit::CompilationUnit> cu_;
  std::map<std::string, c10::ClassTypePtr> types_;
};

constexpr double kClassifierStd = 1e-3;

// The residual addition of a block whose body maps `in` channels to `out` at `stride`: the identity, or
// (when the shape changes) the reference's projection shortcut, Sequential(conv 1×1, BatchNorm), as
// child "shortcut"; then the final ReLU.
void AddResidual(ModuleFactory& f, int64_t in, int64_t out, int64_t stride,
                 std::vector<std::pair<std::string, Module>>* children, std::string* fwd) {
  if (stride != 1 || in != out) {
    children->emplace_back("shortcut", f.Sequential("Shortcut", {{"conv", f.Conv(in, out, 1, stride, 0)},
                                                                  {"bn", f.BatchNorm(out)}}));
    *fwd += "    out = out + self.shortcut.forward(x)\n";
  } else {
    *fwd += "    out = out + x\n";
  }
  *fwd += "    return torch.relu(out)\n";
}

Module BasicBlock(ModuleFactory& f, int64_t in, int64_t out, int64_t stride, bool shortcut) {
  std::vector<std::pair<std::string, Module>> c = {{"conv1", f.Conv(in, out, 3, stride, 1)},
                                                   {"bn1", f.BatchNorm(out)},
                                                   {"conv2", f.Conv(out, out, 3, 1, 1)},
                                                   {"bn2", f.BatchNorm(out)}};
  std::string fwd =
      "def forward(self, x):\n"
      "    out = torch.relu(self.bn1.forward(self.conv1.forward(x)))\n"
      "    out = self.bn2.forward(self.conv2.forward(out))\n";
  if (shortcut) {
    AddResidual(f, in, out, stride, &c, &fwd);
  } else {
    fwd += "    return torch.relu(out)\n";  // the reference's BasicBlock_noshortcut: the ReLU, no addition
  }
  return f.Composite(shortcut ? "BasicBlock" : "BasicBlockNoShort", c, fwd);
}

// The reference's Bottleneck (expansion 4): 1×1, 3×3 (stride), 1×1 convolutions with BatchNorm, a
// projection shortcut when the shape changes; `shortcut` false: Bottleneck_noshortcut (no addition).
Module Bottleneck(ModuleFactory& f, int64_t in, int64_t planes, int64_t stride, bool shortcut) {
  const int64_t out = 4 * planes;
  std::vector<std::pair<std::string, Module>> c = {{"conv1", f.Conv(in, planes, 1, 1, 0)},
                                                   {"bn1", f.BatchNorm(planes)},
                                                   {"conv2", f.Conv(planes, planes, 3, stride, 1)},
                                                   {"bn2", f.BatchNorm(planes)},
                                                   {"conv3", f.Conv(planes, out, 1, 1, 0)},
                                                   {"bn3", f.BatchNorm(out)}};
  std::string fwd =
      "def forward(self, x):\n"
      "    out = torch.relu(self.bn1.forward(self.conv1.forward(x)))\n"
      "    out = torch.relu(self.bn2.forward(self.conv2.forward(out)))\n"
      "    out = self.bn3.forward(self.conv3.forward(out))\n";
  if (!shortcut) {
    fwd += "    return out\n";  // the reference's Bottleneck_noshortcut: no addition, no final ReLU
    return f.Composite("BottleneckNoShort", c, fwd);
  }
  AddResidual(f, in, out, stride, &c, &fwd);
  return f.Composite("Bottleneck", c, fwd);
}

// The reference's ImageNet-style ResNet at CIFAR resolution (its ResNet class: resnet18/34/50/101/152):
// a 3×3 stem of 64 channels, four stages of 64, 128, 256, 512 planes (strides 1, 2, 2, 2), global
// average pooling (the reference's avg_pool2d(4) of the 4×4 map), a linear classifier.
Module ImageNetResNet(ModuleFactory& f, const std::array<int64_t, 4>& blocks, bool bottleneck, bool shortcut,
                      int64_t in_ch, int64_t classes) {
  const int64_t expansion = bottleneck ? 4 : 1;
  std::vector<std::pair<std::string, Module>> top = {{"conv1", f.Conv(in_ch, 64, 3, 1, 1)}, {"bn1", f.BatchNorm(64)}};
  int64_t planes_in = 64;
  for (int s = 0; s < 4; ++s) {
    const int64_t planes = int64_t{64} << s;
    std::vector<std::pair<std::string, Module>> stage;
    for (int64_t b = 0; b < blocks[static_cast<size_t>(s)]; ++b) {
      const int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      stage.emplace_back("b" + std::to_string(b), bottleneck ? Bottleneck(f, planes_in, planes, stride, shortcut)
                                                             : BasicBlock(f, planes_in, planes, stride, shortcut));
      planes_in = planes * expansion;
    }
    top.emplace_back("layer" + std::to_string(s + 1), f.Sequential("Stage", stage));
  }
  top.emplace_back("linear", f.Linear(512 * expansion, classes, kClassifierStd));
  return f.Composite("ResNetImageNet", top,
                     "def forward(self, x):\n"
                     "    out = torch.relu(self.bn1.forward(self.conv1.forward(x)))\n"
                     "    out = self.layer1.forward(out)\n"
                     "    out = self.layer2.forward(out)\n"
                     "    out = self.layer3.forward(out)\n"
                     "    out = self.layer4.forward(out)\n"
                     "    out = torch.mean(out, [2, 3])\n"
                     "    return self.linear.forward(out)\n");
}

// CIFAR ResNet (He et al. 2016; the reference's ResNet_cifar / WResNet_cifar):
// 6n+2 layers, widths 16k, 32k, 64k, global average pooling.
Module CifarResNet(ModuleFactory& f, int64_t depth, int64_t k, bool shortcut, int64_t in_ch, int64_t classes) {
  const int64_t n = (depth - 2) / 6;
  std::vector<std::pair<std::string, Module>> top = {{"conv1", f.Conv(in_ch, 16 * k, 3, 1, 1)},
                                                     {"bn1", f.BatchNorm(16 * k)}};
  int64_t planes_in = 16 * k;
  const int64_t widths[3] = {16 * k, 32 * k, 64 * k};
  for (int s = 0; s < 3; ++s) {
    std::vector<std::pair<std::string, Module>> blocks;
    for (int64_t b = 0; b < n; ++b) {
      const int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      blocks.emplace_back("b" + std::to_string(b), BasicBlock(f, planes_in, widths[s], stride, shortcut));
      planes_in = widths[s];
    }
    top.emplace_back("layer" + std::to_string(s + 1), f.Sequential("Stage", blocks));
  }
  top.emplace_back("linear", f.Linear(64 * k, classes, kClassifierStd));
  return f.Composite("ResNet", top,
                     "def forward(self, x):\n"
                     "    out = torch.relu(self.bn1.forward(self.conv1.forward(x)))\n"
                     "    out = self.layer1.forward(out)\n"
                     "    out = self.layer2.forward(out)\n"
                     "    out = self.layer3.forward(out)\n"
                     "    out = torch.mean(out, [2, 3])\n"
                     "    return self.linear.forward(out)\n");
}

// VGG-9 of the reference: 7 conv(+bias)+BN+ReLU, max pools with ceil_mode, FC+BN1d+ReLU, classifier.
Module Vgg9(ModuleFactory& f, int64_t in_ch, int64_t h, int64_t w, int64_t classes) {
  const int cfg[] = {64, 64, -1, 128, 128, -1, 256, 256, 256, -1};
  std::vector<std::pair<std::string, Module>> feats;
  std::string fwd = "def forward(self, x):\n";
  int64_t c = in_ch;
  int i = 0;
  for (int v : cfg) {
    if (v < 0) {
      fwd += "    x = torch.max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], True)\n";
      h = (h + 1) / 2;
      w = (w + 1) / 2;
      continue;
    }
    const std::string conv = "conv" + std::to_string(i), bn = "bn" + std::to_string(i);
    feats.emplace_back(conv, f.Conv(c, v, 3, 1, 1, /*bias=*/true));
    feats.emplace_back(bn, f.BatchNorm(v));
    fwd += "    x = torch.relu(self." + bn + ".forward(self." + conv + ".forward(x)))\n";
    c = v;
    ++i;
  }
  fwd += "    return x\n";
  Module features = f.Composite("VggFeatures", feats, fwd, std::to_string(h) + "x" + std::to_string(w));
  return f.Composite("VGG",
                     {{"features", features},
                      {"fc", f.Linear(c * h * w, c, -1)},
                      {"fc_bn", f.BatchNorm(c)},
                      {"classifier", f.Linear(c, classes, kClassifierStd)}},
                     "def forward(self, x):\n"
                     "    out = torch.flatten(self.features.forward(x), 1)\n"
                     "    out = torch.relu(self.fc_bn.forward(self.fc.forward(out)))\n"
                     "    return self.classifier.forward(out)\n");
}

// DenseNet-BC of the reference (bottleneck layers, compression 0.5).
Module DenseNet(ModuleFactory& f, const std::vector<int64_t>& nblocks, int64_t growth, int64_t in_ch,
                int64_t classes) {
  int64_t planes = 2 * growth;
  std::vector<std::pair<std::string, Module>> top = {{"conv1", f.Conv(in_ch, planes, 3, 1, 1)}};
  std::string fwd = "def forward(self, x):\n    out = self.conv1.forward(x)\n";
  for (size_t s = 0; s < nblocks.size(); ++s) {
    std::vector<std::pair<std::string, Module>> layers;
    for (int64_t b = 0; b < nblocks[s]; ++b) {
      layers.emplace_back("b" + std::to_string(b),
                          f.Composite("DenseBottleneck",
                                      {{"bn1", f.BatchNorm(planes)},
                                       {"conv1", f.Conv(planes, 4 * growth, 1, 1, 0)},
                                       {"bn2", f.BatchNorm(4 * growth)},
                                       {"conv2", f.Conv(4 * growth, growth, 3, 1, 1)}},
                                      "def forward(self, x):\n"
                                      "    out = self.conv1.forward(torch.relu(self.bn1.forward(x)))\n"
                                      "    out = self.conv2.forward(torch.relu(self.bn2.forward(out)))\n"
                                      "    return torch.cat([out, x], 1)\n"));
      planes += growth;
    }
    const std::string dense = "dense" + std::to_string(s + 1);
    top.emplace_back(dense, f.Sequential("DenseStage", layers));
    fwd += "    out = self." + dense + ".forward(out)\n";
    if (s + 1 < nblocks.size()) {
      const int64_t out_planes = planes / 2;
      const std::string trans = "trans" + std::to_string(s + 1);
      top.emplace_back(trans, f.Composite("Transition", {{"bn", f.BatchNorm(planes)},
                                                         {"conv", f.Conv(planes, out_planes, 1, 1, 0)}},
                                          "def forward(self, x):\n"
                                          "    out = self.conv.forward(torch.relu(self.bn.forward(x)))\n"
                                          "    return torch.avg_pool2d(out, [2, 2])\n"));
      fwd += "    out = self." + trans + ".forward(out)\n";
      planes = out_planes;
    }
  }
  top.emplace_back("bn", f.BatchNorm(planes));
  top.emplace_back("linear", f.Linear(planes, classes, kClassifierStd));
  fwd += "    out = torch.mean(torch.relu(self.bn.forward(out)), [2, 3])\n    return self.linear.forward(out)\n";
  return f.Composite("DenseNet", top, fwd);
}

}  // namespace

std::string ReferenceZooName(const std::string& ours) {
  static const std::regex kStageChild(R"(\.b(\d+)\.)");
  static const std::regex kShortcutConv(R"((^|\.)shortcut\.conv\.)");
  static const std::regex kShortcutBn(R"((^|\.)shortcut\.bn\.)");
  static const std::regex kVggFeature(R"(^features\.(conv|bn)(\d+)\.)");
  std::string name = std::regex_replace(ours, kStageChild, ".$1.");
  name = std::regex_replace(name, kShortcutConv, "$1shortcut.0.");
  name = std::regex_replace(name, kShortcutBn, "$1shortcut.1.");
  std::smatch m;
  if (std::regex_search(name, m, kVggFeature)) {
    // VGG-9's Sequential: conv, BN, ReLU per layer, a max pool after layers 1, 3 and 6.
    const int k = std::stoi(m[2]);
    const int index = 3 * k + (k >= 2) + (k >= 4) + (m[1] == "bn" ? 1 : 0);
    name = "features." + std::to_string(index) + "." + m.suffix().str();
  }
  if (name.rfind("fc.", 0) == 0) name = "fc.0." + name.substr(3);
  if (name.rfind("fc_bn.", 0) == 0) name = "fc.1." + name.substr(6);
  return name;
}

Result<torch::jit::Module> BuildArchitecture(const std::string& name, const std::vector<int64_t>& input_shape,
                                             int64_t classes, uint64_t seed) {
  // Feature vectors [D] suit the MLP only (as [D, 1, 1]); everything else takes images [C, H, W].
  if (input_shape.size() == 1 && name == "mlp") {
    return BuildArchitecture(name, {input_shape[0], 1, 1}, classes, seed);
  }
  if (input_shape.size() != 3) {
    return core::InvalidArgument("arch", name == "mlp" ? "input shape must be [D] or [C, H, W]"
                                                       : "'" + name + "' takes images [C, H, W]; feature vectors "
                                                         "need the mlp (or a TorchScript model)");
  }
  const int64_t c = input_shape[0], h = input_shape[1], w = input_shape[2];
  ModuleFactory f(seed);
  try {
    std::smatch m;
    static const std::regex kResNet(R"(resnet(\d+)(_16)?(_noshort)?)");
    static const std::regex kWrn(R"(wrn(\d+)_(\d+)(_noshort)?)");
    if (name == "mlp") {
      return f.Composite("MLP",
                         {{"fc1", f.Linear(c * h * w, 512, -1)},
                          {"fc2", f.Linear(512, 256, -1)},
                          {"fc3", f.Linear(256, classes, kClassifierStd)}},
                         "def forward(self, x):\n"
                         "    out = torch.flatten(x, 1)\n"
                         "    out = torch.relu(self.fc1.forward(out))\n"
                         "    out = torch.relu(self.fc2.forward(out))\n"
                         "    return self.fc3.forward(out)\n",
                         std::to_string(c * h * w));
    }
    if (name == "cnn") {
      const int64_t flat = 64 * (h / 4) * (w / 4);
      return f.Composite("CNN",
                         {{"conv1", f.Conv(c, 32, 3, 1, 1)},
                          {"bn1", f.BatchNorm(32)},
                          {"conv2", f.Conv(32, 64, 3, 1, 1)},
                          {"bn2", f.BatchNorm(64)},
                          {"fc1", f.Linear(flat, 128, -1)},
                          {"fc2", f.Linear(128, classes, kClassifierStd)}},
                         "def forward(self, x):\n"
                         "    out = torch.relu(self.bn1.forward(self.conv1.forward(x)))\n"
                         "    out = torch.max_pool2d(out, [2, 2], [2, 2], [0, 0], [1, 1], False)\n"
                         "    out = torch.relu(self.bn2.forward(self.conv2.forward(out)))\n"
                         "    out = torch.max_pool2d(out, [2, 2], [2, 2], [0, 0], [1, 1], False)\n"
                         "    out = torch.relu(self.fc1.forward(torch.flatten(out, 1)))\n"
                         "    return self.fc2.forward(out)\n");
    }
    if (std::regex_match(name, m, kResNet)) {
      const int64_t depth = std::stoll(m[1]);
      const bool shortcut = !m[3].matched;
      // The reference's keys: 18/34/50/101/152 are its ImageNet-style ResNet; "_16" (resnet50_16_noshort)
      // and every other 6n+2 depth its CIFAR ResNet of 16 base channels.
      static const std::map<int64_t, std::pair<std::array<int64_t, 4>, bool>> kImageNet = {
          {18, {{2, 2, 2, 2}, false}}, {34, {{3, 4, 6, 3}, false}}, {50, {{3, 4, 6, 3}, true}},
          {101, {{3, 4, 23, 3}, true}}, {152, {{3, 8, 36, 3}, true}}};
      auto in = kImageNet.find(depth);
      if (!m[2].matched && in != kImageNet.end()) {
        return ImageNetResNet(f, in->second.first, in->second.second, shortcut, c, classes);
      }
      if (depth < 8 || (depth - 2) % 6 != 0) {
        return core::InvalidArgument("arch", "ResNet depth must be 18, 34, 50, 101, 152 (ImageNet-style) or 6n+2 "
                                             "(CIFAR: 20, 32, 44, 56, 110, ...), got " + m[1].str());
      }
      return CifarResNet(f, depth, 1, shortcut, c, classes);
    }
    if (std::regex_match(name, m, kWrn)) {
      const int64_t depth = std::stoll(m[1]), k = std::stoll(m[2]);
      if (depth < 8 || (depth - 2) % 6 != 0 || k < 1 || k > 16) {
        return core::InvalidArgument("arch", "WRN needs depth 6n+2 and width 1..16, got " + name);
      }
      return CifarResNet(f, depth, k, !m[3].matched, c, classes);
    }
    if (name == "vgg9") return Vgg9(f, c, h, w, classes);
    if (name == "densenet_small") return DenseNet(f, {2, 2, 2, 2}, 12, c, classes);
    if (name == "densenet_cifar") return DenseNet(f, {6, 12, 24, 16}, 12, c, classes);
    if (name == "densenet121") return DenseNet(f, {6, 12, 24, 16}, 32, c, classes);
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, "cannot build " + name + ": " + FirstLine(e));
  }
  return core::InvalidArgument("arch", "unknown architecture '" + name + "' (built in: " + core::ArchitectureNameList() +
                                           ")");
}

Result<torch::jit::Module> BuildArchitectureFor(const std::string& name, const std::vector<int64_t>& input_shape,
                                                const std::vector<std::pair<std::string, at::Tensor>>& state) {
  // The outputs: the rows of the state dict's tensor named like the architecture's last parameter
  // (every built-in ends with its classifier).
  LS_ASSIGN_OR_RETURN(torch::jit::Module probe, BuildArchitecture(name, input_shape, 2, 0));
  const std::vector<NamedTensor> params = CollectTensors(probe, core::DirType::kWeights);
  const std::string last = params.empty() ? "" : params.back().name;
  for (const auto& [key, t] : state) {
    if ((key == last || key == ReferenceZooName(last)) && t.dim() >= 1) {
      return BuildArchitecture(name, input_shape, t.size(0), 0);
    }
  }
  return core::InvalidArgument("arch", "the state dict has no '" + last + "' (the classifier of the built-in '" +
                                           name + "'): it was not saved from this architecture");
}

}  // namespace landscape::engine
