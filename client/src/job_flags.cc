#include "job_flags.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <limits>
#include <regex>
#include <cctype>
#include <unistd.h>
#include <set>

#include "landscape/core/architectures.h"
#include "landscape/core/artifacts.h"

namespace landscape::client {

using core::Result;
using core::Status;

void AddDataFlags(CLI::App* app, DataFlags* f) {
  app->add_option("--data", f->data, "fashion-mnist | mnist | idx:DIR | cifar10:DIR | tensor:FILE | FILE.pt")
      ->capture_default_str();
  app->add_option("--split", f->split, "train | test | both")->capture_default_str();
  app->add_option("--max-samples", f->max_samples, "evaluate on N samples per split (0 = all)")->capture_default_str();
  app->add_option("--subset-seed", f->subset_seed, "with --max-samples: a seeded random subset instead of the first N");
  app->add_option("--normalize", f->normalize, "auto | none | MEAN[,..]/STD[,..] input normalization")
      ->capture_default_str();
}

Result<core::DataSpec> BuildDataSpec(const DataFlags& f) {
  core::DataSpec d;
  d.source = f.data;
  LS_ASSIGN_OR_RETURN(d.split, core::ParseSplit(f.split, "--split"));
  d.max_samples = f.max_samples;
  if (f.subset_seed >= 0) d.subset_seed = static_cast<uint64_t>(f.subset_seed);
  d.normalize = f.normalize;
  return d;
}

void AddJobFlags(CLI::App* app, JobFlags* f) {
  app->add_option("--model", f->model,
                  "the model: a TorchScript archive (torch.jit.save), or a state dict (torch.save) with --arch "
                  "(required, except with --checkpoint-dir, whose last checkpoint it then is)");
  app->add_option("--arch", f->arch,
                  "the architecture state-dict files are applied to: a built-in name (see 'landscape archs') or a "
                  "TorchScript model");
  app->add_option("--model2", f->model2, "second model: x direction = model2 - model (target direction, 1-D interpolation)");
  app->add_option("--model3", f->model3, "third model: y direction = model3 - model (plane through three models)");
  app->add_option("--checkpoints", f->checkpoints, "training checkpoints, oldest first: PCA directions of the trajectory")
      ->expected(0, -1);
  app->add_option("--checkpoint-dir", f->checkpoint_dir,
                  "PCA of a training run: every model_<epoch>.pt|.t7|.pth in DIR, by epoch (landscape train writes them)");
  AddDataFlags(app, f);
  app->add_option("--batch-size", f->batch_size, "evaluation batch size (speed only)")->capture_default_str();
  app->add_option("--loss", f->loss, "crossentropy | mse (softmax vs one-hot, the reference's) | regression (raw outputs vs float targets, no accuracy)")->capture_default_str();
  app->add_option("--dir-type", f->dir_type, "weights (parameters) | states (parameters and buffers)")
      ->capture_default_str();
  app->add_option("--xnorm", f->xnorm, "filter | layer | weight | dfilter | dlayer | none")->capture_default_str();
  app->add_option("--xignore", f->xignore, "biasbn (zero <=1-D tensors) | none (copy them)")->capture_default_str();
  app->add_option("--ynorm", f->ynorm, "as --xnorm, for y")->capture_default_str();
  app->add_option("--yignore", f->yignore, "as --xignore, for y")->capture_default_str();
  app->add_flag("--same-dir", f->same_dir, "y direction = x direction");
  app->add_option("--seed", f->seed, "seed of the random directions")->capture_default_str();
  app->add_option("--dir-file", f->dir_file, "read the directions from this HDF5 file (the reference's layout)");
  app->add_option("--pca-ignore", f->pca_ignore, "PCA: biasbn zeroes <=1-D tensors before PCA")->capture_default_str();
  app->add_option("--x", f->x, "x range MIN:MAX:NUM (NUM points, both ends included)")->capture_default_str();
  app->add_option("--y", f->y, "y range MIN:MAX:NUM (makes the surface 2-D)");
  app->add_flag("--hessian", f->hessian, "also compute min_eig/max_eig of the Hessian at every point");
  app->add_flag("--no-loss", f->no_loss, "with --hessian: skip the loss and accuracy");
  app->add_option("--hessian-samples", f->hessian_samples, "samples for the Hessian (0 = the evaluation set)");
  app->add_option("--hessian-tol", f->hessian_tol, "relative tolerance of the eigen-solver")->capture_default_str();
  app->add_option("--label", f->labels, "KEY=VALUE label recorded in every output (repeatable)");
  app->add_option("--name", f->name, "a display name for the job");
  app->add_option("--tile-size", f->tile_size, "grid points per tile (0 = automatic)");
}

Result<std::map<std::string, std::string>> ParseLabels(const std::vector<std::string>& labels) {
  std::map<std::string, std::string> out;
  for (const auto& l : labels) {
    const auto eq = l.find('=');
    if (eq == std::string::npos || eq == 0) {
      return core::InvalidArgument("--label", "expected KEY=VALUE, got '" + l + "'");
    }
    out[l.substr(0, eq)] = l.substr(eq + 1);
  }
  return out;
}

Result<std::vector<std::string>> ListCheckpoints(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return core::InvalidArgument("--checkpoint-dir", dir + " is not a directory");
  static const std::regex kName(R"(model_(\d+)\.(pt|t7|pth))");
  std::vector<std::pair<long long, std::string>> found;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (std::regex_match(name, m, kName)) found.emplace_back(std::stoll(m[1]), e.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [epoch, path] : found) out.push_back(path);
  if (out.empty()) return core::InvalidArgument("--checkpoint-dir", "no model_<epoch>.pt|.t7|.pth files in " + dir);
  return out;
}

core::SpecLimits LocalLimits() {
  core::SpecLimits l;
  l.max_points = 100'000'000;
  return l;
}

core::SpecLimits SubmitLimits() {
  core::SpecLimits l;
  l.max_points = 0;  // unlimited
  l.max_tile_size = std::numeric_limits<int64_t>::max();
  l.max_batch_size = std::numeric_limits<int64_t>::max();
  return l;
}

// MIN:MAX:1 with MIN != MAX would evaluate x = MIN alone (numpy.linspace): refused, naming both fixes.
Status CheckOnePointAxis(const core::AxisSpec& a, const std::string& text, const std::string& flag) {
  if (a.num != 1 || a.min == a.max) return Status::Ok();
  return core::InvalidArgument(flag, "'" + text + "' has one point, which would be the minimum alone; give NUM >= 2 "
                                     "for a range, or MIN:MIN:1 for a single point");
}

namespace {

// --arch as the spec takes it: a built-in name as is, a file as its path (a file named like a built-in,
// as `landscape train` does, wins: "./NAME"); anything else is refused, listing the names.
Result<std::string> ArchRef(const std::string& arch) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool is_file = fs::is_regular_file(arch, ec);
  if (core::IsArchitectureName(arch)) return is_file ? "./" + arch : arch;
  if (arch.empty() || is_file || core::ParseFileRef(arch).kind != core::FileRef::Kind::kPath) return arch;
  return core::InvalidArgument("--arch", "'" + arch + "' is neither a file nor a built-in architecture (built in: " +
                                             core::ArchitectureNameList() + "; see 'landscape archs')");
}

}  // namespace

