#include "store/testing/fault_plan.h"

namespace imgsearch::store::testing {

void FaultPlan::FailAt(int64_t nth, int error, bool sticky) {
  std::lock_guard<std::mutex> lock(mutex_);
  fail_at_ = nth;
  error_ = error;
  sticky_ = sticky;
  calls_ = 0;
  first_failed_.clear();
}

int FaultPlan::Check(const std::string& call) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++calls_;
  bool fails = fail_at_ > 0 && (calls_ == fail_at_ || (sticky_ && calls_ > fail_at_));
  if (!fails) return 0;
  if (first_failed_.empty()) first_failed_ = call;
  return error_;
}

int64_t FaultPlan::calls() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return calls_;
}

bool FaultPlan::fired() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return !first_failed_.empty();
}

std::string FaultPlan::first_failed_call() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return first_failed_;
}

}  // namespace imgsearch::store::testing
