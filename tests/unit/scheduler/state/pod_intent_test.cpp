// Reading a pod's intent never throws; every bad value becomes one clear message.

#include "scheduler/state/pod_intent.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace fairway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

Pod annotated(Labels annotations, Labels labels = {}) {
  Pod pod;
  pod.annotations = std::move(annotations);
  pod.labels = std::move(labels);
  return pod;
}

Container gpu_container(std::string name, std::string_view where) {
  Container c;
  c.name = std::move(name);
  (where == "limits" ? c.limits : c.requests)["nvidia.com/gpu"] = 1000;
  return c;
}

// --- queue ------------------------------------------------------------------------------------

TEST(PodIntentQueue, DefaultsToDefault) {
  const PodIntent intent = read_pod_intent(Pod{});
  EXPECT_EQ(intent.queue, "default");
  EXPECT_TRUE(intent.pod_group.empty());
  EXPECT_EQ(intent.min_member, std::nullopt);
  EXPECT_EQ(intent.gpu_fraction, std::nullopt);
  EXPECT_EQ(intent.preemptible, std::nullopt);
  EXPECT_TRUE(intent.valid());
}

TEST(PodIntentQueue, FirstConfiguredKeyWins) {
  EXPECT_EQ(read_pod_intent(
                annotated({}, {{"fairway.dev/queue", "team-a"}, {"kai.scheduler/queue", "team-b"}}))
                .queue,
            "team-a");
  EXPECT_EQ(read_pod_intent(annotated({}, {{"kai.scheduler/queue", "team-b"},
                                           {"scheduling.volcano.sh/queue-name", "team-c"}}))
                .queue,
            "team-b");
  EXPECT_EQ(read_pod_intent(annotated({}, {{"scheduling.volcano.sh/queue-name", "team-c"}})).queue,
            "team-c");
}

TEST(PodIntentQueue, AnnotationsAreAFallbackAndEmptyValuesAreSkipped) {
  EXPECT_EQ(read_pod_intent(annotated({{"scheduling.volcano.sh/queue-name", "vc"}})).queue, "vc");
  EXPECT_EQ(read_pod_intent(annotated({{"fairway.dev/queue", "from-annotation"}},
                                      {{"kai.scheduler/queue", "from-label"}}))
                .queue,
            "from-label");
  EXPECT_EQ(
      read_pod_intent(annotated({}, {{"fairway.dev/queue", ""}, {"kai.scheduler/queue", "k"}}))
          .queue,
      "k");
}

TEST(PodIntentQueue, KeysAndDefaultAreConfigurable) {
  PodIntentConfig config;
  config.queue_label_keys = {"example.com/team"};
  config.default_queue = "shared";
  EXPECT_EQ(read_pod_intent(annotated({}, {{"example.com/team", "ml"}}), config).queue, "ml");
  EXPECT_EQ(read_pod_intent(annotated({}, {{"fairway.dev/queue", "ignored"}}), config).queue,
            "shared");
}

// --- gangs ------------------------------------------------------------------------------------

TEST(PodIntentGang, FairwayAnnotationThenKai) {
  EXPECT_EQ(
      read_pod_intent(annotated({{"fairway.dev/pod-group", "train"}, {"pod-group-name", "kai"}}))
          .pod_group,
      "train");
  EXPECT_EQ(read_pod_intent(annotated({{"pod-group-name", "kai"}})).pod_group, "kai");
  EXPECT_EQ(read_pod_intent(annotated({}, {{"pod-group-name", "kai-label"}})).pod_group,
            "kai-label");
  EXPECT_EQ(read_pod_intent(annotated({{"pod-group-name", "ann"}}, {{"pod-group-name", "label"}}))
                .pod_group,
            "ann");
}

TEST(PodIntentGang, MinMember) {
  const PodIntent intent =
      read_pod_intent(annotated({{"fairway.dev/pod-group", "g"}, {"fairway.dev/min-member", "4"}}));
  EXPECT_EQ(intent.min_member, 4);
  EXPECT_TRUE(intent.valid());

  for (const char* bad : {"0", "-1", "abc", "1.5", "", " 3", "+3", "99999999999"}) {
    const PodIntent invalid = read_pod_intent(
        annotated({{"fairway.dev/pod-group", "g"}, {"fairway.dev/min-member", bad}}));
    EXPECT_EQ(invalid.min_member, std::nullopt) << bad;
    EXPECT_THAT(invalid.errors, ElementsAre("annotation fairway.dev/min-member=\"" +
                                            std::string(bad) + "\": must be a positive integer"));
  }
}

TEST(PodIntentGang, MinMemberWithoutAGroupIsAnError) {
  const PodIntent intent = read_pod_intent(annotated({{"fairway.dev/min-member", "3"}}));
  EXPECT_EQ(intent.min_member, std::nullopt);
  ASSERT_THAT(intent.errors, SizeIs(1));
  EXPECT_THAT(intent.errors[0], HasSubstr("needs annotation fairway.dev/pod-group"));
}

