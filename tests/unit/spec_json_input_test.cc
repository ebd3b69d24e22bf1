// Spec JSON from untrusted clients: numbers that an integer field cannot hold are refused with the
// field named (converting them was undefined behaviour: found by fuzz_spec_json).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>

#include "landscape/core/spec.h"

namespace landscape::core {
namespace {

std::string WithMaxSamples(const std::string& value) {
  return R"({"model": {"model": "a.pt"}, "data": {"source": "fashion-mnist", "max_samples": )" + value +
         R"(}, "grid": {"x": {"min": -1, "max": 1, "num": 3}}})";
}

TEST(SpecJsonInput, IntegerFieldsRefuseNumbersTheyCannotHold) {
  for (const char* bad : {"1.1e109", "-1e300", "2.5", "9223372036854775808", "18446744073709551615", "9.3e18"}) {
    auto r = SpecFromJson(WithMaxSamples(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().ToString().find("data.max_samples"), std::string::npos) << r.status().ToString();
    EXPECT_NE(r.status().message().find("must be an integer"), std::string::npos) << r.status().ToString();
  }
  // Integers, also written as floats, are read.
  for (const auto& [text, value] : {std::pair<const char*, int64_t>{"64", 64}, {"64.0", 64}, {"1e3", 1000},
                                    {"-9223372036854775808", INT64_MIN}}) {
    auto r = SpecFromJson(WithMaxSamples(text));
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().ToString();
    EXPECT_EQ(r->data.max_samples, value) << text;
  }
}

TEST(SpecJsonInput, UnsignedFieldsRefuseNegativeNumbers) {
  const std::string json = R"({"model": {"model": "a.pt"}, "data": {"source": "fashion-mnist", "subset_seed": -1},
                               "grid": {"x": {"min": -1, "max": 1, "num": 3}}})";
  auto r = SpecFromJson(json);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().ToString().find("data.subset_seed"), std::string::npos) << r.status().ToString();
}

}  // namespace
}  // namespace landscape::core
