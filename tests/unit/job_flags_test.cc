// The client's flag-to-spec translation (client/src/job_flags.h): command lines parsed by the
// flags AddJobFlags registers, then BuildJobSpec. Each flag lands in its JobSpec field; each bad
// value is kInvalidArgument whose field is the flag (what the CLI prints, exit 2).
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "job_flags.h"
#include "process.h"

namespace landscape::client {
namespace {

using core::StatusCode;

// The flags of `args` (as typed after the subcommand), through JoinNegativeValues and CLI11.
JobFlags Parse(const std::vector<std::string>& args) {
  std::vector<std::string> argv_s = {"landscape"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  std::vector<std::string> joined = JoinNegativeValues(static_cast<int>(argv.size()), argv.data());
  JobFlags flags;
  CLI::App app("test");
  AddJobFlags(&app, &flags);
  std::reverse(joined.begin(), joined.end());  // CLI11 takes the arguments last first
  app.parse(joined);
  return flags;
}

core::Result<core::JobSpec> Spec(const std::vector<std::string>& args) {
  return BuildJobSpec(Parse(args), LocalLimits());
}

// The spec of `args` is refused, naming `flag`, with `what` in the message.
void ExpectRefused(const std::vector<std::string>& args, const std::string& flag, const std::string& what = "") {
  std::string line;
  for (const auto& a : args) line += a + " ";
  auto s = Spec(args);
  ASSERT_FALSE(s.ok()) << line;
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << line << ": " << s.status().ToString();
  EXPECT_EQ(s.status().field(), flag) << line << ": " << s.status().ToString();
  EXPECT_NE(s.status().message().find(what), std::string::npos) << line << ": " << s.status().ToString();
}

TEST(JobFlags, TheDefaultsMakeTheDefaultSpec) {
  auto s = Spec({"--model", "m.pt"});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->model.model, "m.pt");
  EXPECT_EQ(s->model.arch, "");
  EXPECT_EQ(s->data.source, "fashion-mnist");
  EXPECT_EQ(s->data.split, core::Split::kTrain);
  EXPECT_EQ(s->data.max_samples, 0);
  EXPECT_FALSE(s->data.subset_seed.has_value());
  EXPECT_EQ(s->data.normalize, "auto");
  EXPECT_EQ(s->data.batch_size, 128);
  EXPECT_EQ(s->loss, core::Loss::kCrossEntropy);
  EXPECT_EQ(s->directions.kind, core::DirectionKind::kRandom);
  EXPECT_EQ(s->directions.type, core::DirType::kWeights);
  EXPECT_EQ(s->directions.x.norm, core::Norm::kFilter);
  EXPECT_EQ(s->directions.x.ignore, core::Ignore::kBiasBN);
  EXPECT_EQ(s->directions.y.norm, core::Norm::kFilter);
  EXPECT_EQ(s->directions.y.ignore, core::Ignore::kBiasBN);
  EXPECT_EQ(s->directions.pca_ignore, core::Ignore::kNone);
  EXPECT_FALSE(s->directions.same_dir);
  EXPECT_EQ(s->directions.seed, 123u);
  EXPECT_EQ(s->grid.x.min, -1.0);
  EXPECT_EQ(s->grid.x.max, 1.0);
  EXPECT_EQ(s->grid.x.num, 51);
  EXPECT_FALSE(s->grid.is_2d());
  EXPECT_FALSE(s->hessian.enabled);
  EXPECT_TRUE(s->compute_loss);
  EXPECT_TRUE(s->labels.empty());
  EXPECT_EQ(s->name, "");
  EXPECT_EQ(s->tile_size, 0);
}

TEST(JobFlags, EachFlagLandsInItsField) {
  auto s = Spec({"--model", "a.pt", "--arch", "resnet20", "--data", "mnist", "--split", "both", "--max-samples", "100",
                 "--subset-seed", "5", "--normalize", "0.5/0.25", "--batch-size", "64", "--loss", "mse", "--dir-type",
                 "states", "--xnorm", "layer", "--xignore", "none", "--ynorm", "dlayer", "--yignore", "biasbn",
                 "--same-dir", "--seed", "99", "--x", "-2:3:5", "--y", "-0.5:0.25:4", "--hessian",
                 "--hessian-samples", "10", "--hessian-tol", "1e-4", "--label", "repo=x", "--label", "eq=a=b",
                 "--name", "the job", "--tile-size", "7"});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->model.model, "a.pt");
  EXPECT_EQ(s->model.arch, "resnet20");
  EXPECT_EQ(s->data.source, "mnist");
  EXPECT_EQ(s->data.split, core::Split::kBoth);
  EXPECT_EQ(s->data.max_samples, 100);
  EXPECT_EQ(s->data.subset_seed, std::optional<uint64_t>(5));
  EXPECT_EQ(s->data.normalize, "0.5/0.25");
  EXPECT_EQ(s->data.batch_size, 64);
  EXPECT_EQ(s->loss, core::Loss::kMse);
  EXPECT_EQ(s->directions.type, core::DirType::kStates);
  EXPECT_EQ(s->directions.x.norm, core::Norm::kLayer);
  EXPECT_EQ(s->directions.x.ignore, core::Ignore::kNone);
  EXPECT_EQ(s->directions.y.norm, core::Norm::kDLayer);
  EXPECT_EQ(s->directions.y.ignore, core::Ignore::kBiasBN);
  EXPECT_TRUE(s->directions.same_dir);
  EXPECT_EQ(s->directions.seed, 99u);
  EXPECT_EQ(s->directions.kind, core::DirectionKind::kRandom);
  EXPECT_EQ(s->grid.x.min, -2.0);  // a negative minimum after --x (JoinNegativeValues)
  EXPECT_EQ(s->grid.x.max, 3.0);
  EXPECT_EQ(s->grid.x.num, 5);
  ASSERT_TRUE(s->grid.is_2d());
  EXPECT_EQ(s->grid.y->min, -0.5);
  EXPECT_EQ(s->grid.y->max, 0.25);
  EXPECT_EQ(s->grid.y->num, 4);
  EXPECT_TRUE(s->hessian.enabled);
  EXPECT_EQ(s->hessian.max_samples, 10);
  EXPECT_EQ(s->hessian.tolerance, 1e-4);
  EXPECT_TRUE(s->compute_loss);
  EXPECT_EQ(s->labels, (std::map<std::string, std::string>{{"repo", "x"}, {"eq", "a=b"}}));
  EXPECT_EQ(s->name, "the job");
  EXPECT_EQ(s->tile_size, 7);
  // --no-loss with --hessian; --xnorm/--ynorm with every name.
  auto h = Spec({"--model", "a.pt", "--hessian", "--no-loss", "--xnorm", "weight", "--ynorm", "none", "--y", "0:1:2"});
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_FALSE(h->compute_loss);
  EXPECT_EQ(h->directions.x.norm, core::Norm::kWeight);
  EXPECT_EQ(h->directions.y.norm, core::Norm::kNone);
  auto f = Spec({"--model", "a.pt", "--xnorm", "dfilter", "--loss", "regression", "--split", "test"});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->directions.x.norm, core::Norm::kDFilter);
  EXPECT_EQ(f->loss, core::Loss::kRegression);
  EXPECT_EQ(f->data.split, core::Split::kTest);
}

