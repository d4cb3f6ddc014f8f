// CallFaiss: runs FAISS code behind the index layer's no-exceptions API. FAISS reports
// failures by throwing; each becomes a Status that names the index type and the call,
// so that a failed search is an error the caller sees, never an empty answer.
#pragma once

#include <faiss/impl/FaissException.h>

#include <exception>
#include <new>
#include <string>

#include "imgsearch/status.h"

namespace imgsearch::index {

// `call` is what was attempted ("search", "training", ...), for the message.
template <typename Work>
Status CallFaiss(const char* index_type, const char* call, Work work) {
  const std::string where = std::string(index_type) + " " + call;
  try {
    work();
    return Status::Ok();
  } catch (const faiss::FaissException& e) {
    return Status::Internal(where + " failed in FAISS: " + e.what());
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(where + " ran out of memory");
  } catch (const std::exception& e) {
    return Status::Internal(where + " failed: " + e.what());
  }
}

}  // namespace imgsearch::index