Result<core::JobSpec> BuildJobSpec(const JobFlags& f, const core::SpecLimits& limits) {
  core::JobSpec s;
  s.model.model = f.model;
  if (!f.checkpoint_dir.empty()) {
    if (!f.checkpoints.empty()) return core::InvalidArgument("--checkpoint-dir", "give --checkpoints or --checkpoint-dir, not both");
    LS_ASSIGN_OR_RETURN(std::vector<std::string> ck, ListCheckpoints(f.checkpoint_dir));
    if (s.model.model.empty()) s.model.model = ck.back();
    s.model.checkpoints = ck;
  }
  LS_ASSIGN_OR_RETURN(s.model.arch, ArchRef(f.arch));
  s.model.model2 = f.model2;
  s.model.model3 = f.model3;
  if (f.checkpoint_dir.empty()) s.model.checkpoints = f.checkpoints;
  LS_ASSIGN_OR_RETURN(s.data, BuildDataSpec(f));
  s.data.batch_size = f.batch_size;
  LS_ASSIGN_OR_RETURN(s.loss, core::ParseLoss(f.loss, "--loss"));
  LS_ASSIGN_OR_RETURN(s.directions.type, core::ParseDirType(f.dir_type, "--dir-type"));
  LS_ASSIGN_OR_RETURN(s.directions.x.norm, core::ParseNorm(f.xnorm, "--xnorm"));
  LS_ASSIGN_OR_RETURN(s.directions.x.ignore, core::ParseIgnore(f.xignore, "--xignore"));
  LS_ASSIGN_OR_RETURN(s.directions.y.norm, core::ParseNorm(f.ynorm, "--ynorm"));
  LS_ASSIGN_OR_RETURN(s.directions.y.ignore, core::ParseIgnore(f.yignore, "--yignore"));
  LS_ASSIGN_OR_RETURN(s.directions.pca_ignore, core::ParseIgnore(f.pca_ignore, "--pca-ignore"));
  s.directions.same_dir = f.same_dir;
  s.directions.seed = f.seed;
  if (!f.dir_file.empty()) {
    s.directions.kind = core::DirectionKind::kFile;
    s.directions.file = f.dir_file;
    if (!f.model2.empty()) return core::InvalidArgument("--model2", "cannot be combined with --dir-file");
    if (!s.model.checkpoints.empty() && !f.checkpoints_onto_dir_file) {
      return core::InvalidArgument(f.checkpoints.empty() ? "--checkpoint-dir" : "--checkpoints",
                                   "cannot be combined with --dir-file (landscape trajectory projects checkpoints "
                                   "onto a direction file)");
    }
  } else if (!s.model.checkpoints.empty()) {
    s.directions.kind = core::DirectionKind::kPca;
    if (!f.model2.empty()) return core::InvalidArgument("--model2", "cannot be combined with --checkpoints");
  } else if (!f.model2.empty()) {
    s.directions.kind = core::DirectionKind::kTarget;
  }
  LS_ASSIGN_OR_RETURN(s.grid.x, core::ParseAxis(f.x, "--x"));
  LS_RETURN_IF_ERROR(CheckOnePointAxis(s.grid.x, f.x, "--x"));
  if (!f.y.empty()) {
    LS_ASSIGN_OR_RETURN(core::AxisSpec y, core::ParseAxis(f.y, "--y"));
    LS_RETURN_IF_ERROR(CheckOnePointAxis(y, f.y, "--y"));
    s.grid.y = y;
  }
  s.hessian.enabled = f.hessian;
  s.hessian.max_samples = f.hessian_samples;
  s.hessian.tolerance = f.hessian_tol;
  s.compute_loss = !f.no_loss;
  LS_ASSIGN_OR_RETURN(s.labels, ParseLabels(f.labels));
  s.name = f.name;
  s.tile_size = f.tile_size;
  Status v = core::ValidateSpec(s, limits);
  if (!v.ok()) {
    // Name the flag rather than the spec field where they differ.
    static const std::map<std::string, std::string> kFlag = {
        {"grid.x", "--x"},           {"grid.y", "--y"},           {"model.model", "--model"},
        {"model.model2", "--model2"}, {"model.model3", "--model3"}, {"model.checkpoints", "--checkpoints"},
        {"data.source", "--data"},   {"data.batch_size", "--batch-size"}, {"data.max_samples", "--max-samples"},
        {"data.normalize", "--normalize"}, {"data.subset_seed", "--subset-seed"},
        {"directions.same_dir", "--same-dir"}, {"directions.file", "--dir-file"}, {"tile_size", "--tile-size"},
        {"grid", "--x/--y"}, {"hessian.tolerance", "--hessian-tol"}, {"hessian.max_samples", "--hessian-samples"},
        {"metrics", "--no-loss"},     {"labels", "--label"}};
    if (v.field().rfind("labels.", 0) == 0) return Status(v.code(), v.message(), "--label");  // labels.<key>
    auto it = kFlag.find(v.field());
    return Status(v.code(), v.message(), it != kFlag.end() ? it->second : v.field());
  }
  return s;
}

