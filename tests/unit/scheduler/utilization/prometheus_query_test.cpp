#include "scheduler/utilization/prometheus_query.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fairway {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

TEST(RangeQueryPath, EscapesTheQueryAndWritesSeconds) {
  EXPECT_EQ(range_query_path("DCGM_FI_DEV_GPU_UTIL{pod!=\"\"}", 1'700'000'000'001,
                             1'700'000'060'000, 30'000),
            "/api/v1/query_range?query=DCGM_FI_DEV_GPU_UTIL%7Bpod%21%3D%22%22%7D"
            "&start=1700000000.001&end=1700000060.000&step=30.000");
}

TEST(DcgmQuery, TheOperatorsSelectorNarrowsTheSeries) {
  EXPECT_EQ(dcgm_query(kDcgmUtilization, ""), "DCGM_FI_DEV_GPU_UTIL");
  EXPECT_EQ(dcgm_query(kDcgmMemoryUsed, "job=\"nvidia-dcgm-exporter\""),
            "DCGM_FI_DEV_FB_USED{job=\"nvidia-dcgm-exporter\"}");
}

TEST(RangeQueryPath, TheStepGrowsToStayUnderElevenThousandPoints) {
  // A week at 15 s would be 40,320 points per series: Prometheus refuses over 11,000.
  const std::string path = range_query_path("X", 0, 7LL * 24 * 3600 * 1000, 15'000);
  EXPECT_THAT(path, HasSubstr("&step=54.987"));
}

TEST(DecodeDcgmSamples, AMatrixBecomesOneSamplePerPoint) {
  const auto samples = decode_dcgm_samples(R"({"status":"success","data":{"resultType":"matrix",
    "result":[{"metric":{"__name__":"DCGM_FI_DEV_GPU_UTIL","UUID":"GPU-1","gpu":"0",
      "Hostname":"n1","namespace":"team","pod":"train-0","container":"main"},
      "values":[[1700000000,"12"],[1700000030.5,"40"]]}]}})",
                                           DcgmField::kUtilization);
  ASSERT_TRUE(samples) << samples.error();
  ASSERT_THAT(*samples, SizeIs(2));
  EXPECT_EQ((*samples)[0].pod, "team/train-0");
  EXPECT_EQ((*samples)[0].gpu, "GPU-1");
  EXPECT_EQ((*samples)[0].at, 1'700'000'000'000);
  EXPECT_DOUBLE_EQ(*(*samples)[0].utilization_percent, 12);
  EXPECT_FALSE((*samples)[0].memory_used_mib);
  EXPECT_EQ((*samples)[1].at, 1'700'000'030'500);
}

TEST(DecodeDcgmSamples, ExportedLabelsNameThePodWhenAServiceMonitorRenamedThem) {
  // Scraped without honorLabels: `pod` is the exporter's own pod.
  const auto samples = decode_dcgm_samples(R"({"status":"success","data":{"resultType":"vector",
    "result":[{"metric":{"UUID":"GPU-2","namespace":"gpu-operator","pod":"dcgm-exporter-x",
      "exported_namespace":"team","exported_pod":"train-1"},"value":[1700000000,"3500"]}]}})",
                                           DcgmField::kMemoryUsed);
  ASSERT_TRUE(samples) << samples.error();
  ASSERT_THAT(*samples, SizeIs(1));
  EXPECT_EQ((*samples)[0].pod, "team/train-1");
  EXPECT_DOUBLE_EQ(*(*samples)[0].memory_used_mib, 3500);
}

TEST(DecodeDcgmSamples, GpusNoPodHoldsAndOddPointsAreSkipped) {
  const auto samples = decode_dcgm_samples(R"({"status":"success","data":{"resultType":"matrix",
    "result":[{"metric":{"UUID":"GPU-3","Hostname":"n1","gpu":"3"},"values":[[1,"0"]]},
              {"metric":{"Hostname":"n2","gpu":"1","namespace":"t","pod":"p"},
               "values":[[1,"NaN"],[2,"abc"],["3","4"],[4,"5"],[5]]},
              "junk"]}})",
                                           DcgmField::kUtilization);
  ASSERT_TRUE(samples) << samples.error();
  ASSERT_THAT(*samples, SizeIs(1));
  EXPECT_EQ((*samples)[0].gpu, "n2/1");  // no UUID label: the host and index
  EXPECT_EQ((*samples)[0].at, 4000);
}

TEST(DecodeDcgmSamples, AnErrorAnswerGivesPrometheusOwnWords) {
  const auto samples = decode_dcgm_samples(
      R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected \"}\""})",
      DcgmField::kUtilization);
  ASSERT_FALSE(samples);
  EXPECT_EQ(samples.error(),
            "bad_data: invalid parameter \"query\": 1:5: parse error: unexpected \"}\"");
  EXPECT_FALSE(decode_dcgm_samples("<html>404</html>", DcgmField::kUtilization));
  EXPECT_FALSE(decode_dcgm_samples(R"({"status":"success","data":{}})", DcgmField::kUtilization));
}

}  // namespace
}  // namespace fairway
