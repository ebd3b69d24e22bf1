#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "datasets.h"
#include "landscape/core/architectures.h"
#include "landscape/core/rng.h"
#include "landscape/core/system.h"
#include "landscape/engine/engine.h"
#include "landscape/engine/train.h"
#include "landscape/io/summary.h"
#include "model_io.h"
#include "zoo.h"

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;
namespace fs = std::filesystem;

Result<c10::Device> ParseDevice(const std::string& text);  // engine.cc

std::vector<std::pair<std::string, std::string>> ArchitectureNames() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& a : core::Architectures()) out.emplace_back(a.name, a.description);
  return out;
}

Status ExportArchitecture(const std::string& name, const std::vector<int64_t>& input_shape, int64_t classes,
                          uint64_t seed, const std::string& path) {
  LS_ASSIGN_OR_RETURN(torch::jit::Module m, BuildArchitecture(name, input_shape, classes, seed));
  try {
    m.eval();
    m.save(path);
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, "cannot save " + path + ": " + FirstLine(e));
  }
  return Status::Ok();
}

namespace {

// torch.optim's shape: every parameter with a gradient g (plus wd·θ: L2 weight decay, added to the
// gradient as torch.optim does) is updated by the subclass's rule.
class Optimizer {
 public:
  Optimizer(std::vector<at::Tensor> params, double wd) : params_(std::move(params)), wd_(wd) {}
  virtual ~Optimizer() = default;
  /// One update of every parameter with a gradient, at learning rate `lr`.
  void Step(double lr) {
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) {
      at::Tensor& p = params_[i];
      if (!p.grad().defined()) continue;
      at::Tensor g = p.grad();
      if (wd_ != 0) g = g.add(p, wd_);
      Update(i, p, g, lr);
    }
  }
  void ZeroGrad() {
    for (auto& p : params_) {
      if (p.grad().defined()) {
        p.mutable_grad().detach_();
        p.mutable_grad().zero_();
      }
    }
  }

 protected:
  /// Parameter i (`p`) with its decayed gradient `g`.
  virtual void Update(size_t i, at::Tensor& p, const at::Tensor& g, double lr) = 0;
  size_t size() const { return params_.size(); }

 private:
  std::vector<at::Tensor> params_;
  double wd_;
};

// SGD as torch.optim.SGD: buf = μ·buf + g; step = nesterov ? g + μ·buf : buf; θ -= lr·step.
class Sgd final : public Optimizer {
 public:
  Sgd(std::vector<at::Tensor> params, double momentum, bool nesterov, double wd)
      : Optimizer(std::move(params), wd), buf_(size()), momentum_(momentum), nesterov_(nesterov) {}

 protected:
  void Update(size_t i, at::Tensor& p, const at::Tensor& g, double lr) override {
    at::Tensor step = g;
    if (momentum_ != 0) {
      if (!buf_[i].defined()) {
        buf_[i] = g.clone();
      } else {
        buf_[i].mul_(momentum_).add_(g);
      }
      step = nesterov_ ? g.add(buf_[i], momentum_) : buf_[i];
    }
    p.add_(step, -lr);
  }

 private:
  std::vector<at::Tensor> buf_;
  double momentum_;
  bool nesterov_;
};

// Adam as torch.optim.Adam (amsgrad off): m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
// θ -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps), t the parameter's step count.
class Adam final : public Optimizer {
 public:
  Adam(std::vector<at::Tensor> params, double beta1, double beta2, double eps, double wd)
      : Optimizer(std::move(params), wd), m_(size()), v_(size()), t_(size(), 0), beta1_(beta1), beta2_(beta2),
        eps_(eps) {}

 protected:
  void Update(size_t i, at::Tensor& p, const at::Tensor& g, double lr) override {
    if (!m_[i].defined()) {
      m_[i] = at::zeros_like(p);
      v_[i] = at::zeros_like(p);
    }
    const double t = static_cast<double>(++t_[i]);
    m_[i].lerp_(g, 1 - beta1_);
    v_[i].mul_(beta2_).addcmul_(g, g, 1 - beta2_);
    const double bias1 = 1 - std::pow(beta1_, t), bias2 = 1 - std::pow(beta2_, t);
    at::Tensor denom = (v_[i].sqrt() / std::sqrt(bias2)).add_(eps_);
    p.addcdiv_(m_[i], denom, -lr / bias1);
  }

 private:
  std::vector<at::Tensor> m_, v_;
  std::vector<int64_t> t_;
  double beta1_, beta2_, eps_;
};