Status CheckOutputPaths(const std::vector<std::pair<std::string, std::string>>& outputs) {
  namespace fs = std::filesystem;
  for (const auto& [flag, path] : outputs) {
    if (path.empty()) continue;
    std::error_code ec;
    if (fs::is_directory(path, ec)) return core::InvalidArgument(flag, "cannot write " + path + ": it is a directory");
    fs::path dir = fs::path(path).parent_path();
    if (dir.empty()) dir = ".";
    if (!fs::exists(dir, ec)) {
      return core::InvalidArgument(flag, "cannot write " + path + ": the directory " + dir.string() +
                                             " does not exist (create it first)");
    }
    if (!fs::is_directory(dir, ec)) {
      return core::InvalidArgument(flag, "cannot write " + path + ": " + dir.string() + " is not a directory");
    }
    if (::access(dir.c_str(), W_OK) != 0) {
      return core::InvalidArgument(flag, "cannot write " + path + ": the directory " + dir.string() +
                                             " is not writable");
    }
  }
  return Status::Ok();
}

std::vector<std::string> JoinNegativeValues(int argc, char** argv) {
  static const std::set<std::string> kValueFlags = {"--x", "--y", "--normalize", "--xnorm", "--ynorm"};
  std::vector<std::string> out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (kValueFlags.count(a) && i + 1 < argc && argv[i + 1][0] == '-' && argv[i + 1][1] != '-' &&
        argv[i + 1][1] != '\0' && (std::isdigit(static_cast<unsigned char>(argv[i + 1][1])) || argv[i + 1][1] == '.')) {
      out.push_back(a + "=" + argv[i + 1]);
      ++i;
    } else {
      out.push_back(a);
    }
  }
  return out;
}

}  // namespace landscape::client