TEST(JobFlags, TheDirectionFlagsChooseTheKind) {
  auto target = Spec({"--model", "a.pt", "--model2", "b.pt", "--model3", "c.pt", "--y", "-1:1:3"});
  ASSERT_TRUE(target.ok()) << target.status().ToString();
  EXPECT_EQ(target->directions.kind, core::DirectionKind::kTarget);
  EXPECT_EQ(target->model.model2, "b.pt");
  EXPECT_EQ(target->model.model3, "c.pt");
  auto file = Spec({"--model", "a.pt", "--dir-file", "d.h5"});
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->directions.kind, core::DirectionKind::kFile);
  EXPECT_EQ(file->directions.file, "d.h5");
  auto pca = Spec({"--model", "c.pt", "--checkpoints", "a.pt", "b.pt", "c.pt", "--y", "-1:1:3", "--pca-ignore",
                   "biasbn"});
  ASSERT_TRUE(pca.ok()) << pca.status().ToString();
  EXPECT_EQ(pca->directions.kind, core::DirectionKind::kPca);
  EXPECT_EQ(pca->model.checkpoints, (std::vector<std::string>{"a.pt", "b.pt", "c.pt"}));
  EXPECT_EQ(pca->directions.pca_ignore, core::Ignore::kBiasBN);
  // --checkpoint-dir: model_<epoch> files by epoch (10 after 2), the last one the model.
  const testing::ScopedTempDir dir("job-flags");
  for (const std::string name : {"model_10.pt", "model_2.t7", "model_1.pth", "notes.txt", "model_x.pt"}) {
    std::ofstream(dir.path() + "/" + name) << "x";
  }
  auto ck = Spec({"--checkpoint-dir", dir.path(), "--y", "-1:1:3"});
  ASSERT_TRUE(ck.ok()) << ck.status().ToString();
  EXPECT_EQ(ck->directions.kind, core::DirectionKind::kPca);
  EXPECT_EQ(ck->model.checkpoints, (std::vector<std::string>{dir.path() + "/model_1.pth", dir.path() + "/model_2.t7",
                                                             dir.path() + "/model_10.pt"}));
  EXPECT_EQ(ck->model.model, dir.path() + "/model_10.pt");
  auto given = Spec({"--model", "m.pt", "--checkpoint-dir", dir.path(), "--y", "-1:1:3"});
  ASSERT_TRUE(given.ok()) << given.status().ToString();
  EXPECT_EQ(given->model.model, "m.pt");
  // trajectory: checkpoints projected onto a direction file.
  JobFlags onto = Parse({"--model", "a.pt", "--checkpoints", "a.pt", "b.pt", "--dir-file", "d.h5"});
  onto.checkpoints_onto_dir_file = true;
  auto t = BuildJobSpec(onto, LocalLimits());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->directions.kind, core::DirectionKind::kFile);
  EXPECT_EQ(t->model.checkpoints.size(), 2u);
  ExpectRefused({"--checkpoint-dir", dir.path() + "/none"}, "--checkpoint-dir", "is not a directory");
  const testing::ScopedTempDir empty("job-flags");
  ExpectRefused({"--checkpoint-dir", empty.path()}, "--checkpoint-dir", "no model_<epoch>");
}