at::Tensor BatchLoss(const at::Tensor& out, const at::Tensor& y, core::Loss loss, at::Reduction::Reduction red) {
  if (loss == core::Loss::kCrossEntropy) return at::cross_entropy_loss(out, y, {}, red);
  if (loss == core::Loss::kRegression) {
    const int64_t k = out.numel() / std::max<int64_t>(1, out.size(0));
    at::Tensor per_sample = (out - y.reshape(out.sizes())).pow(2).sum() / static_cast<double>(k);
    return red == at::Reduction::Sum ? per_sample : per_sample / static_cast<double>(out.size(0));
  }
  const int64_t classes = out.size(1);
  at::Tensor p = at::softmax(out, 1);
  at::Tensor d = (p - at::one_hot(y, classes).to(p.scalar_type())).pow(2);
  return red == at::Reduction::Sum ? d.sum() / static_cast<double>(classes) : d.mean();
}

// Random crop (zero padding 4) and optional horizontal flip, per sample.
at::Tensor Augment(const at::Tensor& x, bool flip, core::Rng& rng) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3), pad = 4;
  at::Tensor padded = at::constant_pad_nd(x, {pad, pad, pad, pad}, 0.0);
  at::Tensor out = at::empty_like(x);
  for (int64_t i = 0; i < n; ++i) {
    const auto dy = static_cast<int64_t>(rng.Below(2 * pad + 1));
    const auto dx = static_cast<int64_t>(rng.Below(2 * pad + 1));
    at::Tensor crop = padded[i].narrow(1, dy, h).narrow(2, dx, w);
    if (flip && rng.Below(2) == 1) crop = crop.flip({2});
    out[i].copy_(crop);
  }
  return out;
}

std::pair<double, double> EvaluateSplit(torch::jit::Module& m, const Dataset& d, int64_t batch, core::Loss loss) {
  c10::InferenceMode guard;
  m.eval();
  double total = 0;
  int64_t correct = 0;
  for (int64_t s = 0; s < d.size(); s += batch) {
    const int64_t len = std::min(batch, d.size() - s);
    at::Tensor x = d.images.narrow(0, s, len), y = d.labels.narrow(0, s, len);
    at::Tensor out = m.forward({x}).toTensor();
    total += BatchLoss(out, y, loss, at::Reduction::Sum).item<double>();
    if (loss != core::Loss::kRegression) correct += out.argmax(1).eq(y).sum().item<int64_t>();
  }
  const double n = static_cast<double>(d.size());
  return {total / n, loss == core::Loss::kRegression ? NAN : 100.0 * static_cast<double>(correct) / n};
}

}  // namespace

