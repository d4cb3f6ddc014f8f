#include "base/cpu.h"

#include <gtest/gtest.h>
#include <sched.h>

namespace imgsearch::base {
namespace {

TEST(CpuTest, UsableCoresFollowsTheAffinityMask) {
  cpu_set_t all;
  ASSERT_EQ(sched_getaffinity(0, sizeof(all), &all), 0);
  EXPECT_GE(UsableCores(), 1);
  EXPECT_LE(UsableCores(), CPU_COUNT(&all));
  // Narrowed to one CPU (this thread's mask is what a new session's pool inherits).
  cpu_set_t one;
  CPU_ZERO(&one);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &all)) {
      CPU_SET(cpu, &one);
      break;
    }
  }
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  EXPECT_EQ(UsableCores(), 1);
  ASSERT_EQ(sched_setaffinity(0, sizeof(all), &all), 0);
}

TEST(CpuTest, CgroupQuotaInWholeCores) {
  EXPECT_EQ(CoresOfCpuMax("max 100000"), 0);
  EXPECT_EQ(CoresOfCpuMax("200000 100000"), 2);
  EXPECT_EQ(CoresOfCpuMax("150000 100000"), 2);  // 1.5 cores: both may be busy
  EXPECT_EQ(CoresOfCpuMax("50000 100000"), 1);
  EXPECT_EQ(CoresOfCpuMax(""), 0);
  EXPECT_EQ(CoresOfCpuMax("-1 100000"), 0);
}

}  // namespace
}  // namespace imgsearch::base
