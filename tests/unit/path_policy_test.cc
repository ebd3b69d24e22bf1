// PathPolicy: which local paths a submitted spec may name (symlinks and ".." resolved,
// roots compared component by component, denied roots inside allowed ones).
#include "landscape/core/path_policy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace landscape::core {
namespace {

namespace fs = std::filesystem;

class PathPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/landscape-path-policy-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = fs::canonical(tmpl);
    fs::create_directories(root_ / "data" / "sub");
    fs::create_directories(root_ / "data-evil");
    fs::create_directories(root_ / "data" / "cache");
    for (const fs::path& p : {root_ / "data" / "sub" / "m.pt", root_ / "data-evil" / "m.pt",
                              root_ / "data" / "cache" / "blob", root_ / "secret"}) {
      std::ofstream(p) << "x";
    }
    fs::create_symlink(root_ / "secret", root_ / "data" / "link-out");
    fs::create_symlink(root_ / "data" / "sub" / "m.pt", root_ / "data" / "link-in");
    fs::create_symlink(root_ / "data" / "cache", root_ / "data" / "cache-link");
    policy_.allowed_roots = {(root_ / "data").string()};
    policy_.denied_roots = {(root_ / "data" / "cache").string()};
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string P(const std::string& rel) const { return (root_ / rel).string(); }
  Status Check(const std::string& path, bool must_exist = true) const {
    return ResolveAllowedPath(policy_, "model.model", path, must_exist).status();
  }

  fs::path root_;
  PathPolicy policy_;
};

TEST_F(PathPolicyTest, AllowsAFileInsideAnAllowedRootAndReturnsItResolved) {
  auto r = ResolveAllowedPath(policy_, "model.model", P("data/sub/m.pt"), true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, P("data/sub/m.pt"));
  auto in = ResolveAllowedPath(policy_, "model.model", P("data/link-in"), true);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(*in, P("data/sub/m.pt"));  // a symlink inside the root to a file inside it: the target
  // Not yet existing files are allowed when not required to exist (the server's view).
  EXPECT_TRUE(Check(P("data/sub/new.pt"), false).ok());
  EXPECT_FALSE(Check(P("data/sub/new.pt"), true).ok());
}

TEST_F(PathPolicyTest, NoRootsMeansNoPaths) {
  PathPolicy none;
  Status s = ResolveAllowedPath(none, "data.source", P("data/sub/m.pt"), false).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.field(), "data.source");
  EXPECT_NE(s.message().find("paths are not allowed on this server"), std::string::npos) << s.message();
}

TEST_F(PathPolicyTest, RefusesEscapes) {
  for (const std::string& bad : {P("data/link-out"),                // symlink to outside
                                 P("data/sub/../../secret"),        // ".." out of the root
                                 P("data/../data-evil/m.pt"),
                                 P("data-evil/m.pt"),               // prefix trick: /data-evil vs /data
                                 P("secret"), std::string("/etc/passwd")}) {
    for (bool must_exist : {true, false}) {
      Status s = Check(bad, must_exist);
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
      EXPECT_EQ(s.field(), "model.model") << bad;
      EXPECT_NE(s.message().find("outside the allowed roots"), std::string::npos) << bad << ": " << s.message();
    }
  }
  // A dangling symlink: its target may exist where the file is opened.
  fs::create_symlink(root_ / "nowhere" / "x", root_ / "data" / "dangling");
  for (bool must_exist : {true, false}) {
    Status d = Check(P("data/dangling"), must_exist);
    EXPECT_EQ(d.code(), StatusCode::kInvalidArgument);
    Status below = Check(P("data/dangling/m.pt"), must_exist);
    EXPECT_EQ(below.code(), StatusCode::kInvalidArgument) << below.message();
  }
  Status rel = Check("data/sub/m.pt", false);
  EXPECT_EQ(rel.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(rel.message().find("absolute"), std::string::npos) << rel.message();
}

TEST_F(PathPolicyTest, DeniedRootInsideAnAllowedRootWins) {
  for (const std::string& bad : {P("data/cache/blob"), P("data/cache-link/blob"), P("data/sub/../cache/blob"),
                                 P("data/cache")}) {
    Status s = Check(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("never reachable by path"), std::string::npos) << bad << ": " << s.message();
  }
  // A root written with a trailing slash or through "..": the same directory.
  PathPolicy p = policy_;
  p.allowed_roots = {P("data/sub/../") + "/"};
  EXPECT_TRUE(ResolveAllowedPath(p, "f", P("data/sub/m.pt"), true).ok());
  EXPECT_FALSE(ResolveAllowedPath(p, "f", P("data-evil/m.pt"), true).ok());
}

TEST(PathsInSpec, ListsEveryFieldThatNamesAPath) {
  const std::string sha(64, 'a');
  JobSpec s;
  s.model.model = "file:///m/model.pt";
  s.model.arch = "/m/arch.pt";
  s.model.model2 = "artifact:" + sha;  // not a path
  s.model.model3 = "file:///m/m3.pt";
  s.model.checkpoints = {"artifact:" + sha, "file:///m/c1.pt", "/m/c2.pt"};
  s.directions.file = "file:///m/dir.h5";
  s.data.source = "idx:/d/idx";
  auto list = [](const JobSpec& spec) {
    std::vector<std::string> out;
    for (const SpecPath& p : PathsInSpec(spec)) out.push_back(p.field + "=" + p.path);
    return out;
  };
  EXPECT_EQ(list(s), (std::vector<std::string>{"model.model=/m/model.pt", "model.arch=/m/arch.pt",
                                               "model.model3=/m/m3.pt", "model.checkpoints[1]=/m/c1.pt",
                                               "model.checkpoints[2]=/m/c2.pt", "directions.file=/m/dir.h5",
                                               "data.source=/d/idx"}));
  JobSpec d;
  d.model.model = "artifact:" + sha;
  const std::vector<std::pair<std::string, std::vector<std::string>>> data{
      {"cifar10:/d/c", {"data.source=/d/c"}},
      {"tensor:/d/t.pt", {"data.source=/d/t.pt"}},
      {"tensor:file:///d/t.pt", {"data.source=/d/t.pt"}},
      {"/d/x.pt", {"data.source=/d/x.pt"}},
      {"file:///d/x.pt", {"data.source=/d/x.pt"}},
      {"artifact:" + sha, {}},
      {"tensor:artifact:" + sha, {}},
      {"fashion-mnist", {}},
      {"mnist", {}},
      {"synthetic:100:1x28x28", {}},
      {"not a source", {}}};
  for (const auto& [source, want] : data) {
    d.data.source = source;
    EXPECT_EQ(list(d), want) << source;
  }
}

TEST(PathsInSpec, CheckSpecPathsNamesTheFirstRefusedField) {
  JobSpec s;
  s.model.model = "artifact:" + std::string(64, 'b');
  s.data.source = "cifar10:/somewhere";
  Status st = CheckSpecPaths(PathPolicy{}, s, false);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.field(), "data.source");
  s.data.source = "mnist";
  EXPECT_TRUE(CheckSpecPaths(PathPolicy{}, s, false).ok());
}

}  // namespace
}  // namespace landscape::core
