// Node filters must agree with kube-scheduler's NodeUnschedulable, TaintToleration and
// NodeAffinity plugins, and say why in the same words.

#include "scheduler/state/node_filters.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace fairway {
namespace {

using Op = NodeSelectorRequirement::Operator;
using TolOp = Toleration::Operator;

NodeSelectorRequirement req(std::string key, Op op, std::vector<std::string> values = {}) {
  return NodeSelectorRequirement{std::move(key), op, std::move(values)};
}

NodeSelectorTerm expressions(std::vector<NodeSelectorRequirement> reqs) {
  NodeSelectorTerm term;
  term.match_expressions = std::move(reqs);
  return term;
}

NodeSelectorTerm fields(std::vector<NodeSelectorRequirement> reqs) {
  NodeSelectorTerm term;
  term.match_fields = std::move(reqs);
  return term;
}

Node node_with_labels(Labels labels, std::string name = "node-a") {
  Node node;
  node.name = std::move(name);
  node.labels = std::move(labels);
  return node;
}

Pod pod_with_terms(std::vector<NodeSelectorTerm> terms) {
  Pod pod;
  pod.required_node_affinity = std::move(terms);
  return pod;
}

bool affinity_fits(std::vector<NodeSelectorTerm> terms, const Node& node) {
  return filter_node_affinity(pod_with_terms(std::move(terms)), node).fits();
}

// --- node affinity / selector ---------------------------------------------------------------

TEST(NodeAffinity, NoConstraintsFitEveryNode) {
  EXPECT_TRUE(filter_node_affinity(Pod{}, Node{}).fits());
  EXPECT_TRUE(affinity_fits({}, node_with_labels({})));  // empty term list: no constraint
}

TEST(NodeAffinity, NodeSelectorNeedsEveryLabelEqual) {
  Pod pod;
  pod.node_selector = {{"gpu", "h100"}, {"zone", "a"}};
  EXPECT_TRUE(
      filter_node_affinity(pod, node_with_labels({{"gpu", "h100"}, {"zone", "a"}, {"extra", "x"}}))
          .fits());
  EXPECT_FALSE(filter_node_affinity(pod, node_with_labels({{"gpu", "h100"}})).fits());
  const auto result = filter_node_affinity(pod, node_with_labels({{"gpu", "a100"}, {"zone", "a"}}));
  EXPECT_EQ(result.code, NodeFilterCode::kNodeAffinity);
  EXPECT_EQ(failure_reason(result), "node(s) didn't match Pod's node affinity/selector");
}

TEST(NodeAffinity, SelectorAndAffinityMustBothMatch) {
  Pod pod = pod_with_terms({expressions({req("zone", Op::kIn, {"a"})})});
  pod.node_selector = {{"gpu", "h100"}};
  EXPECT_TRUE(filter_node_affinity(pod, node_with_labels({{"gpu", "h100"}, {"zone", "a"}})).fits());
  EXPECT_FALSE(
      filter_node_affinity(pod, node_with_labels({{"gpu", "h100"}, {"zone", "b"}})).fits());
  EXPECT_FALSE(filter_node_affinity(pod, node_with_labels({{"zone", "a"}})).fits());
}

TEST(NodeAffinity, TermsAreOredRequirementsAnded) {
  const std::vector<NodeSelectorTerm> terms = {
      expressions({req("zone", Op::kIn, {"a"}), req("gpu", Op::kExists)}),
      expressions({req("zone", Op::kIn, {"b"})}),
  };
  EXPECT_TRUE(affinity_fits(terms, node_with_labels({{"zone", "a"}, {"gpu", "x"}})));
  EXPECT_FALSE(affinity_fits(terms, node_with_labels({{"zone", "a"}})));  // AND within a term
  EXPECT_TRUE(affinity_fits(terms, node_with_labels({{"zone", "b"}})));   // OR across terms
  EXPECT_FALSE(affinity_fits(terms, node_with_labels({{"zone", "c"}, {"gpu", "x"}})));
}

TEST(NodeAffinity, TermWithoutRequirementsMatchesNothing) {
  EXPECT_FALSE(affinity_fits({NodeSelectorTerm{}}, node_with_labels({{"a", "b"}})));
  // ... but does not stop another term from matching.
  EXPECT_TRUE(affinity_fits({NodeSelectorTerm{}, expressions({req("a", Op::kExists)})},
                            node_with_labels({{"a", "b"}})));
}

TEST(NodeAffinity, InAndNotIn) {
  const Labels labels = {{"zone", "a"}};
  EXPECT_TRUE(matches_label_requirement(req("zone", Op::kIn, {"b", "a"}), labels));
  EXPECT_FALSE(matches_label_requirement(req("zone", Op::kIn, {"b"}), labels));
  EXPECT_FALSE(matches_label_requirement(req("region", Op::kIn, {"a"}), labels));
  EXPECT_FALSE(matches_label_requirement(req("zone", Op::kNotIn, {"a", "b"}), labels));
  EXPECT_TRUE(matches_label_requirement(req("zone", Op::kNotIn, {"b"}), labels));
  // NotIn matches a node without the label, as labels.Selector does.
  EXPECT_TRUE(matches_label_requirement(req("region", Op::kNotIn, {"a"}), labels));
  // Malformed: In/NotIn need values.
  EXPECT_FALSE(matches_label_requirement(req("zone", Op::kIn), labels));
  EXPECT_FALSE(matches_label_requirement(req("region", Op::kNotIn), labels));
}

TEST(NodeAffinity, ExistsAndDoesNotExist) {
  const Labels labels = {{"gpu", ""}};
  EXPECT_TRUE(matches_label_requirement(req("gpu", Op::kExists), labels));  // empty value counts
  EXPECT_FALSE(matches_label_requirement(req("cpu", Op::kExists), labels));
  EXPECT_TRUE(matches_label_requirement(req("cpu", Op::kDoesNotExist), labels));
  EXPECT_FALSE(matches_label_requirement(req("gpu", Op::kDoesNotExist), labels));
  // Malformed: Exists/DoesNotExist take no values.
  EXPECT_FALSE(matches_label_requirement(req("gpu", Op::kExists, {"x"}), labels));
  EXPECT_FALSE(matches_label_requirement(req("cpu", Op::kDoesNotExist, {"x"}), labels));
}

TEST(NodeAffinity, GtAndLtCompareIntegers) {
  const Labels labels = {{"gpus", "8"},     {"neg", "-3"},    {"plus", "+5"},
                         {"text", "eight"}, {"float", "8.0"}, {"huge", "99999999999999999999"}};
  EXPECT_TRUE(matches_label_requirement(req("gpus", Op::kGt, {"4"}), labels));
  EXPECT_FALSE(matches_label_requirement(req("gpus", Op::kGt, {"8"}), labels));  // strict
  EXPECT_TRUE(matches_label_requirement(req("gpus", Op::kLt, {"10"}), labels));  // not "10" < "8"
  EXPECT_FALSE(matches_label_requirement(req("gpus", Op::kLt, {"8"}), labels));
  EXPECT_TRUE(matches_label_requirement(req("neg", Op::kLt, {"0"}), labels));
  EXPECT_TRUE(matches_label_requirement(req("neg", Op::kGt, {"-4"}), labels));
  EXPECT_TRUE(matches_label_requirement(req("plus", Op::kGt, {"+4"}), labels));  // ParseInt takes +
  // A label or value that is not an int64 never matches, either way round.
  EXPECT_FALSE(matches_label_requirement(req("text", Op::kGt, {"1"}), labels));
  EXPECT_FALSE(matches_label_requirement(req("text", Op::kLt, {"1"}), labels));
  EXPECT_FALSE(matches_label_requirement(req("float", Op::kGt, {"1"}), labels));
  EXPECT_FALSE(matches_label_requirement(req("huge", Op::kGt, {"1"}), labels));
  EXPECT_FALSE(matches_label_requirement(req("gpus", Op::kGt, {"4.5"}), labels));
  EXPECT_FALSE(matches_label_requirement(req("gpus", Op::kGt, {"abc"}), labels));
  EXPECT_FALSE(matches_label_requirement(req("gpus", Op::kGt, {""}), labels));
  EXPECT_FALSE(matches_label_requirement(req("gpus", Op::kGt, {" 4"}), labels));
  EXPECT_FALSE(matches_label_requirement(req("gpus", Op::kGt, {"+-4"}), labels));
  // Exactly one value, and the label must exist.
  EXPECT_FALSE(matches_label_requirement(req("gpus", Op::kGt, {"1", "2"}), labels));
  EXPECT_FALSE(matches_label_requirement(req("gpus", Op::kGt), labels));
  EXPECT_FALSE(matches_label_requirement(req("missing", Op::kLt, {"100"}), labels));
}

TEST(NodeAffinity, MatchFieldsOnMetadataName) {
  const Node node = node_with_labels({}, "gpu-07");
  EXPECT_TRUE(affinity_fits({fields({req("metadata.name", Op::kIn, {"gpu-07"})})}, node));
  EXPECT_FALSE(affinity_fits({fields({req("metadata.name", Op::kIn, {"gpu-08"})})}, node));
  EXPECT_TRUE(affinity_fits({fields({req("metadata.name", Op::kNotIn, {"gpu-08"})})}, node));
  EXPECT_FALSE(affinity_fits({fields({req("metadata.name", Op::kNotIn, {"gpu-07"})})}, node));
  // kube-scheduler accepts exactly one value and only In/NotIn for fields.
  EXPECT_FALSE(
      affinity_fits({fields({req("metadata.name", Op::kIn, {"gpu-07", "gpu-08"})})}, node));
  EXPECT_FALSE(affinity_fits({fields({req("metadata.name", Op::kExists)})}, node));
  // Unknown fields read as "".
  EXPECT_FALSE(affinity_fits({fields({req("metadata.uid", Op::kIn, {"gpu-07"})})}, node));
}

TEST(NodeAffinity, FieldsAndExpressionsInOneTermAreAnded) {
  NodeSelectorTerm term = expressions({req("zone", Op::kIn, {"a"})});
  term.match_fields = {req("metadata.name", Op::kIn, {"n1"})};
  EXPECT_TRUE(affinity_fits({term}, node_with_labels({{"zone", "a"}}, "n1")));
  EXPECT_FALSE(affinity_fits({term}, node_with_labels({{"zone", "a"}}, "n2")));
  EXPECT_FALSE(affinity_fits({term}, node_with_labels({{"zone", "b"}}, "n1")));
}

// --- taints and tolerations -------------------------------------------------------------------

Taint taint(std::string key, std::string value, TaintEffect effect) {
  return Taint{std::move(key), std::move(value), effect};
}

Toleration toleration(std::string key, TolOp op, std::string value,
                      std::optional<TaintEffect> effect = std::nullopt) {
  return Toleration{std::move(key), op, std::move(value), effect};
}

TEST(Tolerations, MatchRules) {
  const Taint gpu = taint("gpu", "true", TaintEffect::kNoSchedule);
  EXPECT_TRUE(tolerates(toleration("gpu", TolOp::kEqual, "true"), gpu));
  EXPECT_FALSE(tolerates(toleration("gpu", TolOp::kEqual, "false"), gpu));
  EXPECT_TRUE(tolerates(toleration("gpu", TolOp::kExists, ""), gpu));
  EXPECT_FALSE(tolerates(toleration("other", TolOp::kExists, ""), gpu));
  // Empty key with Exists tolerates everything.
  EXPECT_TRUE(tolerates(toleration("", TolOp::kExists, ""), gpu));
  EXPECT_TRUE(tolerates(toleration("", TolOp::kExists, "", TaintEffect::kNoExecute),
                        taint("x", "y", TaintEffect::kNoExecute)));
  // Effect: empty matches all, otherwise must be equal.
  EXPECT_TRUE(tolerates(toleration("gpu", TolOp::kEqual, "true", TaintEffect::kNoSchedule), gpu));
  EXPECT_FALSE(tolerates(toleration("gpu", TolOp::kEqual, "true", TaintEffect::kNoExecute), gpu));
  EXPECT_FALSE(tolerates(toleration("", TolOp::kExists, "", TaintEffect::kNoExecute), gpu));
  // Equal on an empty taint value.
  EXPECT_TRUE(tolerates(toleration("dedicated", TolOp::kEqual, ""),
                        taint("dedicated", "", TaintEffect::kNoSchedule)));
}

TEST(TaintToleration, NoScheduleAndNoExecuteMustBeTolerated) {
  Node node;
  node.taints = {taint("soft", "x", TaintEffect::kPreferNoSchedule),
                 taint("gpu", "true", TaintEffect::kNoSchedule),
                 taint("maintenance", "", TaintEffect::kNoExecute)};
  Pod pod;
  auto result = filter_taint_toleration(pod, node);
  ASSERT_EQ(result.code, NodeFilterCode::kUntoleratedTaint);
  EXPECT_EQ(result.taint, &node.taints[1]);  // PreferNoSchedule is skipped
  EXPECT_EQ(failure_reason(result), "node(s) had untolerated taint {gpu: true}");

  pod.tolerations = {toleration("gpu", TolOp::kEqual, "true")};
  result = filter_taint_toleration(pod, node);
  ASSERT_EQ(result.code, NodeFilterCode::kUntoleratedTaint);
  EXPECT_EQ(failure_reason(result), "node(s) had untolerated taint {maintenance: }");

  pod.tolerations.push_back(toleration("maintenance", TolOp::kExists, ""));
  EXPECT_TRUE(filter_taint_toleration(pod, node).fits());
}

TEST(TaintToleration, PreferNoScheduleAloneNeverFails) {
  Node node;
  node.taints = {taint("soft", "x", TaintEffect::kPreferNoSchedule)};
  EXPECT_TRUE(filter_taint_toleration(Pod{}, node).fits());
}

TEST(TaintToleration, TolerateEverything) {
  Node node;
  node.taints = {taint("a", "1", TaintEffect::kNoSchedule),
                 taint("b", "2", TaintEffect::kNoExecute)};
  Pod pod;
  pod.tolerations = {toleration("", TolOp::kExists, "")};
  EXPECT_TRUE(filter_taint_toleration(pod, node).fits());
}

// --- unschedulable and not ready --------------------------------------------------------------

TEST(Unschedulable, CordonedNodeFailsUnlessTolerated) {
  Node node;
  node.unschedulable = true;
  Pod pod;
  const auto result = filter_node_unschedulable(pod, node);
  EXPECT_EQ(result.code, NodeFilterCode::kUnschedulable);
  EXPECT_EQ(failure_reason(result), "node(s) were unschedulable");

  pod.tolerations = {
      toleration("node.kubernetes.io/unschedulable", TolOp::kExists, "", TaintEffect::kNoSchedule)};
  EXPECT_TRUE(filter_node_unschedulable(pod, node).fits());
  pod.tolerations = {
      toleration("node.kubernetes.io/unschedulable", TolOp::kExists, "", TaintEffect::kNoExecute)};
  EXPECT_FALSE(filter_node_unschedulable(pod, node).fits());
  pod.tolerations = {toleration("", TolOp::kExists, "")};
  EXPECT_TRUE(filter_node_unschedulable(pod, node).fits());
  node.unschedulable = false;
  EXPECT_TRUE(filter_node_unschedulable(Pod{}, node).fits());
}

TEST(NotReady, NotReadyNodeFailsUnlessTolerated) {
  Node node;
  node.ready = false;
  Pod pod;
  const auto result = filter_node_ready(pod, node);
  EXPECT_EQ(result.code, NodeFilterCode::kNotReady);
  EXPECT_EQ(failure_reason(result), "node(s) were not ready");
  pod.tolerations = {toleration("node.kubernetes.io/not-ready", TolOp::kExists, "")};
  EXPECT_TRUE(filter_node_ready(pod, node).fits());
}

TEST(FilterNode, StopsAtTheFirstFailureInPluginOrder) {
  Node node = node_with_labels({{"zone", "a"}});
  node.taints = {taint("gpu", "true", TaintEffect::kNoSchedule)};
  node.unschedulable = true;
  node.ready = false;
  Pod pod;
  pod.node_selector = {{"zone", "b"}};
  EXPECT_EQ(filter_node(pod, node).code, NodeFilterCode::kNotReady);
  node.ready = true;
  EXPECT_EQ(filter_node(pod, node).code, NodeFilterCode::kUnschedulable);
  node.unschedulable = false;
  EXPECT_EQ(filter_node(pod, node).code, NodeFilterCode::kUntoleratedTaint);
  node.taints.clear();
  EXPECT_EQ(filter_node(pod, node).code, NodeFilterCode::kNodeAffinity);
  pod.node_selector = {{"zone", "a"}};
  EXPECT_TRUE(filter_node(pod, node).fits());
  EXPECT_EQ(failure_reason(filter_node(pod, node)), "");
}

// --- the pending message ----------------------------------------------------------------------

TEST(SummarizeUnschedulable, SortsEntriesAsKubeSchedulerDoes) {
  // kube-scheduler sorts the "<count> <reason>" strings (sort.Strings), not the counts.
  EXPECT_EQ(summarize_unschedulable(1000, {{"Insufficient nvidia.com/gpu", 600},
                                           {"node(s) had untolerated taint {gpu: true}", 400}}),
            "0/1000 nodes are available: 400 node(s) had untolerated taint {gpu: true}, "
            "600 Insufficient nvidia.com/gpu.");
  EXPECT_EQ(summarize_unschedulable(
                1200, {{"Insufficient cpu", 200}, {"node(s) were unschedulable", 1000}}),
            "0/1200 nodes are available: 1000 node(s) were unschedulable, 200 Insufficient cpu.");
  // Equal counts: by reason text.
  EXPECT_EQ(summarize_unschedulable(4, {{"b", 2}, {"a", 2}}), "0/4 nodes are available: 2 a, 2 b.");
}

TEST(SummarizeUnschedulable, SingleReasonAndEdgeCases) {
  EXPECT_EQ(summarize_unschedulable(3, {{"Insufficient nvidia.com/gpu", 3}}),
            "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.");
  EXPECT_EQ(summarize_unschedulable(3, {{"x", 0}}), "0/3 nodes are available.");
  EXPECT_EQ(summarize_unschedulable(3, {}), "0/3 nodes are available.");
  EXPECT_EQ(summarize_unschedulable(0, {}), "no nodes available to schedule pods");
}

TEST(SummarizeUnschedulable, CountsFilterResultsPerReason) {
  std::vector<Node> nodes(5);
  for (size_t i = 0; i < nodes.size(); ++i) nodes[i].name = "n" + std::to_string(i);
  nodes[0].taints = {taint("gpu", "true", TaintEffect::kNoSchedule)};
  nodes[1].taints = {taint("gpu", "true", TaintEffect::kNoSchedule)};
  nodes[2].unschedulable = true;
  nodes[3].ready = false;
  Pod pod;
  ReasonCounts counts;
  for (const Node& node : nodes) {
    if (auto result = filter_node(pod, node); !result.fits()) ++counts[failure_reason(result)];
  }
  EXPECT_EQ(summarize_unschedulable(static_cast<int64_t>(nodes.size()), counts),
            "0/5 nodes are available: 1 node(s) were not ready, 1 node(s) were unschedulable, "
            "2 node(s) had untolerated taint {gpu: true}.");
}

}  // namespace
}  // namespace fairway