TEST(JobFlags, BadValuesNameTheirFlag) {
  const std::vector<std::string> m = {"--model", "a.pt"};
  auto with = [&m](std::vector<std::string> more) {
    std::vector<std::string> args = m;
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  ExpectRefused({}, "--model", "a model is required");
  ExpectRefused(with({"--split", "validation"}), "--split", "unknown value 'validation'");
  ExpectRefused(with({"--loss", "hinge"}), "--loss", "unknown value 'hinge'");
  ExpectRefused(with({"--dir-type", "grads"}), "--dir-type", "unknown value 'grads'");
  ExpectRefused(with({"--xnorm", "l2"}), "--xnorm", "unknown value 'l2'");
  ExpectRefused(with({"--ynorm", "l2", "--y", "0:1:2"}), "--ynorm", "unknown value 'l2'");
  ExpectRefused(with({"--xignore", "bias"}), "--xignore", "unknown value 'bias'");
  ExpectRefused(with({"--yignore", "bias"}), "--yignore", "unknown value 'bias'");
  ExpectRefused(with({"--pca-ignore", "all"}), "--pca-ignore", "unknown value 'all'");
  ExpectRefused(with({"--x", "1:2"}), "--x");
  ExpectRefused(with({"--x", "a:b:c"}), "--x");
  ExpectRefused(with({"--x", "0:1:1"}), "--x", "has one point");
  ExpectRefused(with({"--y", "-1:1"}), "--y");
  ExpectRefused(with({"--y", "-1:1:1"}), "--y", "has one point");
  ExpectRefused(with({"--label", "novalue"}), "--label", "expected KEY=VALUE, got 'novalue'");
  ExpectRefused(with({"--label", "=v"}), "--label", "expected KEY=VALUE");
  ExpectRefused(with({"--label", std::string(64, 'k') + "=v"}), "--label", "1 to 63 characters");
  ExpectRefused(with({"--label", "k=" + std::string(1025, 'v')}), "--label", "limited to 1024 characters");
  ExpectRefused(with({"--arch", "lenet"}), "--arch", "neither a file nor a built-in architecture");
  ExpectRefused(with({"--arch", "no/such/file.pt"}), "--arch", "neither a file nor a built-in architecture");
  ExpectRefused(with({"--data", "imagenet"}), "--data", "unknown data set 'imagenet'");
  ExpectRefused(with({"--normalize", "0.5/0"}), "--normalize", "must be positive");
  ExpectRefused(with({"--normalize", "bright"}), "--normalize", "expected auto, none or MEAN");
  ExpectRefused(with({"--max-samples", "-1"}), "--max-samples", "must not be negative");
  ExpectRefused(with({"--subset-seed", "3"}), "--subset-seed", "needs data.max_samples");
  ExpectRefused(with({"--batch-size", "0"}), "--batch-size", "must be between 1 and");
  ExpectRefused(with({"--tile-size", "-1"}), "--tile-size", "must be between 0 (auto) and");
  ExpectRefused(with({"--same-dir"}), "--same-dir", "needs a 2-D grid");
  ExpectRefused(with({"--hessian", "--hessian-tol", "2"}), "--hessian-tol", "must be in (0, 1)");
  ExpectRefused(with({"--hessian", "--hessian-samples", "-5"}), "--hessian-samples", "must not be negative");
  ExpectRefused(with({"--no-loss"}), "--no-loss", "nothing to compute");
  ExpectRefused(with({"--model3", "c.pt", "--y", "0:1:2"}), "--model3", "needs model2");
  ExpectRefused(with({"--model2", "b.pt", "--model3", "c.pt"}), "--model3", "give a y range");
  ExpectRefused(with({"--model2", "b.pt", "--dir-file", "d.h5"}), "--model2", "cannot be combined with --dir-file");
  ExpectRefused(with({"--model2", "b.pt", "--checkpoints", "a.pt", "b.pt"}), "--model2",
                "cannot be combined with --checkpoints");
  ExpectRefused(with({"--checkpoints", "a.pt", "b.pt", "--dir-file", "d.h5"}), "--checkpoints",
                "cannot be combined with --dir-file");
  ExpectRefused(with({"--checkpoints", "a.pt", "--y", "0:1:2"}), "--checkpoints", "at least 2 checkpoints");
  ExpectRefused(with({"--checkpoints", "a.pt", "b.pt"}), "--y", "give a y range");
  ExpectRefused(with({"--checkpoints", "a.pt", "--checkpoint-dir", "."}), "--checkpoint-dir", "not both");
}

TEST(JobFlags, LimitsDifferForLocalAndSubmit) {
  // 10^4 x 10^4 points: over `local`'s 10^8? No: exactly 10^8 passes; one more row does not.
  auto at = BuildJobSpec(Parse({"--model", "a.pt", "--x", "0:1:10000", "--y", "0:1:10000"}), LocalLimits());
  ASSERT_TRUE(at.ok()) << at.status().ToString();
  auto over = BuildJobSpec(Parse({"--model", "a.pt", "--x", "0:1:10000", "--y", "0:1:10001"}), LocalLimits());
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().field(), "--x/--y") << over.status().ToString();
  auto submit = BuildJobSpec(Parse({"--model", "a.pt", "--x", "0:1:10000", "--y", "0:1:10001", "--batch-size",
                                    "1000000", "--tile-size", "1000000"}),
                             SubmitLimits());
  EXPECT_TRUE(submit.ok()) << submit.status().ToString();
}

TEST(JobFlags, ParseLabelsAndNegativeValues) {
  auto l = ParseLabels({"a=1", "b=", "a=2"});
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(*l, (std::map<std::string, std::string>{{"a", "2"}, {"b", ""}}));
  std::vector<std::string> args = {"landscape", "--x", "-1:1:3", "--y", "-.5:1:3", "--normalize", "-1/2",
                                   "--name", "-1", "--x", "--", "--xnorm", "-x"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  EXPECT_EQ(JoinNegativeValues(static_cast<int>(argv.size()), argv.data()),
            (std::vector<std::string>{"--x=-1:1:3", "--y=-.5:1:3", "--normalize=-1/2", "--name", "-1", "--x", "--",
                                      "--xnorm", "-x"}));
}

}  // namespace
}  // namespace landscape::client