namespace {

Status CheckTrainOptions(const TrainOptions& opts) {
  if (opts.epochs < 1) return core::InvalidArgument("epochs", "must be at least 1");
  if (opts.batch_size < 1) return core::InvalidArgument("batch-size", "must be at least 1");
  if (!(opts.lr > 0)) return core::InvalidArgument("lr", "must be positive");
  if (opts.optimizer != "sgd" && opts.optimizer != "adam") return core::InvalidArgument("optimizer", "expected sgd or adam");
  if (!(opts.beta1 >= 0 && opts.beta1 < 1 && opts.beta2 >= 0 && opts.beta2 < 1)) {
    return core::InvalidArgument("betas", "must be in [0, 1)");
  }
  if (!(opts.eps > 0)) return core::InvalidArgument("eps", "must be positive");
  if (!(opts.weight_decay >= 0)) return core::InvalidArgument("weight-decay", "must be at least 0");
  if (opts.out_dir.empty()) return core::InvalidArgument("out", "an output directory is required");
  if (opts.augment != "auto" && opts.augment != "none" && opts.augment != "crop" && opts.augment != "crop-flip") {
    return core::InvalidArgument("augment", "expected auto, none, crop or crop-flip");
  }
  return Status::Ok();
}

// opts.optimizer ("adam" or "sgd") over `params`.
std::unique_ptr<Optimizer> MakeOptimizer(const TrainOptions& opts, const std::vector<at::Tensor>& params) {
  if (opts.optimizer == "adam") return std::make_unique<Adam>(params, opts.beta1, opts.beta2, opts.eps, opts.weight_decay);
  return std::make_unique<Sgd>(params, opts.momentum, opts.nesterov, opts.weight_decay);
}

// The epochs after which the learning rate decays: opts.lr_steps, or the reference's 150/225/275 of 300
// scaled to opts.epochs.
std::vector<int64_t> LrSteps(const TrainOptions& opts) {
  std::vector<int64_t> steps = opts.lr_steps;
  if (steps.empty()) {
    for (double frac : {150.0 / 300, 225.0 / 300, 275.0 / 300}) {
      const auto e = static_cast<int64_t>(std::llround(frac * static_cast<double>(opts.epochs)));
      if (e >= 1 && e < opts.epochs && (steps.empty() || steps.back() != e)) steps.push_back(e);
    }
  }
  return steps;
}

// One epoch: the training data once in a random order (rng), a step per batch; the summed loss and the
// correct count over its samples.
Status RunEpoch(torch::jit::Module& model, Optimizer& optimizer, const Dataset& train, const TrainOptions& opts,
                int64_t epoch, double lr, bool crop, bool flip, const c10::Device& device, core::Rng& rng,
                double& loss_sum, int64_t& correct) {
  const int64_t n = train.size();
  model.train(true);
  const std::vector<int64_t> perm = core::Permutation(n, rng);
  at::Tensor perm_t = at::from_blob(const_cast<int64_t*>(perm.data()), {n}, at::kLong).to(device);
  for (int64_t s = 0; s < n; s += opts.batch_size) {
    const int64_t len = std::min(opts.batch_size, n - s);
    at::Tensor idx = perm_t.narrow(0, s, len);
    at::Tensor x = train.images.index_select(0, idx);
    at::Tensor y = train.labels.index_select(0, idx);
    if (crop) x = Augment(x, flip, rng);
    optimizer.ZeroGrad();
    at::Tensor out = model.forward({x}).toTensor();
    at::Tensor loss = BatchLoss(out, y, opts.loss, at::Reduction::Mean);
    loss.backward();
    optimizer.Step(lr);
    const double lv = loss.item<double>();
    if (!std::isfinite(lv)) {
      return Status(StatusCode::kFailedPrecondition,
                    "training diverged at epoch " + std::to_string(epoch) + " (loss " + std::to_string(lv) +
                        "); try a smaller --lr");
    }
    loss_sum += lv * static_cast<double>(len);
    if (opts.loss != core::Loss::kRegression) correct += out.argmax(1).eq(y).sum().item<int64_t>();
  }
  return Status::Ok();
}

// train.json: the options, what "auto" chose, the checkpoints and every epoch's log.
nlohmann::json TrainRecord(const TrainOptions& opts, const std::vector<int64_t>& steps, bool crop, bool flip,
                           const std::vector<int64_t>& shape, int64_t classes, const TrainResult& result) {
  nlohmann::json j;
  j["arch"] = opts.arch;
  j["data"] = opts.data.source;
  j["normalize"] = opts.data.normalize;
  j["max_samples"] = opts.data.max_samples;
  j["epochs"] = opts.epochs;
  j["batch_size"] = opts.batch_size;
  j["lr"] = opts.lr;
  j["lr_steps"] = steps;
  j["lr_decay"] = opts.lr_decay;
  j["optimizer"] = opts.optimizer;
  if (opts.optimizer == "adam") {
    j["betas"] = {opts.beta1, opts.beta2};
    j["eps"] = opts.eps;
  } else {
    j["momentum"] = opts.momentum;
    j["nesterov"] = opts.nesterov;
  }
  j["weight_decay"] = opts.weight_decay;
  j["seed"] = opts.seed;
  j["augment"] = crop ? (flip ? "crop-flip" : "crop") : "none";
  j["loss"] = core::Name(opts.loss);
  j["input_shape"] = shape;
  j["classes"] = classes;
  j["final_model"] = result.final_model;
  j["checkpoints"] = result.checkpoints;
  j["versions"] = EngineVersions();
  nlohmann::json epochs = nlohmann::json::array();
  for (const auto& e : result.epochs) {
    epochs.push_back({{"epoch", e.epoch},
                      {"lr", e.lr},
                      {"train_loss", e.train_loss},
                      {"train_acc", e.train_acc},
                      {"test_loss", e.test_loss},
                      {"test_acc", e.test_acc},
                      {"seconds", e.seconds},
                      {"checkpoint", e.checkpoint}});
  }
  j["log"] = epochs;
  return j;
}

}  // namespace

