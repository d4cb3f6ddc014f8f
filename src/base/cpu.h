// How many cores this process may run on: the CPUs of its affinity mask, lowered to a
// cgroup's CPU quota when one is set (a container given 2 of 64 CPUs gets 2).
#pragma once

namespace imgsearch::base {

// At least 1.
int UsableCores();

// The cgroup v2 limit ("max" or "QUOTA PERIOD", as in cpu.max) in whole cores, rounded
// up; 0 for no limit or text it cannot read.
int CoresOfCpuMax(const char* cpu_max_text);

// Makes the calling thread yield the CPU to the process's other threads: background work
// (building an index) then runs in the time that requests leave. Best effort: where the
// system does not allow it, nothing changes.
void LowerThisThreadsPriority();

}  // namespace imgsearch::base
