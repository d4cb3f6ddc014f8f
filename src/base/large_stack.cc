#include "base/large_stack.h"

#include <pthread.h>

#include <cstring>
#include <string>

#include "base/env.h"

namespace imgsearch::base {
namespace {

void* RunWork(void* work) {
  (*static_cast<const std::function<void()>*>(work))();
  return nullptr;
}

}  // namespace

Status RunOnLargeStack(size_t stack_bytes, const std::function<void()>& work) {
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  int error = pthread_attr_setstacksize(&attributes, stack_bytes);
  pthread_t thread;
  if (error == 0) {
    error =
        pthread_create(&thread, &attributes, RunWork, const_cast<std::function<void()>*>(&work));
  }
  pthread_attr_destroy(&attributes);
  if (error != 0) {
    return Status::ResourceExhausted("cannot start a thread with a " +
                                     std::to_string(stack_bytes >> 20) +
                                     " MiB stack: " + std::strerror(error));
  }
  pthread_join(thread, nullptr);
  return Status::Ok();
}

size_t CommandLineBytes() {
  // The kernel caps a command line well below this (a quarter of the stack limit).
  constexpr uint64_t kMostExpected = uint64_t{1} << 30;
  auto text = Env::Default()->ReadFile("/proc/self/cmdline", kMostExpected);
  return text.ok() ? text->size() : 0;
}

}  // namespace imgsearch::base
