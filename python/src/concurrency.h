// Counts the threads inside a GIL-free search or embed at once: the tests read the
// highest count to show that two Python threads really ran in parallel.
#pragma once

#include <atomic>

namespace imgsearch::python {

inline std::atomic<int> in_flight{0};
inline std::atomic<int> max_in_flight{0};

struct InFlight {
  InFlight() {
    int now = in_flight.fetch_add(1) + 1;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
  }
  ~InFlight() { in_flight.fetch_sub(1); }
};

inline int MaxParallelCalls(bool reset) {
  int seen = max_in_flight.load();
  if (reset) max_in_flight.store(0);
  return seen;
}

}  // namespace imgsearch::python
