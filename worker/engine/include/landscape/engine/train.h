// Training models without Python: built-in architectures (or a TorchScript
// model to start from), SGD with momentum / Nesterov or Adam (the reference's
// --optimizer sgd|adam), L2 weight decay, the paper's step schedule,
// checkpoints every K epochs as TorchScript archives.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "landscape/core/spec.h"
#include "landscape/core/status.h"

namespace landscape::engine {

struct TrainOptions {
  std::string arch = "cnn";      // a built-in name (see ArchitectureNames) or a TorchScript file to start from
  core::DataSpec data;           // source, normalization, sample limit (batch_size unused: see batch_size)
  int64_t epochs = 10;
  int64_t batch_size = 128;
  double lr = 0.1;
  /// "sgd" (torch.optim.SGD: momentum, Nesterov) or "adam" (torch.optim.Adam with betas and eps
  /// below); weight_decay is added to the gradient (L2) in both, as torch.optim does.
  std::string optimizer = "sgd";
  double momentum = 0.9;
  bool nesterov = true;          // the paper's recipe
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // Adam
  double weight_decay = 5e-4;
  /// Epochs at whose start lr is multiplied by lr_decay. Empty: the paper's
  /// 150/225/275 of 300, scaled to `epochs`.
  std::vector<int64_t> lr_steps;
  double lr_decay = 0.1;
  int64_t save_every = 1;        // checkpoint every K epochs (plus epochs 0, 1 and the last); 0 = only those
  std::string out_dir;
  uint64_t seed = 0;             // initialization, shuffling, augmentation
  std::string augment = "auto";  // auto (crop+flip for 3x32x32 inputs, none otherwise) | none | crop | crop-flip
  int64_t eval_samples = 0;      // test samples evaluated after each epoch; 0 = the whole test split, -1 = none
  core::Loss loss = core::Loss::kCrossEntropy;
  std::string device = "auto";  // as EngineOptions::device: CUDA when present, CPU otherwise
  int threads = 0;
  std::string data_root;        // as EngineOptions::data_root: "" = kDefaultDataRoot
};

struct EpochLog {
  int64_t epoch = 0;
  double lr = 0;
  double train_loss = 0, train_acc = 0;  // running averages over the epoch (train mode)
  double test_loss = -1, test_acc = -1;  // eval mode; -1 when not evaluated
  double seconds = 0;
  std::string checkpoint;                // path, when one was saved
};

struct TrainResult {
  std::string final_model;               // the last checkpoint
  std::vector<std::string> checkpoints;  // in epoch order
  std::vector<EpochLog> epochs;
};

/// Names of the built-in architectures, with a description each.
std::vector<std::pair<std::string, std::string>> ArchitectureNames();

/// Trains and writes DIR/model_<epoch>.pt, DIR/train_log.csv and DIR/train.json.
core::Result<TrainResult> Train(const TrainOptions& opts, const std::function<void(const EpochLog&)>& on_epoch);

/// Writes a freshly initialized built-in architecture as TorchScript (e.g. as
/// the --arch of state-dict checkpoints).
core::Status ExportArchitecture(const std::string& name, const std::vector<int64_t>& input_shape, int64_t classes,
                                uint64_t seed, const std::string& path);

}  // namespace landscape::engine