// --- GPU fractions ----------------------------------------------------------------------------

TEST(PodIntentGpu, Fraction) {
  const PodIntent intent = read_pod_intent(annotated({{"fairway.dev/gpu-fraction", "0.5"}}));
  ASSERT_TRUE(intent.gpu_fraction.has_value());
  EXPECT_DOUBLE_EQ(intent.gpu_fraction->fraction.value(), 0.5);
  EXPECT_EQ(intent.gpu_fraction->memory_mib, std::nullopt);
  EXPECT_EQ(intent.gpu_fraction->num_devices, 1);
  EXPECT_TRUE(intent.valid());
}

TEST(PodIntentGpu, MemoryAndDevices) {
  const PodIntent intent = read_pod_intent(annotated(
      {{"fairway.dev/gpu-memory", "20480"}, {"fairway.dev/gpu-fraction-num-devices", "2"}}));
  ASSERT_TRUE(intent.gpu_fraction.has_value());
  EXPECT_EQ(intent.gpu_fraction->fraction, std::nullopt);
  EXPECT_EQ(intent.gpu_fraction->memory_mib, 20480);
  EXPECT_EQ(intent.gpu_fraction->num_devices, 2);
  EXPECT_TRUE(intent.valid());
}

TEST(PodIntentGpu, KaiKeysAreAcceptedAndFairwayKeysWin) {
  PodIntent intent =
      read_pod_intent(annotated({{"gpu-fraction", "0.25"}, {"gpu-fraction-num-devices", "3"}}));
  ASSERT_TRUE(intent.gpu_fraction.has_value());
  EXPECT_DOUBLE_EQ(*intent.gpu_fraction->fraction, 0.25);
  EXPECT_EQ(intent.gpu_fraction->num_devices, 3);

  intent = read_pod_intent(annotated({{"gpu-memory", "1024"}}));
  ASSERT_TRUE(intent.gpu_fraction.has_value());
  EXPECT_EQ(intent.gpu_fraction->memory_mib, 1024);

  intent =
      read_pod_intent(annotated({{"fairway.dev/gpu-fraction", "0.5"}, {"gpu-fraction", "0.1"}}));
  ASSERT_TRUE(intent.gpu_fraction.has_value());
  EXPECT_DOUBLE_EQ(*intent.gpu_fraction->fraction, 0.5);
}

TEST(PodIntentGpu, InvalidFractionsAreErrorsNamingKeyAndValue) {
  for (const char* bad :
       {"1.5", "0", "1", "-0.5", "abc", "nan", "inf", "0.5x", "", " 0.5", "0x0.8", "1e999"}) {
    const PodIntent intent = read_pod_intent(annotated({{"fairway.dev/gpu-fraction", bad}}));
    EXPECT_EQ(intent.gpu_fraction, std::nullopt) << bad;
    EXPECT_THAT(intent.errors,
                ElementsAre("annotation fairway.dev/gpu-fraction=\"" + std::string(bad) +
                            "\": must be a number greater than 0 and less than 1"))
        << bad;
  }
  const PodIntent kai = read_pod_intent(annotated({{"gpu-fraction", "2"}}));
  EXPECT_THAT(kai.errors, ElementsAre("annotation gpu-fraction=\"2\": must be a number greater "
                                      "than 0 and less than 1"));
}

TEST(PodIntentGpu, AcceptedFractionSpellings) {
  for (const char* good : {"0.5", ".5", "5e-1", "+0.5", "0.999"}) {
    const PodIntent intent = read_pod_intent(annotated({{"fairway.dev/gpu-fraction", good}}));
    EXPECT_TRUE(intent.valid()) << good;
  }
}

TEST(PodIntentGpu, InvalidMemoryAndDevices) {
  for (const char* bad : {"0", "-5", "1.5", "abc", "1Gi", ""}) {
    const PodIntent intent = read_pod_intent(annotated({{"fairway.dev/gpu-memory", bad}}));
    EXPECT_EQ(intent.gpu_fraction, std::nullopt);
    EXPECT_THAT(intent.errors,
                ElementsAre("annotation fairway.dev/gpu-memory=\"" + std::string(bad) +
                            "\": must be a positive integer number of MiB"));
  }
  const PodIntent devices = read_pod_intent(annotated(
      {{"fairway.dev/gpu-fraction", "0.5"}, {"fairway.dev/gpu-fraction-num-devices", "0"}}));
  EXPECT_EQ(devices.gpu_fraction, std::nullopt);
  EXPECT_THAT(devices.errors, ElementsAre("annotation fairway.dev/gpu-fraction-num-devices=\"0\": "
                                          "must be a positive integer"));
}