Result<TrainResult> Train(const TrainOptions& opts, const std::function<void(const EpochLog&)>& on_epoch) {
  LS_RETURN_IF_ERROR(CheckTrainOptions(opts));
  LS_ASSIGN_OR_RETURN(c10::Device device, ParseDevice(opts.device));
  at::set_num_threads(opts.threads > 0 ? opts.threads : core::CoresOwned());

  const std::string data_root = opts.data_root.empty() ? DefaultDataRoot() : opts.data_root;
  LS_ASSIGN_OR_RETURN(Dataset train, LoadDatasetSplit(opts.data, true, data_root));
  std::optional<Dataset> test;
  if (opts.eval_samples >= 0) {
    core::DataSpec test_spec = opts.data;
    test_spec.max_samples = opts.eval_samples;
    test_spec.subset_seed.reset();
    auto t = LoadDatasetSplit(test_spec, false, data_root);
    if (t.ok()) test = std::move(*t);
  }
  const std::vector<int64_t> shape(train.images.sizes().begin() + 1, train.images.sizes().end());
  const bool targets = at::isFloatingType(train.labels.scalar_type());
  if (targets != (opts.loss == core::Loss::kRegression)) {
    return core::InvalidArgument("loss", targets ? "the labels are floats (regression targets): use --loss regression"
                                                 : "--loss regression needs float targets, the labels are integers");
  }
  // A built-in architecture's outputs: the classes, or the targets' values per sample.
  const int64_t classes = targets ? train.labels.numel() / std::max<int64_t>(1, train.size())
                                  : std::max<int64_t>(train.labels.max().item<int64_t>() + 1, 2);

  torch::jit::Module model;
  if (fs::exists(opts.arch)) {
    LS_ASSIGN_OR_RETURN(model, LoadTorchScript(opts.arch));
  } else {
    LS_ASSIGN_OR_RETURN(model, BuildArchitecture(opts.arch, shape, classes, opts.seed));
  }
  std::error_code ec;
  fs::create_directories(opts.out_dir, ec);
  if (ec) return Status(StatusCode::kInvalidArgument, "cannot create " + opts.out_dir + ": " + ec.message(), "out");

  const std::vector<int64_t> steps = LrSteps(opts);
  const bool crop = opts.augment == "crop" || opts.augment == "crop-flip" ||
                    (opts.augment == "auto" && shape.size() == 3 && shape[0] == 3 && shape[1] == 32 && shape[2] == 32);
  const bool flip = opts.augment == "crop-flip" || (opts.augment == "auto" && crop);
  if (crop && train.images.dim() != 4) {
    return core::InvalidArgument("augment", "crops need images [N, C, H, W]; use --augment none");
  }

  TrainResult result;
  try {
    model.to(device);
    train.images = train.images.to(device);
    train.labels = train.labels.to(device);
    if (test) {
      test->images = test->images.to(device);
      test->labels = test->labels.to(device);
    }
    std::vector<at::Tensor> params;
    for (const auto& p : model.parameters()) {
      p.requires_grad_(true);
      params.push_back(p);
    }
    std::unique_ptr<Optimizer> optimizer = MakeOptimizer(opts, params);
    std::ofstream log(fs::path(opts.out_dir) / "train_log.csv");
    log << "epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds,checkpoint\n";

    auto save = [&](int64_t epoch, EpochLog* entry) {
      const std::string path = (fs::path(opts.out_dir) / ("model_" + std::to_string(epoch) + ".pt")).string();
      model.eval();
      model.save(path);
      result.checkpoints.push_back(path);
      result.final_model = path;
      entry->checkpoint = path;
    };
    auto record = [&](EpochLog& e) {
      log << e.epoch << "," << e.lr << "," << e.train_loss << "," << e.train_acc << "," << e.test_loss << ","
          << e.test_acc << "," << e.seconds << "," << e.checkpoint << "\n";
      log.flush();
      result.epochs.push_back(e);
      if (on_epoch) on_epoch(e);
    };

    // Epoch 0: the initialization.
    {
      EpochLog e;
      e.epoch = 0;
      e.lr = opts.lr;
      if (test) std::tie(e.test_loss, e.test_acc) = EvaluateSplit(model, *test, 256, opts.loss);
      save(0, &e);
      record(e);
    }
    core::Rng rng(opts.seed ^ 0x7a11e5ULL);
    double lr = opts.lr;
    const int64_t n = train.size();
    for (int64_t epoch = 1; epoch <= opts.epochs; ++epoch) {
      // lr_steps are 0-based epoch counts: a step at s applies from epoch s + 1 on (the reference's
      // "epochs 150, 225, 275" of 1-based training epochs).
      for (int64_t s : steps)
        if (s == epoch - 1) lr *= opts.lr_decay;
      const auto t0 = std::chrono::steady_clock::now();
      double loss_sum = 0;
      int64_t correct = 0;
      LS_RETURN_IF_ERROR(RunEpoch(model, *optimizer, train, opts, epoch, lr, crop, flip, device, rng, loss_sum, correct));
      EpochLog e;
      e.epoch = epoch;
      e.lr = lr;
      e.train_loss = loss_sum / static_cast<double>(n);
      e.train_acc = opts.loss == core::Loss::kRegression
                        ? NAN
                        : 100.0 * static_cast<double>(correct) / static_cast<double>(n);
      if (test) std::tie(e.test_loss, e.test_acc) = EvaluateSplit(model, *test, 256, opts.loss);
      e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (epoch == 1 || epoch == opts.epochs || (opts.save_every > 0 && epoch % opts.save_every == 0)) save(epoch, &e);
      record(e);
    }
  } catch (const std::exception& ex) {
    return Status(StatusCode::kInternal, "training failed: " + FirstLine(ex));
  }

  const nlohmann::json j = TrainRecord(opts, steps, crop, flip, shape, classes, result);
  LS_RETURN_IF_ERROR(io::WriteTextFile((fs::path(opts.out_dir) / "train.json").string(), j.dump(2)));
  return result;
}

}  // namespace landscape::engine
