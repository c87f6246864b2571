// Node rules: Slurm's constraint syntax, node lists, partitions and their
// limits at submission.
#include "model/node_rule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/node.h"

namespace kojo {
namespace {

using ::testing::HasSubstr;

NodeSpec Node(std::string name, std::string model, std::vector<std::string> features,
              std::vector<std::string> partitions = {}) {
  NodeSpec s;
  s.name = std::move(name);
  s.gpu_model = model;
  s.gpus = 8;
  s.features = NodeFeatures(features, model);
  s.partitions = std::move(partitions);
  return s;
}

NodeRule Rule(const std::string& constraint) {
  NodeRule r;
  EXPECT_TRUE(r.SetConstraint(constraint).ok()) << constraint;
  return r;
}

TEST(ConstraintTest, ParsesSlurmsForms) {
  auto c = ParseConstraint("A100&IB");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->any_of, (std::vector<std::vector<std::string>>{{"a100", "ib"}}));
  c = ParseConstraint("a100|h100");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->any_of, (std::vector<std::vector<std::string>>{{"a100"}, {"h100"}}));
  EXPECT_FALSE(c->matching);
  c = ParseConstraint("(a|b)&ib");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->any_of, (std::vector<std::vector<std::string>>{{"a", "ib"}, {"b", "ib"}}));
  c = ParseConstraint("[rack1|rack2]");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->matching);
  EXPECT_EQ(c->any_of.size(), 2u);
  c = ParseConstraint("nvlink*2,ib");  // a count; ',' as '&'
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->counts);
  EXPECT_EQ(c->any_of, (std::vector<std::vector<std::string>>{{"ib", "nvlink"}}));
  EXPECT_TRUE(ParseConstraint("").ok());
}

TEST(ConstraintTest, RefusesWhatIsNotAnExpressionAndSaysWhere) {
  for (const char* bad : {"a100&", "|a", "(a|b", "a)", "[a|b", "a*", "a b", "a&&b"}) {
    auto c = ParseConstraint(bad);
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_THAT(c.error().message, HasSubstr("position")) << bad;
    EXPECT_THAT(c.error().message, HasSubstr(bad)) << bad;
  }
  EXPECT_THAT(ParseConstraint("a100&").error().message, HasSubstr("expected a feature name at position 6"));
  EXPECT_FALSE(ParseConstraint(std::string(2000, 'a')).ok());
}

TEST(NodeRuleTest, MatchesFeaturesAndTheGpuModelWithoutRegardToCase) {
  const NodeSpec a = Node("n1", "A100", {"nvlink", "IB"});
  const NodeSpec h = Node("n2", "H100", {"ib"});
  EXPECT_TRUE(Rule("a100").Allows(a));
  EXPECT_FALSE(Rule("a100").Allows(h));
  EXPECT_TRUE(Rule("nvlink&ib").Allows(a));
  EXPECT_FALSE(Rule("nvlink&ib").Allows(h));
  EXPECT_TRUE(Rule("a100|h100").Allows(h));
  EXPECT_TRUE(Rule("IB").Allows(h));
  // The model counts even when the spec was not normalised.
  NodeSpec bare;
  bare.name = "n3";
  bare.gpu_model = "T4";
  EXPECT_TRUE(Rule("t4").Allows(bare));
  EXPECT_FALSE(Rule("ib").Allows(bare));
}

TEST(NodeRuleTest, NodeListsAndPartitions) {
  const NodeSpec a = Node("gpu01", "A100", {}, {"long"});
  const NodeSpec b = Node("gpu02", "A100", {}, {"short", "debug"});
  NodeRule r;
  r.nodelist = {"gpu01"};
  EXPECT_TRUE(r.Allows(a));
  EXPECT_FALSE(r.Allows(b));
  r = NodeRule{};
  r.exclude = {"gpu01"};
  EXPECT_FALSE(r.Allows(a));
  EXPECT_TRUE(r.Allows(b));
  r = NodeRule{};
  r.partitions = {"debug", "gpu"};
  EXPECT_FALSE(r.Allows(a));
  EXPECT_TRUE(r.Allows(b));
  EXPECT_EQ(r.Describe(), "partition debug|gpu");
  EXPECT_NE(r.Key(), NodeRule{}.Key());
}

TEST(NodeRuleTest, AMatchingOrGivesOneRulePerAlternative) {
  auto alts = Rule("[rack1|rack2]").Alternatives();
  ASSERT_EQ(alts.size(), 2u);
  const NodeSpec r1 = Node("n1", "A100", {"rack1"}), r2 = Node("n2", "A100", {"rack2"});
  EXPECT_TRUE(alts[0].Allows(r1));
  EXPECT_FALSE(alts[0].Allows(r2));
  EXPECT_TRUE(alts[1].Allows(r2));
  EXPECT_EQ(Rule("rack1|rack2").Alternatives().size(), 1u);  // a plain OR: any node
}

std::vector<Partition> Partitions() {
  Partition gpu;
  gpu.name = "gpu";
  gpu.nodes = {"n1", "n2"};
  gpu.max_time = 7200;
  gpu.default_time = 600;
  gpu.is_default = true;
  Partition big;
  big.name = "big";
  big.features = "h100";
  big.projects = {"vision"};
  return {gpu, big};
}

TEST(PartitionTest, NodesBelongByNameOrFeatures) {
  const auto parts = Partitions();
  EXPECT_EQ(PartitionsOf(parts, Node("n1", "A100", {})), (std::vector<std::string>{"gpu"}));
  EXPECT_EQ(PartitionsOf(parts, Node("n2", "H100", {})), (std::vector<std::string>{"gpu", "big"}));
  EXPECT_TRUE(PartitionsOf(parts, Node("n9", "A100", {})).empty());
}

TEST(PartitionTest, AdmitsToTheDefaultAndSetsItsDefaultTime) {
  auto a = AdmitToPartitions(Partitions(), {}, "nlp", std::nullopt);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->partitions, (std::vector<std::string>{"gpu"}));
  EXPECT_EQ(a->time_limit, 600);
  a = AdmitToPartitions(Partitions(), {"big", "gpu"}, "vision", 3600);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->partitions, (std::vector<std::string>{"big", "gpu"}));
  EXPECT_EQ(a->time_limit, 3600);
  // A list keeps what the project and the time limit allow.
  a = AdmitToPartitions(Partitions(), {"big", "gpu"}, "nlp", 3600);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->partitions, (std::vector<std::string>{"gpu"}));
  a = AdmitToPartitions(Partitions(), {"big", "gpu"}, "vision", 86400);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->partitions, (std::vector<std::string>{"big"}));
}

TEST(PartitionTest, RefusalsNameTheFieldAndTheLimit) {
  auto a = AdmitToPartitions(Partitions(), {"nope"}, "nlp", std::nullopt);
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.error().message, HasSubstr("partition: no partition named 'nope' (known: gpu, big)"));
  a = AdmitToPartitions(Partitions(), {"big"}, "nlp", std::nullopt);
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.error().message, HasSubstr("project 'nlp' may not use partition 'big' (it allows vision)"));
  a = AdmitToPartitions(Partitions(), {"gpu"}, "nlp", 86400);
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.error().message, HasSubstr("time_limit_s: 86400 is over the max_time_s of partition 'gpu' (7200)"));
}

TEST(PartitionTest, WithoutPartitionsEveryNodeIsOnePool) {
  auto a = AdmitToPartitions({}, {"gpu"}, "nlp", std::nullopt);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->partitions.empty());
  EXPECT_FALSE(a->time_limit);
}

}  // namespace
}  // namespace kojo
