// CRC-32C (Castagnoli), the checksum of imgsearch's files: SSE4.2's crc32 instruction
// where the CPU has it (several GB/s), a table-driven loop elsewhere.
#pragma once

#include <cstddef>
#include <cstdint>

namespace imgsearch::base {

uint32_t Crc32c(const void* data, size_t size);
// The CRC of the bytes behind `crc` followed by `data`: Crc32cExtend(Crc32c(a), b) ==
// Crc32c(a + b), so that a file written in pieces is checksummed without joining them.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size);

// The portable implementation, which the fast one is tested against.
uint32_t Crc32cPortable(const void* data, size_t size, uint32_t crc = 0);

}  // namespace imgsearch::base
