// Unit tests of the service's pure parts: SHA-256, tile value encoding, job
// names, proto <-> core conversion, the tokens file and the status mapping.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "auth.h"
#include "grpc_status.h"
#include "landscape/core/job.h"
#include "landscape/core/sha256.h"
#include "landscape/proto/convert.h"

namespace landscape {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(core::Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(core::Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(core::Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // A million 'a's, fed in uneven pieces: the incremental path equals the one-shot one.
  core::Sha256 h;
  const std::string piece(977, 'a');
  size_t left = 1000000;
  while (left > 0) {
    const size_t n = std::min(left, piece.size());
    h.Update(piece.data(), n);
    left -= n;
  }
  EXPECT_EQ(h.HexDigest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_TRUE(core::IsSha256Hex(core::Sha256Hex("x")));
  EXPECT_FALSE(core::IsSha256Hex("ABC"));
}

TEST(TileValues, RoundTripIsBitExact) {
  std::vector<double> v = {0.0, -0.0, 1.0 / 3.0, -2.5e-300, std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::denorm_min()};
  const std::string bytes = core::EncodeValues(v);
  ASSERT_EQ(bytes.size(), v.size() * 8);
  EXPECT_EQ(static_cast<uint8_t>(bytes[8 * 2]), 0x55);  // little-endian: 1/3 = 0x3fd5555555555555
  auto back = core::DecodeValues(bytes, v.size());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::memcmp(back->data(), v.data(), v.size() * 8), 0);
  EXPECT_EQ(core::DecodeValues(bytes, v.size() + 1).status().code(), core::StatusCode::kDataLoss);
}

TEST(JobNames, ParseAndReject) {
  EXPECT_EQ(*core::JobIdFromName("jobs/abc123"), "abc123");
  EXPECT_EQ(*core::JobIdFromName("abc123"), "abc123");
  EXPECT_EQ(core::JobName("x1"), "jobs/x1");
  for (const char* bad : {"", "jobs/", "jobs/a b", "jobs/../x", "projects/x/jobs/y"}) {
    auto r = core::JobIdFromName(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().field(), "name");
  }
  EXPECT_EQ(core::RandomId(16).size(), 16u);
  EXPECT_NE(core::RandomId(16), core::RandomId(16));
}

core::JobSpec RichSpec() {
  core::JobSpec s;
  s.model.model = "artifact:" + std::string(64, '1');
  s.model.arch = "file:///models/arch.pt";
  s.model.checkpoints = {"artifact:" + std::string(64, '2'), "artifact:" + std::string(64, '3')};
  s.data.source = "mnist";
  s.data.split = core::Split::kBoth;
  s.data.max_samples = 1000;
  s.data.subset_seed = 0;  // zero is a seed, not "unset"
  s.data.batch_size = 64;
  s.data.normalize = "0.5/0.25";
  s.loss = core::Loss::kMse;
  s.directions.kind = core::DirectionKind::kPca;
  s.directions.type = core::DirType::kStates;
  s.directions.x = {core::Norm::kLayer, core::Ignore::kNone};
  s.directions.y = {core::Norm::kNone, core::Ignore::kBiasBN};
  s.directions.seed = 0;
  s.directions.same_dir = false;
  s.directions.pca_ignore = core::Ignore::kBiasBN;
  s.grid.x = {-0.5, 1.25, 7};
  s.grid.y = core::AxisSpec{-2, 2, 3};
  s.hessian.enabled = true;
  s.hessian.max_samples = 10;
  s.hessian.tolerance = 1e-4;
  s.hessian.max_iterations = 30;
  s.compute_loss = false;
  s.labels = {{"commit", "abc"}, {"run", "7"}};
  s.tile_size = 9;
  s.name = "rich";
  return s;
}

TEST(ProtoConvert, SpecRoundTripIsExact) {
  const core::JobSpec s = RichSpec();
  v1::JobSpec p;
  convert::SpecToProto(s, &p);
  auto back = convert::SpecFromProto(p);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(core::SpecToJson(*back), core::SpecToJson(s));
  // Defaults survive too (a spec with nothing set but the model and grid).
  core::JobSpec d;
  d.model.model = "artifact:" + std::string(64, '4');
  convert::SpecToProto(d, &p);
  EXPECT_EQ(core::SpecToJson(*convert::SpecFromProto(p)), core::SpecToJson(d));
}

TEST(ProtoConvert, UnsetFieldsTakeTheDefaultsOfLocal) {
  v1::JobSpec p;
  p.mutable_model()->set_model("artifact:x");
  p.mutable_grid()->mutable_x()->set_num(3);
  auto s = convert::SpecFromProto(p);
  ASSERT_TRUE(s.ok());
  const core::JobSpec d;
  EXPECT_EQ(s->data.source, d.data.source);
  EXPECT_EQ(s->data.batch_size, d.data.batch_size);
  EXPECT_EQ(s->directions.seed, d.directions.seed);
  EXPECT_EQ(s->directions.x.norm, core::Norm::kFilter);
  EXPECT_EQ(s->directions.x.ignore, core::Ignore::kBiasBN);
  EXPECT_EQ(s->directions.pca_ignore, core::Ignore::kNone);
  EXPECT_TRUE(s->compute_loss);
  EXPECT_FALSE(s->grid.y.has_value());
}

TEST(ProtoConvert, BadEnumsAndMissingGridNameTheField) {
  v1::JobSpec p;
  p.mutable_model()->set_model("artifact:x");
  auto no_grid = convert::SpecFromProto(p);
  EXPECT_EQ(no_grid.status().field(), "grid.x");
  p.mutable_grid()->mutable_x()->set_num(3);
  p.mutable_directions()->mutable_y()->set_norm(static_cast<v1::Norm>(42));
  auto bad = convert::SpecFromProto(p);
  EXPECT_EQ(bad.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().field(), "directions.y.norm");
}

TEST(ProtoConvert, EventsCarryProgressRateAndTileValues) {
  core::JobEvent e;
  e.cursor = "1700000000000-3";
  e.type = core::JobEvent::Type::kTile;
  e.time_ms = 1700000000123;
  e.tile = 2;
  e.begin = 10;
  e.end = 12;
  e.values = {1, 2, 3, 4};  // train_loss then train_acc
  e.points_done = 40;
  e.points_total = 100;
  e.running_ms = 4000;
  v1::JobEvent p;
  convert::EventToProto(e, {"train_loss", "train_acc"}, &p);
  EXPECT_EQ(p.cursor(), e.cursor);
  EXPECT_EQ(convert::MsFromTimestamp(p.time()), e.time_ms);
  EXPECT_DOUBLE_EQ(p.progress().points_per_second(), 10.0);
  EXPECT_DOUBLE_EQ(p.progress().eta_seconds(), 6.0);
  ASSERT_EQ(p.tile().metrics_size(), 2);
  EXPECT_EQ(p.tile().metrics(1).metric(), "train_acc");
  EXPECT_EQ(p.tile().metrics(1).values(0), 3);
  EXPECT_EQ(p.tile().metrics(1).values(1), 4);
}

TEST(TokenAuth, ParsesAndAuthenticates) {
  auto a = server::TokenAuth::FromText("# comment\nsecret-token-1 alice\n\nsecret-token-2 bob # trailing\n", "t");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->size(), 2u);
  std::multimap<grpc::string_ref, grpc::string_ref> md;
  EXPECT_EQ(a->Authenticate(md).status().code(), core::StatusCode::kUnauthenticated);
  md.emplace("authorization", "Bearer secret-token-2");
  EXPECT_EQ(*a->Authenticate(md), "bob");
  md.clear();
  md.emplace("authorization", "Bearer wrong-token");
  EXPECT_EQ(a->Authenticate(md).status().code(), core::StatusCode::kUnauthenticated);
  EXPECT_EQ(*server::TokenAuth::Open().Authenticate({}), "default");
  for (const char* bad : {"", "lonelytoken\n", "short alice\n", "tok-tok-tok a b\n", "tok-tok-tok al/ice\n",
                          "tok-tok-tok a\ntok-tok-tok b\n"}) {
    EXPECT_FALSE(server::TokenAuth::FromText(bad, "t").ok()) << bad;
  }
}

// The tokens file's scheduling words: weight and quotas per tenant; a tenant's lines must agree; anything else
// is refused naming the line.
TEST(TokenAuth, ReadsEachTenantsWeightAndQuotas) {
  auto a = server::TokenAuth::FromText(
      "token-alice-1 alice weight=2 max_jobs=3\n"
      "token-alice-2 alice max_tiles_in_flight=4  # a second token of alice, more of her policy\n"
      "token-bob-111 bob max_queued_points=0\n"
      "token-carol-1 carol\n",
      "tokens.txt");
  ASSERT_TRUE(a.ok()) << a.status();
  const auto& p = a->policies();
  ASSERT_EQ(p.size(), 2u);  // carol has none
  EXPECT_EQ(p.at("alice").weight, 2.0);
  EXPECT_EQ(p.at("alice").max_jobs, 3);
  EXPECT_EQ(p.at("alice").max_tiles_in_flight, 4);
  EXPECT_FALSE(p.at("alice").max_queued_points.has_value());
  EXPECT_EQ(p.at("bob").max_queued_points, 0);
  EXPECT_FALSE(p.at("bob").weight.has_value());
  struct Bad {
    const char* text;
    const char* says;
  };
  for (const Bad& b : {Bad{"token-alice-1 alice weight=0\n", "weight must be"},
                       Bad{"token-alice-1 alice weight=-1\n", "weight must be"},
                       Bad{"token-alice-1 alice weight=two\n", "weight must be"},
                       Bad{"token-alice-1 alice max_jobs=-1\n", "max_jobs must be"},
                       Bad{"token-alice-1 alice max_jobs=1.5\n", "max_jobs must be"},
                       Bad{"token-alice-1 alice colour=red\n", "unknown key 'colour'"},
                       Bad{"token-alice-1 alice =3\n", "expected"},
                       Bad{"token-alice-1 alice weight=\n", "expected"},
                       Bad{"token-alice-1 alice weight=2\ntoken-alice-2 alice weight=3\n", "differs"}}) {
    auto r = server::TokenAuth::FromText(b.text, "tokens.txt");
    ASSERT_FALSE(r.ok()) << b.text;
    EXPECT_EQ(r.status().field(), "--tokens");
    EXPECT_NE(r.status().message().find(b.says), std::string::npos) << r.status();
    EXPECT_NE(r.status().message().find("tokens.txt:"), std::string::npos) << r.status();
  }
}

TEST(TokenAuth, ComparesDigestsOfEveryLengthAndReadsSecrets) {
  EXPECT_TRUE(server::ConstantTimeEquals("abcdefgh", "abcdefgh"));
  EXPECT_FALSE(server::ConstantTimeEquals("abcdefgh", "abcdefgX"));
  EXPECT_FALSE(server::ConstantTimeEquals("Xbcdefgh", "abcdefgh"));
  EXPECT_FALSE(server::ConstantTimeEquals("abc", "abcd"));
  EXPECT_EQ(server::SecretDigest("secret-token-1"), core::Sha256Hex("secret-token-1"));
  // A prefix, an extension or a token of another tenant is not a match.
  auto a = server::TokenAuth::FromText("secret-token-1 alice\nsecret-token-2 bob\n", "t");
  ASSERT_TRUE(a.ok()) << a.status();
  for (const char* wrong : {"Bearer secret-token-", "Bearer secret-token-12", "Bearer SECRET-TOKEN-1", "secret-token-1",
                            "Basic secret-token-1"}) {
    std::multimap<grpc::string_ref, grpc::string_ref> md;
    md.emplace("authorization", wrong);
    EXPECT_EQ(a->Authenticate(md).status().code(), core::StatusCode::kUnauthenticated) << wrong;
  }
  EXPECT_EQ(*server::ReadSecret("  a-literal-secret \n", "--metrics-token"), "a-literal-secret");
  auto shorter = server::ReadSecret("short", "--metrics-token");
  ASSERT_FALSE(shorter.ok());
  EXPECT_EQ(shorter.status().field(), "--metrics-token");
}

TEST(GrpcStatus, KeepsTheCodeAndNamesTheField) {
  auto g = server::ToGrpcStatus(core::InvalidArgument("grid.x", "must have at least 1 point"));
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(g.error_message(), "grid.x: must have at least 1 point");
  EXPECT_EQ(server::ToGrpcStatus(core::Unavailable("x")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server::ToGrpcStatus(core::NotFound("x")).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(server::ToGrpcStatus(core::Status::Ok()).ok());
}

}  // namespace
}  // namespace landscape