TEST(PodIntentGpu, NumDevicesAloneIsAnError) {
  const PodIntent intent =
      read_pod_intent(annotated({{"fairway.dev/gpu-fraction-num-devices", "2"}}));
  EXPECT_EQ(intent.gpu_fraction, std::nullopt);
  ASSERT_THAT(intent.errors, SizeIs(1));
  EXPECT_THAT(intent.errors[0], HasSubstr("needs annotation fairway.dev/gpu-fraction or "
                                          "fairway.dev/gpu-memory"));
}

TEST(PodIntentGpu, FractionAndMemoryTogetherIsAnError) {
  const PodIntent intent =
      read_pod_intent(annotated({{"fairway.dev/gpu-fraction", "0.5"}, {"gpu-memory", "1024"}}));
  EXPECT_EQ(intent.gpu_fraction, std::nullopt);
  EXPECT_THAT(intent.errors,
              ElementsAre("annotations fairway.dev/gpu-fraction and gpu-memory are both set: ask "
                          "for either a fraction of a GPU or an amount of GPU memory"));
}

TEST(PodIntentGpu, FractionPlusWholeGpusIsAnError) {
  for (const char* where : {"requests", "limits"}) {
    Pod pod = annotated({{"fairway.dev/gpu-fraction", "0.5"}});
    pod.containers = {Container{}, gpu_container("trainer", where)};
    const PodIntent intent = read_pod_intent(pod);
    EXPECT_EQ(intent.gpu_fraction, std::nullopt);
    EXPECT_THAT(intent.errors,
                ElementsAre("annotation fairway.dev/gpu-fraction=\"0.5\": container \"trainer\" "
                            "also asks for whole nvidia.com/gpu; ask for either a GPU share or "
                            "whole GPUs"));
  }
  Pod init = annotated({{"gpu-memory", "1024"}});
  init.init_containers = {gpu_container("warmup", "requests")};
  EXPECT_THAT(read_pod_intent(init).errors, ElementsAre(HasSubstr("container \"warmup\"")));

  // A zero GPU request is not a whole GPU.
  Pod zero = annotated({{"fairway.dev/gpu-fraction", "0.5"}});
  zero.containers = {Container{}};
  zero.containers[0].requests["nvidia.com/gpu"] = 0;
  EXPECT_TRUE(read_pod_intent(zero).valid());
}

TEST(PodIntentGpu, SeveralProblemsAreAllReported) {
  const PodIntent intent = read_pod_intent(annotated({{"fairway.dev/gpu-fraction", "1.5"},
                                                      {"fairway.dev/gpu-memory", "abc"},
                                                      {"fairway.dev/preemptible", "maybe"}}));
  EXPECT_THAT(intent.errors, SizeIs(4));
  EXPECT_FALSE(intent.valid());
}

// --- preemptible ------------------------------------------------------------------------------

TEST(PodIntentPreemptible, TriState) {
  EXPECT_EQ(read_pod_intent(annotated({}, {{"fairway.dev/preemptible", "true"}})).preemptible,
            true);
  EXPECT_EQ(read_pod_intent(annotated({{"fairway.dev/preemptible", "false"}})).preemptible, false);
  EXPECT_EQ(read_pod_intent(Pod{}).preemptible, std::nullopt);
  // The label wins over the annotation.
  EXPECT_EQ(read_pod_intent(annotated({{"fairway.dev/preemptible", "true"}},
                                      {{"fairway.dev/preemptible", "false"}}))
                .preemptible,
            false);
}

TEST(PodIntentPreemptible, OtherValuesAreErrors) {
  for (const char* bad : {"True", "yes", "1", ""}) {
    const PodIntent intent = read_pod_intent(annotated({}, {{"fairway.dev/preemptible", bad}}));
    EXPECT_EQ(intent.preemptible, std::nullopt);
    EXPECT_THAT(intent.errors, ElementsAre("label fairway.dev/preemptible=\"" + std::string(bad) +
                                           "\": must be \"true\" or \"false\""));
  }
}

TEST(PodIntent, ErrorsDoNotHideTheRest) {
  const PodIntent intent = read_pod_intent(
      annotated({{"fairway.dev/gpu-fraction", "abc"}, {"fairway.dev/pod-group", "g"}},
                {{"fairway.dev/queue", "team-a"}, {"fairway.dev/preemptible", "true"}}));
  EXPECT_EQ(intent.queue, "team-a");
  EXPECT_EQ(intent.pod_group, "g");
  EXPECT_EQ(intent.preemptible, true);
  EXPECT_THAT(intent.errors, SizeIs(1));
}

}  // namespace
}  // namespace fairway

namespace fairway {
namespace {

TEST(PodIntentProblems, DecoderProblemsMakeThePodInvalid) {
  Pod pod;
  pod.name = "p";
  pod.problems.push_back(
      "spec.containers[0].resources.limits.nvidia.com/gpu: quantity \"1e100\": too large");
  const PodIntent intent = read_pod_intent(pod);
  EXPECT_FALSE(intent.valid());
  ASSERT_EQ(intent.errors.size(), 1U);
  EXPECT_EQ(intent.errors[0], pod.problems[0]);
}

}  // namespace
}  // namespace fairway
