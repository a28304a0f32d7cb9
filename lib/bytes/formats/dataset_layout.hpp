// How a dataset file lies on disk, field by field (bytes-dataset(5)): shared by the writer
// (formats/dataset_writer.cpp) and the reader (formats/dataset.cpp), internal to them.
#pragma once
#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bytes/base/hash.hpp"
#include "bytes/formats/dataset.hpp"

namespace bytes::dataset_layout {

static_assert(std::endian::native == std::endian::little, "the formats are little-endian; so is this code");

namespace fmt = dataset_format;

template <typename T>
inline void put(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}
template <typename T>
inline T get(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline uint64_t hash(const void* data, size_t n) { return XXH3_64bits(data, n); }

// Header field offsets (bytes-dataset(5)). h_index: version 1's index checksum, version 2's
// number of index blocks.
enum : size_t {
  h_version = 8, h_header_size = 12, h_file_size = 16, h_docs = 24, h_frames = 32, h_sources = 40,
  h_tables_offset = 48, h_sources_size = 56, h_meta_size = 64, h_split_docs = 72,
  h_tables_checksum = 96, h_index = 104, h_checksum = 120,
};

// Index block record fields.
enum : size_t {
  b_file_offset = 0, b_first_doc = 8, b_stream_offset = 16, b_compressed = 40, b_raw = 44, b_checksum = 48,
};

// Most bytes a document takes in an index block: split, length (a varint of up to 10 bytes) and
// source delta (zigzag, within ±2^32: 5 bytes); the least is one of each.
constexpr uint64_t max_index_bytes_per_doc = 16, min_index_bytes_per_doc = 3;

inline void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  for (; v >= 0x80; v >>= 7) out.push_back(uint8_t(v | 0x80));
  out.push_back(uint8_t(v));
}

inline bool get_varint(const uint8_t*& p, const uint8_t* end, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    uint8_t b = *p++;
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

}  // namespace bytes::dataset_layout
