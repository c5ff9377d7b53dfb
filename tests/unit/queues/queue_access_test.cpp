#include "queues/queue_access.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fairway {
namespace {

using ::testing::HasSubstr;
using Labels = FlatMap<std::string, std::string>;

QueueSpec queue(std::string name, std::string parent = "",
                std::optional<LabelSelector> selector = {}) {
  QueueSpec spec;
  spec.name = std::move(name);
  spec.parent = std::move(parent);
  spec.namespace_selector = std::move(selector);
  return spec;
}

LabelSelector tenant(std::string value) {
  LabelSelector selector;
  selector.match_labels["tenant"] = std::move(value);
  return selector;
}

std::unordered_map<std::string, QueueSpec> tree(std::initializer_list<QueueSpec> specs) {
  std::unordered_map<std::string, QueueSpec> out;
  for (const QueueSpec& spec : specs) out[spec.name] = spec;
  return out;
}

TEST(LabelSelector, MatchLabelsAndExpressions) {
  LabelSelector s = tenant("red");
  s.match_expressions.push_back(
      {"tier", LabelSelectorRequirement::Operator::kIn, {"gold", "silver"}});
  s.match_expressions.push_back({"legacy", LabelSelectorRequirement::Operator::kDoesNotExist, {}});
  EXPECT_TRUE(selector_matches(s, Labels{{"tenant", "red"}, {"tier", "gold"}}));
  EXPECT_FALSE(selector_matches(s, Labels{{"tenant", "red"}, {"tier", "bronze"}}));
  EXPECT_FALSE(selector_matches(s, Labels{{"tenant", "red"}, {"tier", "gold"}, {"legacy", ""}}));
  EXPECT_FALSE(selector_matches(s, Labels{{"tier", "gold"}}));
  EXPECT_EQ(describe_selector(s), "tenant=red,tier in (gold,silver),!legacy");
  EXPECT_TRUE(selector_matches(LabelSelector{}, Labels{}));  // empty selector: everything
}

TEST(LabelSelector, InvalidSelectorMatchesNothing) {
  LabelSelector s;
  s.invalid = "matchExpressions[0].operator: unknown operator \"Like\"";
  EXPECT_FALSE(selector_matches(s, Labels{}));
}

TEST(QueueAccess, QueueWithoutSelectorIsOpen) {
  auto queues = tree({queue("open")});
  const Labels labels;
  EXPECT_EQ(queue_access_denial(queues, "open", "anyone", &labels), std::nullopt);
  EXPECT_EQ(queue_access_denial(queues, "open", "anyone", nullptr), std::nullopt);
  EXPECT_EQ(queue_access_denial(queues, "missing", "anyone", nullptr), std::nullopt);
}

TEST(QueueAccess, SelectorOnTheQueueOrAnyAncestorApplies) {
  auto queues = tree({queue("org", "", tenant("red")), queue("team", "org"), queue("free")});
  const Labels red{{"tenant", "red"}};
  const Labels blue{{"tenant", "blue"}};
  EXPECT_EQ(queue_access_denial(queues, "team", "red-ns", &red), std::nullopt);
  auto denial = queue_access_denial(queues, "team", "blue-ns", &blue);
  ASSERT_TRUE(denial);
  EXPECT_EQ(*denial,
            "namespace \"blue-ns\" may not use queue \"team\": queue \"org\" admits only "
            "namespaces matching tenant=red");
  EXPECT_EQ(queue_access_denial(queues, "free", "blue-ns", &blue), std::nullopt);
}

TEST(QueueAccess, UnknownNamespaceIsDeniedWhereASelectorApplies) {
  auto queues = tree({queue("closed", "", tenant("red"))});
  auto denial = queue_access_denial(queues, "closed", "new-ns", nullptr);
  ASSERT_TRUE(denial);
  EXPECT_THAT(*denial, HasSubstr("is not known"));
}

TEST(QueueAccess, NamespaceNameLabelIsImplied) {
  LabelSelector by_name;
  by_name.match_expressions.push_back(
      {"kubernetes.io/metadata.name", LabelSelectorRequirement::Operator::kIn, {"ml-a", "ml-b"}});
  auto queues = tree({queue("ml", "", by_name)});
  const Labels none;
  EXPECT_EQ(queue_access_denial(queues, "ml", "ml-a", &none), std::nullopt);
  EXPECT_TRUE(queue_access_denial(queues, "ml", "web", &none));
  // A namespace cannot claim another's name through its own labels.
  const Labels forged{{"kubernetes.io/metadata.name", "ml-a"}};
  EXPECT_TRUE(queue_access_denial(queues, "ml", "web", &forged));
}

TEST(QueueAccess, ParentCycleTerminates) {
  auto queues = tree({queue("a", "b", tenant("red")), queue("b", "a")});
  const Labels red{{"tenant", "red"}};
  EXPECT_EQ(queue_access_denial(queues, "a", "x", &red), std::nullopt);
}

}  // namespace
}  // namespace fairway
