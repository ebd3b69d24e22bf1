#include <gtest/gtest.h>

#include <cmath>

#include "landscape/core/spec.h"

namespace landscape::core {
namespace {

JobSpec Valid() {
  JobSpec s;
  s.model.model = "m.pt";
  s.grid.x = {-1, 1, 11};
  s.grid.y = AxisSpec{-1, 1, 5};
  s.labels["commit"] = "abc123";
  return s;
}

TEST(Spec, JsonRoundTrip) {
  JobSpec s = Valid();
  s.data.subset_seed = 7;
  s.data.max_samples = 100;
  s.directions.x.norm = Norm::kLayer;
  s.directions.y.ignore = Ignore::kNone;
  s.directions.type = DirType::kStates;
  s.loss = Loss::kMse;
  s.hessian.enabled = true;
  auto back = SpecFromJson(SpecToJson(s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(SpecToJson(*back), SpecToJson(s));
  EXPECT_EQ(*back->data.subset_seed, 7u);
  EXPECT_EQ(back->directions.x.norm, Norm::kLayer);
  EXPECT_EQ(back->grid.y->num, 5);
}

TEST(Spec, JsonRejectsUnknownFieldsAndNamesThem) {
  auto r = SpecFromJson(R"({"model": {"model": "m.pt", "modle2": "x"}, "grid": {"x": {"min": -1, "max": 1, "num": 3}}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "model.modle2");
  auto bad_enum = SpecFromJson(R"({"model": {"model": "m.pt"}, "directions": {"x": {"norm": "filtre"}},
                                   "grid": {"x": {"min": -1, "max": 1, "num": 3}}})");
  ASSERT_FALSE(bad_enum.ok());
  EXPECT_EQ(bad_enum.status().field(), "directions.x.norm");
  EXPECT_FALSE(SpecFromJson("not json").ok());
}

TEST(Spec, ValidationNamesTheField) {
  struct Case {
    void (*mutate)(JobSpec&);
    const char* field;
  } cases[] = {
      {[](JobSpec& s) { s.model.model.clear(); }, "model.model"},
      {[](JobSpec& s) { s.data.batch_size = 0; }, "data.batch_size"},
      {[](JobSpec& s) { s.data.source = "imagenet"; }, "data.source"},
      {[](JobSpec& s) { s.grid.x.num = 0; }, "grid.x"},
      {[](JobSpec& s) { s.grid.y->min = NAN; }, "grid.y"},
      {[](JobSpec& s) { s.directions.kind = DirectionKind::kTarget; }, "model.model2"},
      {[](JobSpec& s) { s.directions.kind = DirectionKind::kFile; }, "directions.file"},
      {[](JobSpec& s) { s.model.model3 = "m3.pt"; }, "model.model3"},
      {[](JobSpec& s) { s.directions.kind = DirectionKind::kPca; }, "model.checkpoints"},
      {[](JobSpec& s) { s.data.normalize = "0.5"; }, "data.normalize"},
      {[](JobSpec& s) { s.tile_size = -1; }, "tile_size"},
      {[](JobSpec& s) { s.labels[""] = "x"; }, "labels"},
  };
  EXPECT_TRUE(ValidateSpec(Valid()).ok());
  for (const auto& c : cases) {
    JobSpec s = Valid();
    c.mutate(s);
    Status st = ValidateSpec(s);
    EXPECT_FALSE(st.ok()) << c.field;
    EXPECT_EQ(st.field(), c.field);
  }
}

TEST(Spec, SameDirNeedsTwoDimensions) {
  JobSpec s = Valid();
  s.grid.y.reset();
  s.directions.same_dir = true;
  EXPECT_EQ(ValidateSpec(s).field(), "directions.same_dir");
}

TEST(Spec, WithDirectionFileKeepsEverythingButHowTheDirectionsAreMade) {
  // Every direction kind, turned into "read them from this file", must still validate: a resumed
  // plane through three models once failed here ("model3 needs model2").
  JobSpec target = Valid();
  target.directions.kind = DirectionKind::kTarget;
  target.model.model2 = "m2.pt";
  target.model.model3 = "m3.pt";
  JobSpec pca = Valid();
  pca.directions.kind = DirectionKind::kPca;
  pca.model.checkpoints = {"c0.pt", "c1.pt", "c2.pt"};
  JobSpec same = Valid();
  same.directions.same_dir = true;
  for (const JobSpec& s : {Valid(), target, pca, same}) {
    ASSERT_TRUE(ValidateSpec(s).ok());
    JobSpec f = WithDirectionFile(s, "d.h5");
    EXPECT_TRUE(ValidateSpec(f).ok()) << ValidateSpec(f) << " for kind " << Name(s.directions.kind);
    EXPECT_EQ(f.directions.kind, DirectionKind::kFile);
    EXPECT_EQ(f.directions.file, "d.h5");
    EXPECT_FALSE(f.directions.same_dir);
    EXPECT_TRUE(f.model.model2.empty() && f.model.model3.empty() && f.model.checkpoints.empty());
    EXPECT_EQ(f.model.model, s.model.model);
    EXPECT_EQ(f.directions.type, s.directions.type);
    EXPECT_EQ(f.grid.x.num, s.grid.x.num);
    EXPECT_EQ(f.grid.y->num, s.grid.y->num);
    EXPECT_EQ(f.labels, s.labels);
  }
}

TEST(Spec, ParsesNamesLikeTheReference) {
  EXPECT_EQ(*ParseNorm("", "f"), Norm::kNone);     // the reference's '' = no normalization
  EXPECT_EQ(*ParseIgnore("", "f"), Ignore::kNone);
  EXPECT_EQ(*ParseNorm("dfilter", "f"), Norm::kDFilter);
  EXPECT_FALSE(ParseNorm("filters", "--xnorm").ok());
  EXPECT_EQ(ParseNorm("filters", "--xnorm").status().field(), "--xnorm");
}

TEST(Spec, DataSources) {
  EXPECT_EQ(ParseDataSource("fashion-mnist")->kind, DataSource::Kind::kFashionMnist);
  EXPECT_EQ(ParseDataSource("idx:/d")->location, "/d");
  EXPECT_EQ(ParseDataSource("cifar10:/c")->kind, DataSource::Kind::kCifar10);
  EXPECT_EQ(ParseDataSource("x.pt")->kind, DataSource::Kind::kTensor);
  EXPECT_FALSE(ParseDataSource("idx:").ok());
  EXPECT_FALSE(ParseDataSource("svhn").ok());
}

TEST(Spec, NormalizationParsing) {
  auto n = ParseNormalization("0.5,0.4,0.3/0.2,0.2,0.2");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->mean.size(), 3u);
  EXPECT_EQ(ParseNormalization("none")->mode, Normalization::Mode::kNone);
  EXPECT_FALSE(ParseNormalization("0.5/0").ok());
  EXPECT_FALSE(ParseNormalization("0.5,0.5/0.2").ok());
}

TEST(Spec, ComputationKeyIgnoresLabels) {
  JobSpec a = Valid(), b = Valid();
  b.labels["run"] = "42";
  b.tile_size = 17;
  EXPECT_EQ(ComputationKey(a), ComputationKey(b));
  b.directions.seed = 5;
  EXPECT_NE(ComputationKey(a), ComputationKey(b));
}

TEST(Spec, MetricNames) {
  JobSpec s = Valid();
  s.data.split = Split::kBoth;
  s.hessian.enabled = true;
  EXPECT_EQ(s.MetricNames(),
            (std::vector<std::string>{"train_loss", "train_acc", "test_loss", "test_acc", "min_eig", "max_eig"}));
}

}  // namespace
}  // namespace landscape::core
