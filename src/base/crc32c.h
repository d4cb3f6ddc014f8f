// CRC-32C (Castagnoli), the checksum of imgsearch's files: SSE4.2's crc32 instruction
// where the CPU has it (several GB/s), a table-driven loop elsewhere.
#pragma once

#include <cstddef>
#include <cstdint>

namespace imgsearch::base {

uint32_t Crc32c(const void* data, size_t size);

// The portable implementation, which the fast one is tested against.
uint32_t Crc32cPortable(const void* data, size_t size);

}  // namespace imgsearch::base
