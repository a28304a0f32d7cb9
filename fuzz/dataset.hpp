// The two dataset targets: what a reader does with a dataset, and the re-sealer that lets
// mutated files past the checksums.
#pragma once
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstring>

#include "bytes/formats/dataset.hpp"
#include "bytes/base/error.hpp"
#include "fuzz.hpp"

// Everything a program may do with a dataset: open it, list and read every document, list the
// sources, decode each split's frames, verify. Only bytes::Error may stop it; what it reads must
// agree with what the header and index promised. True when the file was read without an error.
inline bool read_everything(const std::string& path) {
  try {
    bytes::Dataset ds(path);
    uint64_t in_split[bytes::n_splits] = {};
    for (uint64_t i = 0; i < ds.docs(); ++i) {
      const auto d = ds.doc(i);
      FUZZ_CHECK(int(d.split) < bytes::n_splits && d.source < ds.sources());
      // A document lies within its split's stream (wrapping around 64 bits included).
      const uint64_t bytes = ds.stats(d.split).bytes;
      FUZZ_CHECK(d.offset <= bytes && d.length <= bytes - d.offset);
      in_split[int(d.split)] += d.length;
      FUZZ_CHECK(ds.read_doc(i).size() == d.length);
    }
    for (size_t s = 0; s < ds.sources(); ++s) ds.source(uint32_t(s));
    for (int s = 0; s < bytes::n_splits; ++s) {
      const auto split = bytes::Split(s);
      FUZZ_CHECK(in_split[s] == ds.stats(split).bytes);
      uint64_t decoded = 0;
      ds.for_each_frame(split, [&](const uint8_t*, size_t n) { decoded += n; });
      FUZZ_CHECK(decoded == ds.stats(split).bytes);
    }
    ds.verify();
  } catch (const bytes::Error&) {
    return false;
  }
  return true;
}

namespace seal {

// Header fields (bytes-dataset(5)).
enum : size_t {
  version = 8, file_size = 16, frames = 32, tables_offset = 48, sources_size = 56, meta_size = 64,
  tables_checksum = 96, index_checksum = 104, header_checksum = 120,  // 104: version 2's index block count
};

inline uint64_t get(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline void put(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }

// Each record of a table (file offset at 0, size at size_at, checksum at sum_at) gets the checksum
// of the bytes it points at; records pointing outside the file are left as they are.
inline void reseal_records(uint8_t* p, uint64_t size, uint64_t at, uint64_t count, uint64_t record, size_t size_at,
                           size_t sum_at) {
  for (uint64_t i = 0; i < count; ++i) {
    uint8_t* r = p + at + i * record;
    uint32_t n;
    std::memcpy(&n, r + size_at, 4);
    if (get(r) <= size && n <= size - get(r)) put(r + sum_at, XXH3_64bits(p + get(r), n));
  }
}

// Version 1: the frame record (file offset at 0, compressed size at 16, checksum at 24, 40
// bytes); the tables region (frame table, source list, metadata, back to back from the tables
// offset); the index (from the end of the tables to the end of the file).
inline void reseal_v1(uint8_t* p, uint64_t size) {
  namespace fmt = bytes::dataset_format;
  const uint64_t tables = get(p + tables_offset), n_frames = get(p + frames), sources = get(p + sources_size),
                 meta = get(p + meta_size);
  if (tables > size || n_frames > (size - tables) / fmt::frame_record_size) return;
  reseal_records(p, size, tables, n_frames, fmt::frame_record_size, 16, 24);
  const uint64_t room = size - tables - n_frames * fmt::frame_record_size;
  if (sources > room || meta > room - sources) return;
  const uint64_t index = size - (room - sources - meta);
  put(p + tables_checksum, XXH3_64bits(p + tables, index - tables));
  put(p + index_checksum, XXH3_64bits(p + index, size - index));
}

// Version 2: frames as in version 1; after the frame table, the index table (56-byte records:
// block file offset at 0, compressed size at 40, checksum at 48), then sources and metadata, all
// under the tables checksum; the index blocks follow (header field 104 counts them).
inline void reseal_v2(uint8_t* p, uint64_t size) {
  namespace fmt = bytes::dataset_format;
  const uint64_t tables = get(p + tables_offset), n_frames = get(p + frames), sources = get(p + sources_size),
                 meta = get(p + meta_size), n_blocks = get(p + index_checksum);
  if (tables > size || n_frames > (size - tables) / fmt::frame_record_size) return;
  reseal_records(p, size, tables, n_frames, fmt::frame_record_size, 16, 24);
  const uint64_t blocks_at = tables + n_frames * fmt::frame_record_size;
  if (n_blocks > (size - blocks_at) / fmt::index_record_size) return;
  reseal_records(p, size, blocks_at, n_blocks, fmt::index_record_size, 40, 48);
  const uint64_t rest = blocks_at + n_blocks * fmt::index_record_size;
  if (sources > size - rest || meta > size - rest - sources) return;
  put(p + tables_checksum, XXH3_64bits(p + tables, rest + sources + meta - tables));
}

}  // namespace seal

// Makes every checksum of a dataset file match its bytes, as bytes::DatasetWriter computes them
// (XXH3-64, seed 0), so that a mutated file reaches the structural checks behind the checksums.
// Also sets the header's file size to the real one (an inserted or erased byte would otherwise
// stop every such mutation at that first check). A field that points outside the file is left as
// it is: the reader must refuse it anyway. Knows versions 1 and 2; a file of another
// version gets its header sealed, all a reader checks before refusing the version, and false.
inline bool reseal(std::string& file) {
  if (file.size() < bytes::dataset_format::header_size) return false;
  auto* p = reinterpret_cast<uint8_t*>(file.data());
  seal::put(p + seal::file_size, file.size());
  uint32_t version;
  std::memcpy(&version, p + seal::version, 4);
  if (version == 1) seal::reseal_v1(p, file.size());
  if (version == 2) seal::reseal_v2(p, file.size());
  seal::put(p + seal::header_checksum, XXH3_64bits(p, seal::header_checksum));
  return version == 1 || version == 2;
}
