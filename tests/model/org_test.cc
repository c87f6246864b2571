#include <gtest/gtest.h>

#include "model/job.h"
#include "model/org.h"

namespace kojo {
namespace {

TEST(GpuWeights, ExactThenLongestPrefixThenDefault) {
  GpuWeights w;
  w.Set("H100", 2000);
  w.Set("H100-80GB-NVL", 2200);
  w.Set("T4", 250);
  EXPECT_EQ(w.Of("h100"), 2000);
  EXPECT_EQ(w.Of("H100-80GB-HBM3"), 2000);
  EXPECT_EQ(w.Of("H100-80GB-NVL"), 2200);
  EXPECT_EQ(w.Of("t4"), 250);
  EXPECT_EQ(w.Of("A100"), 1000);
  EXPECT_EQ(w.Of(""), 1000);
}

TEST(GpuWeights, AMigInstanceWeighsItsShareOfItsGpu) {
  GpuWeights w;
  w.Set("H100", 2000);
  w.Set("A30", 800);
  EXPECT_EQ(MigModel("H100", "1g.10gb"), "H100-1g.10gb");
  EXPECT_EQ(MigShareMilli("H100-1g.10gb"), 142);
  EXPECT_EQ(MigShareMilli("H100-7g.80gb"), 1000);
  EXPECT_EQ(MigShareMilli("A30-1g.6gb"), 250);
  EXPECT_FALSE(MigShareMilli("H100-80GB"));
  EXPECT_FALSE(MigShareMilli("H100"));
  EXPECT_EQ(w.Of("H100-1g.10gb"), 2000 * 142 / 1000);
  EXPECT_EQ(w.Of("H100-3g.40gb"), 2000 * 428 / 1000);
  EXPECT_EQ(w.Of("A30-2g.12gb"), 400);
  EXPECT_EQ(w.Of("H100-80GB"), 2000);  // a memory size, not a MIG profile
  w.Set("H100-1g.10gb", 500);          // an entry of its own wins
  EXPECT_EQ(w.Of("H100-1g.10gb"), 500);
  // A job asking for whole H100s never gets a slice.
  EXPECT_FALSE(GpuModelAllowed({"H100"}, "H100-1g.10gb"));
}

TEST(GpuWeights, CostIsNormalisedMilliGpuSecondsRoundedUp) {
  GpuWeights w;
  w.Set("H100", 2000);
  // 2 H100 for one hour count as 4 normalised GPU-hours.
  EXPECT_EQ(w.Cost("H100", 2, kWholeGpu, 3600), 4 * kNormPerGpuHour);
  // A quarter of a T4-like default GPU for 10 s.
  EXPECT_EQ(w.Cost("A100", 1, 250, 10), 2500);
  w.Set("T4", 333);
  EXPECT_EQ(w.Cost("T4", 1, 1, 1), 1);  // 0.333 rounds up
  EXPECT_EQ(w.Cost("T4", 0, kWholeGpu, 100), 0);
  EXPECT_EQ(w.Cost("T4", 1, kWholeGpu, 0), 0);
}

TEST(Roles, ParseWhatToStringWrites) {
  for (Role r : {Role::kViewer, Role::kOperator, Role::kAdmin}) EXPECT_EQ(ParseRole(ToString(r)), r);
  for (ProjectRole r : {ProjectRole::kMember, ProjectRole::kLead})
    EXPECT_EQ(ParseProjectRole(ToString(r)), r);
  EXPECT_FALSE(ParseRole("root"));
  EXPECT_FALSE(ParseProjectRole("Lead"));
}

TEST(Grant, ActiveInItsHalfOpenWindow) {
  Grant g{"g", "p", "research", 100, 1000, 2000};
  EXPECT_FALSE(g.Active(999));
  EXPECT_TRUE(g.Active(1000));
  EXPECT_TRUE(g.Active(1999));
  EXPECT_FALSE(g.Active(2000));
}

}  // namespace
}  // namespace kojo
