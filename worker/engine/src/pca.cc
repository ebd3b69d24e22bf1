#include "pca.h"

#include <ATen/ATen.h>
#include <Eigen/Dense>

#include <cmath>

#include "model_io.h"

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;

namespace {

// The tensors of `m` (for `type`) flattened into one float row; `dims` gets each tensor's dim.
std::vector<float> Flatten(const torch::jit::Module& m, core::DirType type, std::vector<at::Tensor>* shapes_out) {
  std::vector<float> row;
  for (const auto& nt : CollectTensors(m, type)) {
    at::Tensor t = nt.tensor.detach().to(c10::Device(c10::kCPU), at::kFloat).contiguous();
    row.insert(row.end(), t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    if (shapes_out) shapes_out->push_back(nt.tensor);
  }
  return row;
}

// Least-squares coordinates in the plane of (dx, dy): the point θ* + a·dx + b·dy nearest to θ* + d.
class PlaneProjector {
 public:
  PlaneProjector(std::vector<double> dx, std::vector<double> dy) : dx_(std::move(dx)), dy_(std::move(dy)) {
    for (size_t j = 0; j < dx_.size(); ++j) {
      xx_ += dx_[j] * dx_[j];
      yy_ += dy_[j] * dy_[j];
      xy_ += dx_[j] * dy_[j];
    }
  }
  /// false when the directions are (nearly) parallel or zero: no plane to project onto.
  bool Spans() const { return xx_ * yy_ - xy_ * xy_ > 1e-12 * std::max(1e-300, xx_ * yy_); }

  /// Appends d's coordinates and its distance from the plane to `proj`; `extra_sq` is the squared
  /// norm of entries of d left out of `r` (zero in both directions) that still count for the distance.
  void Add(const float* r, double extra_sq, io::Projection* proj) const {
    double dxd = 0, dyd = 0, dd = extra_sq;
    for (size_t j = 0; j < dx_.size(); ++j) {
      dxd += dx_[j] * r[j];
      dyd += dy_[j] * r[j];
      dd += static_cast<double>(r[j]) * r[j];
    }
    const double det = xx_ * yy_ - xy_ * xy_;
    const double a = (yy_ * dxd - xy_ * dyd) / det;
    const double b = (xx_ * dyd - xy_ * dxd) / det;
    // ‖d − a·dx − b·dy‖² = ‖d‖² − 2a⟨d,dx⟩ − 2b⟨d,dy⟩ + a²‖dx‖² + 2ab⟨dx,dy⟩ + b²‖dy‖².
    const double res2 = dd - 2 * a * dxd - 2 * b * dyd + a * a * xx_ + 2 * a * b * xy_ + b * b * yy_;
    const double dist = std::sqrt(std::max(0.0, res2));
    proj->x.push_back(a);
    proj->y.push_back(b);
    proj->extra["distance_from_plane"].push_back(dist);
    proj->extra["relative_distance"].push_back(dd > 0 ? dist / std::sqrt(dd) : 0.0);
  }

 private:
  std::vector<double> dx_, dy_;
  double xx_ = 0, yy_ = 0, xy_ = 0;
};

// Checkpoint i of the spec, its rows for `type` minus `final_row`.
Result<std::vector<float>> CheckpointRow(const core::JobSpec& spec, size_t i, const torch::jit::Module& model,
                                         const torch::jit::Module* arch, const EngineOptions& opts,
                                         const std::vector<float>& final_row) {
  const std::string& ref = spec.model.checkpoints[i];
  LS_ASSIGN_OR_RETURN(std::string path, opts.resolve ? opts.resolve(ref) : Result<std::string>(ref));
  auto ck = LoadModel(path, arch ? arch : &model, "checkpoint " + std::to_string(i));
  if (!ck.ok()) return Status(ck.status().code(), ck.status().message(), "model.checkpoints");
  std::vector<float> row = Flatten(*ck, spec.directions.type, nullptr);
  if (row.size() != final_row.size()) {
    return Status(StatusCode::kInvalidArgument,
                  "checkpoint " + path + " has " + std::to_string(row.size()) + " entries but the model has " +
                      std::to_string(final_row.size()) + ": different architectures",
                  "model.checkpoints");
  }
  for (size_t k = 0; k < row.size(); ++k) row[k] -= final_row[k];
  return row;
}

}  // namespace

Result<io::Projection> ProjectCheckpoints(const core::JobSpec& spec, const torch::jit::Module& model,
                                          const torch::jit::Module* arch, const io::DirectionSet& dirs,
                                          const EngineOptions& opts) {
  const std::vector<float> final_row = Flatten(model, spec.directions.type, nullptr);
  auto flat = [&](const std::vector<io::HostArray>& axis) {
    std::vector<double> v;
    v.reserve(final_row.size());
    for (const io::HostArray& a : axis) {
      for (int64_t i = 0; i < a.numel(); ++i) v.push_back(a.At(i));
    }
    return v;
  };
  if (!dirs.has_y()) {
    return core::InvalidArgument("directions.file", "projecting checkpoints needs a plane: the file has no ydirection");
  }
  std::vector<double> dx = flat(dirs.x), dy = flat(dirs.y);
  if (dx.size() != final_row.size() || dy.size() != final_row.size()) {
    return core::InvalidArgument("directions.file", "the direction file has " + std::to_string(dx.size()) +
                                                        " entries but the model has " +
                                                        std::to_string(final_row.size()) + " (for its dir_type)");
  }
  const PlaneProjector plane(std::move(dx), std::move(dy));
  if (!plane.Spans()) {
    return core::InvalidArgument("directions.file", "the x and y directions are parallel: they span no plane");
  }
  io::Projection proj;
  for (size_t i = 0; i < spec.model.checkpoints.size(); ++i) {
    LS_ASSIGN_OR_RETURN(std::vector<float> row, CheckpointRow(spec, i, model, arch, opts, final_row));
    plane.Add(row.data(), 0.0, &proj);
  }
  return proj;
}

Result<PcaResult> ComputePca(const core::JobSpec& spec, const torch::jit::Module& model,
                             const torch::jit::Module* arch, const EngineOptions& opts) {
  const core::DirType type = spec.directions.type;
  std::vector<at::Tensor> tensors;
  const std::vector<float> final_row = Flatten(model, type, &tensors);
  const size_t p = final_row.size();
  // Which entries belong to tensors with dim <= 1 (zeroed with pca_ignore = biasbn).
  std::vector<std::pair<size_t, size_t>> small_ranges;
  {
    size_t off = 0;
    for (const auto& t : tensors) {
      const auto n = static_cast<size_t>(t.numel());
      if (t.dim() <= 1) small_ranges.emplace_back(off, off + n);
      off += n;
    }
  }
  const bool ignore = spec.directions.pca_ignore == core::Ignore::kBiasBN;

  // Rows d_i = θ_i − θ_final (held once, float32), and raw (uncentred, un-ignored) copies are not kept:
  // the projection re-derives d_i from the rows plus the zeroed entries' norms.
  const size_t m = spec.model.checkpoints.size();
  std::vector<std::vector<float>> rows(m);
  std::vector<double> small_sq(m, 0.0);  // ‖ignored part of d_i‖², for the projection's distances
  for (size_t i = 0; i < m; ++i) {
    LS_ASSIGN_OR_RETURN(std::vector<float> row, CheckpointRow(spec, i, model, arch, opts, final_row));
    for (const auto& [a, b] : small_ranges) {
      for (size_t k = a; k < b; ++k) {
        small_sq[i] += static_cast<double>(row[k]) * row[k];
        if (ignore) row[k] = 0.0f;
      }
    }
    rows[i] = std::move(row);
  }

  // Gram matrix G = D Dᵀ (double accumulation), then centred: Gc = (I − 11ᵀ/M) G (I − 11ᵀ/M).
  Eigen::MatrixXd g(m, m);
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = i; j < m; ++j) {
      double s = 0;
      const float* a = rows[i].data();
      const float* b = rows[j].data();
      for (size_t k = 0; k < p; ++k) s += static_cast<double>(a[k]) * b[k];
      g(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = s;
      g(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(i)) = s;
    }
  }
  const Eigen::MatrixXd c = Eigen::MatrixXd::Identity(m, m) - Eigen::MatrixXd::Constant(m, m, 1.0 / m);
  const Eigen::MatrixXd gc = c * g * c;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gc);
  if (eig.info() != Eigen::Success) return Status(StatusCode::kInternal, "PCA: eigen-decomposition failed");
  const Eigen::VectorXd lambda = eig.eigenvalues();  // ascending
  const double total = std::max(0.0, gc.trace());
  if (m < 3 || lambda(static_cast<Eigen::Index>(m) - 2) <= 1e-30 * std::max(1.0, total)) {
    return Status(StatusCode::kFailedPrecondition,
                  "PCA needs checkpoints spanning at least two dimensions (give 3 or more distinct checkpoints)",
                  "model.checkpoints");
  }

  PcaResult result;
  io::PcaInfo info;
  std::vector<std::vector<double>> pcs(2, std::vector<double>(p, 0.0));
  for (int k = 0; k < 2; ++k) {
    const Eigen::Index col = static_cast<Eigen::Index>(m) - 1 - k;
    Eigen::VectorXd u = eig.eigenvectors().col(col);
    // sklearn's svd_flip: the largest-magnitude entry of each U column is positive.
    Eigen::Index argmax = 0;
    u.cwiseAbs().maxCoeff(&argmax);
    if (u(argmax) < 0) u = -u;
    const double s = std::sqrt(lambda(col));
    // PC = Σ_i u_i (d_i − μ) / s = Σ_i u_i d_i / s, since u ⟂ 1 for λ > 0.
    for (size_t i = 0; i < m; ++i) {
      const double w = u(static_cast<Eigen::Index>(i)) / s;
      const float* r = rows[i].data();
      for (size_t j = 0; j < p; ++j) pcs[static_cast<size_t>(k)][j] += w * r[j];
    }
    info.singular_values.push_back(s);
    info.explained_variance.push_back(lambda(col) / static_cast<double>(m - 1));
    info.explained_variance_ratio.push_back(total > 0 ? lambda(col) / total : 0.0);
  }
  if (ignore) {
    for (auto& pc : pcs)
      for (const auto& [a, b] : small_ranges)
        for (size_t k = a; k < b; ++k) pc[k] = 0.0;
  }

  // Back into tensors of the model's shapes (float32, as the reference stores them).
  auto to_arrays = [&](const std::vector<double>& pc) {
    std::vector<io::HostArray> out;
    size_t off = 0;
    for (const auto& t : tensors) {
      std::vector<int64_t> shape(t.sizes().begin(), t.sizes().end());
      io::HostArray a = io::HostArray::Zeros(shape, io::DType::kFloat32);
      float* dst = a.data<float>();
      for (int64_t j = 0; j < t.numel(); ++j) dst[j] = static_cast<float>(pc[off + static_cast<size_t>(j)]);
      off += static_cast<size_t>(t.numel());
      out.push_back(std::move(a));
    }
    return out;
  };
  result.dirs.x = to_arrays(pcs[0]);
  result.dirs.y = to_arrays(pcs[1]);
  result.dirs.pca = info;

  // Projection of every checkpoint d_i (all entries, not centred, not ignored) onto the stored
  // (float32) directions, by least squares in the plane they span.
  std::vector<double> dx(p), dy(p);
  for (size_t j = 0; j < p; ++j) {
    dx[j] = static_cast<float>(pcs[0][j]);
    dy[j] = static_cast<float>(pcs[1][j]);
  }
  const PlaneProjector plane(std::move(dx), std::move(dy));
  for (size_t i = 0; i < m; ++i) {
    // Entries zeroed by biasbn still count for the distance: their squared norm is small_sq[i]
    // and the PCs are zero there.
    plane.Add(rows[i].data(), ignore ? small_sq[i] : 0.0, &result.projection);
  }
  result.dirs.attributes["pca_checkpoints"] = std::to_string(m);
  result.dirs.attributes["pca_ignore"] = core::Name(spec.directions.pca_ignore);
  return result;
}

}  // namespace landscape::engine
