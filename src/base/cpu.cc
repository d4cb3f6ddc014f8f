#include "base/cpu.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "base/env.h"

namespace imgsearch::base {

int CoresOfCpuMax(const char* text) {
  long long quota = 0, period = 0;
  if (std::sscanf(text, "%lld %lld", &quota, &period) != 2 || quota <= 0 || period <= 0) return 0;
  return static_cast<int>((quota + period - 1) / period);
}

int UsableCores() {
  int cores = 1;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cores = std::max(1, CPU_COUNT(&set));
  // cgroup v2 (the machine's own or a container's); "max" means no quota.
  auto cpu_max = Env::Default()->ReadFile("/sys/fs/cgroup/cpu.max", 4096);
  if (cpu_max.ok()) {
    int quota = CoresOfCpuMax(cpu_max->c_str());
    if (quota > 0) cores = std::min(cores, quota);
  }
  return cores;
}

// Linux applies a nice value to one thread when given its thread id. Nice 10 weighs
// about a tenth of a normal thread.
void LowerThisThreadsPriority() {
#ifdef __linux__
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
#endif
}

}  // namespace imgsearch::base
