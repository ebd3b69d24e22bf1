#include "landscape/proto/convert.h"

#include <cmath>

namespace landscape::convert {

using core::Result;
using core::Status;

namespace {

Status BadEnum(const std::string& field, int value) {
  return core::InvalidArgument(field, "unknown enum value " + std::to_string(value));
}

Result<core::Norm> NormFrom(v1::Norm n, const std::string& field) {
  switch (n) {
    case v1::NORM_UNSPECIFIED:
    case v1::NORM_FILTER: return core::Norm::kFilter;
    case v1::NORM_LAYER: return core::Norm::kLayer;
    case v1::NORM_WEIGHT: return core::Norm::kWeight;
    case v1::NORM_DFILTER: return core::Norm::kDFilter;
    case v1::NORM_DLAYER: return core::Norm::kDLayer;
    case v1::NORM_NONE: return core::Norm::kNone;
    default: return BadEnum(field, n);
  }
}

v1::Norm NormTo(core::Norm n) {
  switch (n) {
    case core::Norm::kFilter: return v1::NORM_FILTER;
    case core::Norm::kLayer: return v1::NORM_LAYER;
    case core::Norm::kWeight: return v1::NORM_WEIGHT;
    case core::Norm::kDFilter: return v1::NORM_DFILTER;
    case core::Norm::kDLayer: return v1::NORM_DLAYER;
    case core::Norm::kNone: return v1::NORM_NONE;
  }
  return v1::NORM_UNSPECIFIED;
}

Result<core::Ignore> IgnoreFrom(v1::Ignore i, core::Ignore unspecified, const std::string& field) {
  switch (i) {
    case v1::IGNORE_UNSPECIFIED: return unspecified;
    case v1::IGNORE_BIASBN: return core::Ignore::kBiasBN;
    case v1::IGNORE_NONE: return core::Ignore::kNone;
    default: return BadEnum(field, i);
  }
}

v1::Ignore IgnoreTo(core::Ignore i) { return i == core::Ignore::kBiasBN ? v1::IGNORE_BIASBN : v1::IGNORE_NONE; }

Result<core::AxisDirection> AxisDirFrom(const v1::AxisDirection& a, const std::string& field) {
  core::AxisDirection d;
  LS_ASSIGN_OR_RETURN(d.norm, NormFrom(a.norm(), field + ".norm"));
  LS_ASSIGN_OR_RETURN(d.ignore, IgnoreFrom(a.ignore(), core::Ignore::kBiasBN, field + ".ignore"));
  return d;
}

core::AxisSpec AxisFrom(const v1::Axis& a) {
  core::AxisSpec s;
  s.min = a.min();
  s.max = a.max();
  s.num = a.num();
  return s;
}

void AxisTo(const core::AxisSpec& s, v1::Axis* a) {
  a->set_min(s.min);
  a->set_max(s.max);
  a->set_num(s.num);
}

}  // namespace

Result<core::JobSpec> SpecFromProto(const v1::JobSpec& p) {
  core::JobSpec s;
  const v1::ModelSpec& m = p.model();
  s.model.model = m.model();
  s.model.arch = m.arch();
  s.model.model2 = m.model2();
  s.model.model3 = m.model3();
  s.model.checkpoints.assign(m.checkpoints().begin(), m.checkpoints().end());

  const v1::DataSpec& d = p.data();
  if (!d.source().empty()) s.data.source = d.source();
  switch (d.split()) {
    case v1::SPLIT_UNSPECIFIED:
    case v1::SPLIT_TRAIN: s.data.split = core::Split::kTrain; break;
    case v1::SPLIT_TEST: s.data.split = core::Split::kTest; break;
    case v1::SPLIT_BOTH: s.data.split = core::Split::kBoth; break;
    default: return BadEnum("data.split", d.split());
  }
  s.data.max_samples = d.max_samples();
  if (d.has_subset_seed()) s.data.subset_seed = d.subset_seed();
  if (d.batch_size() != 0) s.data.batch_size = d.batch_size();
  if (!d.normalize().empty()) s.data.normalize = d.normalize();

  switch (p.loss()) {
    case v1::LOSS_UNSPECIFIED:
    case v1::LOSS_CROSS_ENTROPY: s.loss = core::Loss::kCrossEntropy; break;
    case v1::LOSS_MSE: s.loss = core::Loss::kMse; break;
    case v1::LOSS_REGRESSION: s.loss = core::Loss::kRegression; break;
    default: return BadEnum("loss", p.loss());
  }

  const v1::DirectionSpec& dir = p.directions();
  switch (dir.kind()) {
    case v1::DIRECTION_KIND_UNSPECIFIED:
    case v1::DIRECTION_KIND_RANDOM: s.directions.kind = core::DirectionKind::kRandom; break;
    case v1::DIRECTION_KIND_TARGET: s.directions.kind = core::DirectionKind::kTarget; break;
    case v1::DIRECTION_KIND_FILE: s.directions.kind = core::DirectionKind::kFile; break;
    case v1::DIRECTION_KIND_PCA: s.directions.kind = core::DirectionKind::kPca; break;
    default: return BadEnum("directions.kind", dir.kind());
  }
  switch (dir.type()) {
    case v1::DIR_TYPE_UNSPECIFIED:
    case v1::DIR_TYPE_WEIGHTS: s.directions.type = core::DirType::kWeights; break;
    case v1::DIR_TYPE_STATES: s.directions.type = core::DirType::kStates; break;
    default: return BadEnum("directions.type", dir.type());
  }
  LS_ASSIGN_OR_RETURN(s.directions.x, AxisDirFrom(dir.x(), "directions.x"));
  LS_ASSIGN_OR_RETURN(s.directions.y, AxisDirFrom(dir.y(), "directions.y"));
  if (dir.has_seed()) s.directions.seed = dir.seed();
  s.directions.same_dir = dir.same_dir();
  s.directions.file = dir.file();
  LS_ASSIGN_OR_RETURN(s.directions.pca_ignore,
                      IgnoreFrom(dir.pca_ignore(), core::Ignore::kNone, "directions.pca_ignore"));

  if (!p.grid().has_x()) return core::InvalidArgument("grid.x", "required");
  s.grid.x = AxisFrom(p.grid().x());
  if (p.grid().has_y()) s.grid.y = AxisFrom(p.grid().y());

  const v1::HessianSpec& h = p.hessian();
  s.hessian.enabled = h.enabled();
  s.hessian.max_samples = h.max_samples();
  if (h.tolerance() != 0) s.hessian.tolerance = h.tolerance();
  if (h.max_iterations() != 0) s.hessian.max_iterations = h.max_iterations();

  s.compute_loss = p.has_compute_loss() ? p.compute_loss() : true;
  s.labels.insert(p.labels().begin(), p.labels().end());
  s.tile_size = p.tile_size();
  s.name = p.display_name();
  s.file_names.insert(p.file_names().begin(), p.file_names().end());
  return s;
}

void SpecToProto(const core::JobSpec& s, v1::JobSpec* p) {
  p->Clear();
  v1::ModelSpec* m = p->mutable_model();
  m->set_model(s.model.model);
  m->set_arch(s.model.arch);
  m->set_model2(s.model.model2);
  m->set_model3(s.model.model3);
  for (const auto& c : s.model.checkpoints) m->add_checkpoints(c);

  v1::DataSpec* d = p->mutable_data();
  d->set_source(s.data.source);
  d->set_split(s.data.split == core::Split::kTrain  ? v1::SPLIT_TRAIN
               : s.data.split == core::Split::kTest ? v1::SPLIT_TEST
                                                    : v1::SPLIT_BOTH);
  d->set_max_samples(s.data.max_samples);
  if (s.data.subset_seed) d->set_subset_seed(*s.data.subset_seed);
  d->set_batch_size(s.data.batch_size);
  d->set_normalize(s.data.normalize);

  p->set_loss(s.loss == core::Loss::kMse          ? v1::LOSS_MSE
              : s.loss == core::Loss::kRegression ? v1::LOSS_REGRESSION
                                                  : v1::LOSS_CROSS_ENTROPY);

  v1::DirectionSpec* dir = p->mutable_directions();
  switch (s.directions.kind) {
    case core::DirectionKind::kRandom: dir->set_kind(v1::DIRECTION_KIND_RANDOM); break;
    case core::DirectionKind::kTarget: dir->set_kind(v1::DIRECTION_KIND_TARGET); break;
    case core::DirectionKind::kFile: dir->set_kind(v1::DIRECTION_KIND_FILE); break;
    case core::DirectionKind::kPca: dir->set_kind(v1::DIRECTION_KIND_PCA); break;
  }
  dir->set_type(s.directions.type == core::DirType::kStates ? v1::DIR_TYPE_STATES : v1::DIR_TYPE_WEIGHTS);
  dir->mutable_x()->set_norm(NormTo(s.directions.x.norm));
  dir->mutable_x()->set_ignore(IgnoreTo(s.directions.x.ignore));
  dir->mutable_y()->set_norm(NormTo(s.directions.y.norm));
  dir->mutable_y()->set_ignore(IgnoreTo(s.directions.y.ignore));
  dir->set_seed(s.directions.seed);
  dir->set_same_dir(s.directions.same_dir);
  dir->set_file(s.directions.file);
  dir->set_pca_ignore(IgnoreTo(s.directions.pca_ignore));

  AxisTo(s.grid.x, p->mutable_grid()->mutable_x());
  if (s.grid.y) AxisTo(*s.grid.y, p->mutable_grid()->mutable_y());

  v1::HessianSpec* h = p->mutable_hessian();
  h->set_enabled(s.hessian.enabled);
  h->set_max_samples(s.hessian.max_samples);
  h->set_tolerance(s.hessian.tolerance);
  h->set_max_iterations(s.hessian.max_iterations);

  p->set_compute_loss(s.compute_loss);
  for (const auto& [k, v] : s.labels) (*p->mutable_labels())[k] = v;
  p->set_tile_size(s.tile_size);
  p->set_display_name(s.name);
  p->mutable_file_names()->insert(s.file_names.begin(), s.file_names.end());
}

v1::JobState StateToProto(core::JobState s) {
  switch (s) {
    case core::JobState::kQueued: return v1::JOB_STATE_QUEUED;
    case core::JobState::kPreparing: return v1::JOB_STATE_PREPARING;
    case core::JobState::kRunning: return v1::JOB_STATE_RUNNING;
    case core::JobState::kSucceeded: return v1::JOB_STATE_SUCCEEDED;
    case core::JobState::kFailed: return v1::JOB_STATE_FAILED;
    case core::JobState::kCancelled: return v1::JOB_STATE_CANCELLED;
  }
  return v1::JOB_STATE_UNSPECIFIED;
}

std::optional<core::JobState> StateFromProto(v1::JobState s) {
  switch (s) {
    case v1::JOB_STATE_QUEUED: return core::JobState::kQueued;
    case v1::JOB_STATE_PREPARING: return core::JobState::kPreparing;
    case v1::JOB_STATE_RUNNING: return core::JobState::kRunning;
    case v1::JOB_STATE_SUCCEEDED: return core::JobState::kSucceeded;
    case v1::JOB_STATE_FAILED: return core::JobState::kFailed;
    case v1::JOB_STATE_CANCELLED: return core::JobState::kCancelled;
    default: return std::nullopt;
  }
}

void TimestampFromMs(int64_t ms, google::protobuf::Timestamp* t) {
  t->set_seconds(ms / 1000);
  t->set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
}

int64_t MsFromTimestamp(const google::protobuf::Timestamp& t) { return t.seconds() * 1000 + t.nanos() / 1000000; }

namespace {
void ProgressToProto(int64_t done, int64_t total, int64_t tiles_done, int64_t tiles_total, double rate,
                     bool running, v1::Progress* p) {
  p->set_points_done(done);
  p->set_points_total(total);
  p->set_tiles_done(tiles_done);
  p->set_tiles_total(tiles_total);
  p->set_points_per_second(rate);
  if (running && rate > 0) p->set_eta_seconds(static_cast<double>(total - done) / rate);
  if (!running && done == total && total > 0) p->set_eta_seconds(0);
}
}  // namespace

void JobToProto(const core::JobRecord& r, int64_t now_ms, v1::Job* p) {
  p->Clear();
  p->set_name(core::JobName(r.id));
  p->set_request_id(r.request_id);
  SpecToProto(r.spec, p->mutable_spec());
  p->set_state(StateToProto(r.state));
  p->set_error(r.error);
  p->set_error_field(r.error_field);
  ProgressToProto(r.points_done, r.points_total, r.tiles_done, r.tiles_total, r.Rate(now_ms),
                  r.state == core::JobState::kRunning, p->mutable_progress());
  if (r.created_ms > 0) TimestampFromMs(r.created_ms, p->mutable_create_time());
  if (r.started_ms > 0) TimestampFromMs(r.started_ms, p->mutable_start_time());
  if (r.ended_ms > 0) TimestampFromMs(r.ended_ms, p->mutable_end_time());
  const std::string prefix = "artifact:";
  if (r.dir_artifact.rfind(prefix, 0) == 0) p->set_direction_artifact(r.dir_artifact.substr(prefix.size()));
  if (r.proj_artifact.rfind(prefix, 0) == 0) p->set_projection_artifact(r.proj_artifact.substr(prefix.size()));
  for (const auto& [k, v] : r.attributes) (*p->mutable_surface_attributes())[k] = v;
  p->set_priority(r.priority);
}

void TileToProto(int64_t tile, int64_t begin, int64_t end, const std::vector<double>& values,
                 const std::vector<std::string>& metric_names, v1::TileResult* p) {
  p->set_tile_index(tile);
  p->set_begin(begin);
  p->set_end(end);
  const auto n = static_cast<size_t>(end - begin);
  for (size_t m = 0; m < metric_names.size(); ++m) {
    v1::MetricValues* mv = p->add_metrics();
    mv->set_metric(metric_names[m]);
    if (values.size() < (m + 1) * n) continue;
    mv->mutable_values()->Add(values.begin() + static_cast<std::ptrdiff_t>(m * n),
                              values.begin() + static_cast<std::ptrdiff_t>((m + 1) * n));
  }
}

void EventToProto(const core::JobEvent& e, const std::vector<std::string>& metric_names, v1::JobEvent* p) {
  p->Clear();
  p->set_cursor(e.cursor);
  TimestampFromMs(e.time_ms, p->mutable_time());
  const double rate = e.running_ms > 0 ? static_cast<double>(e.points_done) * 1000.0 / static_cast<double>(e.running_ms) : 0;
  const bool running = e.type == core::JobEvent::Type::kTile || e.state == core::JobState::kRunning;
  ProgressToProto(e.points_done, e.points_total, e.tiles_done, e.tiles_total, rate, running, p->mutable_progress());
  if (e.type == core::JobEvent::Type::kState) {
    v1::StateChange* s = p->mutable_state_change();
    s->set_state(StateToProto(e.state));
    s->set_message(e.message);
    s->set_field(e.field);
  } else {
    TileToProto(e.tile, e.begin, e.end, e.values, metric_names, p->mutable_tile());
  }
}

}  // namespace landscape::convert
