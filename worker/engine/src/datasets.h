// Data sets held as contiguous tensors: images float32 [N, C, H, W], labels int64 [N].
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "landscape/core/spec.h"
#include "landscape/core/status.h"
#include "landscape/engine/options.h"

namespace landscape::engine {

struct Dataset {
  at::Tensor images;  // float32 [N, C, H, W], contiguous, normalized
  at::Tensor labels;  // int64 [N]
  std::string description;  // e.g. "fashion-mnist train (1000 of 60000)"
  int64_t total = 0;        // samples in the split before the sample limit
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

/// Where built-in data sets live when no data root is given: kDefaultDataRoot (options.h; Debian's
/// dataset-fashion-mnist installs there). The engine reads no environment: the programs' --data-root
/// (default $LANDSCAPE_DATA_DIR) comes in through EngineOptions::data_root.
std::string DefaultDataRoot();

/// Loads one split (train or test) of `spec.source`, applies the sample limit or
/// seeded subset and the normalization. `data_root` as DefaultDataRoot().
core::Result<Dataset> LoadDatasetSplit(const core::DataSpec& spec, bool train, const std::string& data_root);

}  // namespace landscape::engine
