// Which GPU a reservation pod holds: NVIDIA_VISIBLE_DEVICES checked against the fake NVML.

#include "scheduler/agent/visible_gpu.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "scheduler/agent/nvml.h"

namespace fairway::agent {
namespace {

using ::testing::HasSubstr;

tl::expected<GpuTopologyDoc, std::string> fake_nvml(const char* machine) {
  setenv("FAKE_NVML_MACHINE", machine, 1);
  return read_gpu_topology(FAKE_NVML_LIBRARY);
}

TEST(VisibleGpu, UuidIsVerifiedThroughNvml) {
  const auto nvml = fake_nvml("pcie");
  ASSERT_TRUE(nvml.has_value()) << nvml.error();
  const auto gpu = resolve_visible_gpu("GPU-fake-pcie-1", nvml);
  ASSERT_TRUE(gpu.has_value()) << gpu.error();
  EXPECT_EQ(gpu->uuid, "GPU-fake-pcie-1");
  EXPECT_TRUE(gpu->verified);
}

TEST(VisibleGpu, IndexIsResolvedToItsUuid) {
  const auto gpu = resolve_visible_gpu("3", fake_nvml("hgx"));
  ASSERT_TRUE(gpu.has_value()) << gpu.error();
  EXPECT_EQ(gpu->uuid, "GPU-fake-hgx-3");
}

TEST(VisibleGpu, UnknownUuidIsRefused) {
  const auto gpu = resolve_visible_gpu("GPU-not-here", fake_nvml("pcie"));
  ASSERT_FALSE(gpu.has_value());
  EXPECT_THAT(gpu.error(), HasSubstr("NVML lists no such GPU"));
}

TEST(VisibleGpu, WithoutNvmlAUuidIsTakenUnverifiedAndAnIndexIsAnError) {
  const tl::expected<GpuTopologyDoc, std::string> missing = tl::unexpected(std::string("no lib"));
  const auto uuid = resolve_visible_gpu("GPU-abc", missing);
  ASSERT_TRUE(uuid.has_value());
  EXPECT_FALSE(uuid->verified);
  const auto index = resolve_visible_gpu("0", missing);
  ASSERT_FALSE(index.has_value());
  EXPECT_THAT(index.error(), HasSubstr("no lib"));
}

TEST(VisibleGpu, AnythingButOneGpuIsAnError) {
  const auto nvml = fake_nvml("hgx");
  for (const char* value : {"", "all", "none", "GPU-fake-hgx-0,GPU-fake-hgx-1", "x1"}) {
    EXPECT_FALSE(resolve_visible_gpu(value, nvml).has_value()) << value;
  }
}

TEST(VisibleGpu, FailingNvmlStillYieldsAnError) {
  const auto nvml = fake_nvml("none");
  EXPECT_FALSE(nvml.has_value());
  EXPECT_TRUE(resolve_visible_gpu("GPU-x", nvml).has_value());
}

}  // namespace
}  // namespace fairway::agent
