// PointWeights: a point's weights, θ0 + α·dx + β·dy, set in place in the model's own tensors.
//
// The tensors the directions cover are re-pointed into one flat buffer per floating dtype, so setting a
// point is two fused kernels per buffer (scratch = α·dx + β·dy; flat = θ0 + scratch) with no allocation;
// integer state entries (BatchNorm's num_batches_tracked) get θ0 + trunc(α·dx + β·dy), as the reference
// casts. This is the model state every forward path (evaluator.h) reads.
#pragma once

#include <torch/script.h>

#include <vector>

#include "landscape/core/spec.h"
#include "landscape/core/status.h"
#include "landscape/io/hdf5_files.h"

namespace landscape::engine {

/// Moves a host array to a tensor of `dtype` on `device`, shaped `shape`.
at::Tensor FromHost(const io::HostArray& a, at::ScalarType dtype, const c10::Device& device,
                    at::IntArrayRef shape);

class PointWeights {
 public:
  /// Checks that `dirs` has one array per tensor of `type` of `module` (CollectTensors order), shape by
  /// shape (kInvalidArgument, field "directions", naming the likely mistake), then re-points those
  /// tensors into the flat buffers (on `device`, where the module must already be).
  core::Status Init(torch::jit::Module& module, core::DirType type, const io::DirectionSet& dirs,
                    const c10::Device& device);

  /// Sets the weights for (alpha, beta); beta is ignored for 1-D directions.
  void Set(double alpha, double beta);

  /// One term of the weights: θ0, dx or dy (dy only for 2-D directions).
  enum class Term { kTheta0, kDx, kDy };
  /// Sets the floating buffers to one term alone (integer entries are left as they are); Set or
  /// SetTerm(kTheta0) undoes it.
  void SetTerm(Term term);

  /// Whether `t`'s data lies in a float32 flat buffer (moves with the directions). Undefined: true.
  bool InFloat32Buffer(const at::Tensor& t) const;

  bool two_d() const { return two_d_; }
  /// Elements the directions cover (floating and integer).
  int64_t parameter_count() const { return parameter_count_; }

 private:
  struct FlatGroup {
    at::Tensor flat;     // the model's tensors live here
    at::Tensor theta0;   // the centre
    at::Tensor dx, dy;   // directions (dy undefined for 1-D)
    at::Tensor scratch;  // α·dx + β·dy
  };
  struct IntEntry {
    at::Tensor target;  // the model's tensor
    at::Tensor theta0;
    at::Tensor dx, dy;  // float32
  };
  std::vector<FlatGroup> groups_;
  std::vector<IntEntry> ints_;
  bool two_d_ = false;
  int64_t parameter_count_ = 0;
};

}  // namespace landscape::engine
