// The dataset file (bytes-dataset(5)): documents in independent, checksummed zstd frames, an
// index of documents with their split, and a header that says how the file fits together.
//
// Each split's documents are concatenated, in input order, into that split's byte stream; the
// stream is cut into frames of at most block_size bytes, so a document may span frames and a
// frame may hold many documents. Readers random-access any range of a split's stream.
//
// The index is compressed in blocks of documents (split, length and source columns); offsets are
// derived from the lengths, so a short document costs about a byte of index, not 24 as in
// version 1 (which is still read).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bytes/base/io.hpp"

namespace bytes {

enum class Split : uint8_t { train = 0, val = 1, test = 2 };
constexpr int n_splits = 3;
const char* split_name(Split split);
Split parse_split(const std::string& name);  // throws UsageError

struct SplitStats {
  uint64_t docs = 0, bytes = 0, frames = 0, compressed = 0;
  // zstd's bits per byte on this split: compressed frame bytes · 8 / raw bytes.
  double zstd_bpb() const { return bytes ? 8.0 * double(compressed) / double(bytes) : 0.0; }
};

namespace dataset_format {
inline constexpr char magic[8] = {'\x89', 'B', 'Y', 'T', 'E', 'S', '\r', '\n'};
inline constexpr uint32_t version = 2;
inline constexpr uint32_t header_size = 128;
inline constexpr uint32_t frame_record_size = 40;
inline constexpr uint32_t index_record_size = 56;      // one per index block
inline constexpr uint32_t index_block_docs = 1 << 16;  // documents in an index block, at most
inline constexpr uint32_t v1_doc_record_size = 24;     // version 1's index: one record a document
}  // namespace dataset_format

class DatasetWriter {
 public:
  struct Options {
    int level = 3;
    uint32_t block_size = 4 << 20;
    int threads = 1;          // compression workers
    nlohmann::json meta = nlohmann::json::object();  // stored as the file's metadata
  };
  DatasetWriter(const std::string& path, Options options);
  ~DatasetWriter();
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  uint32_t add_source(const std::string& name);
  // A document arrives in pieces: begin_doc, any number of append, end_doc.
  void begin_doc(Split split, uint32_t source);
  void append(const void* data, size_t n);
  void end_doc();
  // Writes the tables and header and renames the file into place.
  void finish();
  const SplitStats& stats(Split split) const;
  uint64_t file_size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Dataset {
 public:
  struct Doc {
    Split split;
    uint32_t source;
    uint64_t offset;  // in its split's stream
    uint64_t length;
  };
  struct Frame {
    uint64_t file_offset, stream_offset, checksum;
    uint32_t compressed_size, raw_size;
    Split split;
  };

  // Checks magic, version, size, header and table checksums and the index's consistency.
  explicit Dataset(const std::string& path);
  ~Dataset();

  uint64_t docs() const { return n_docs_; }
  // Decodes the index block holding document index, and keeps it: walking documents in order
  // decodes each block once. Not safe to call from several threads on one object.
  Doc doc(uint64_t index) const;
  // Calls fn(index, doc) for every document in order.
  void for_each_doc(const std::function<void(uint64_t, Doc)>& fn) const;
  uint32_t version() const { return version_; }
  const std::string& source(uint32_t id) const { return sources_.at(id); }
  size_t sources() const { return sources_.size(); }
  const SplitStats& stats(Split split) const { return stats_[int(split)]; }
  const nlohmann::json& meta() const { return meta_; }
  uint64_t file_size() const { return file_size_; }
  const std::string& path() const { return path_; }

  // Copies n bytes from offset of split's stream into out. Keeps the last frame decoded of each
  // split, so nearby reads are cheap; not safe to call from several threads on one object.
  void read(Split split, uint64_t offset, uint64_t n, uint8_t* out) const;
  std::string read_doc(uint64_t index) const;
  // Calls fn for each frame of split in stream order with its decoded bytes.
  void for_each_frame(Split split, const std::function<void(const uint8_t*, size_t)>& fn) const;
  // Decodes every frame: the full check that a reader touching only some documents skips.
  void verify() const;

 private:
  // Where a block of the index lies and the split offsets its first document starts from. A
  // version 1 file is read as blocks of uncompressed records (no checksum of their own).
  struct IndexBlock {
    uint64_t file_offset, checksum, first_doc, stream_offset[n_splits];
    uint32_t compressed_size, raw_size;
  };
  // Opening, in order (each step checks what it reads before the next relies on it).
  struct Layout;
  void read_header(Layout& layout);
  uint64_t read_meta(const Layout& layout, const std::vector<uint8_t>& tables);
  void read_frames(const Layout& layout, const std::vector<uint8_t>& tables, uint64_t block_size,
                   uint64_t (&stream_end)[n_splits]);
  void read_sources(const Layout& layout, const std::vector<uint8_t>& tables);
  void read_index_table(const Layout& layout, const std::vector<uint8_t>& tables);
  void check_index(const Layout& layout, const uint64_t (&stream_end)[n_splits]);
  // Reading.
  void read_frame(const std::string& what, uint64_t file_offset, uint32_t compressed, uint32_t raw_size,
                  uint64_t checksum, std::vector<uint8_t>& raw) const;
  const std::vector<uint8_t>& decode(size_t frame) const;
  bool parse_columns(uint64_t count) const;
  const std::vector<Doc>& index_block(size_t block) const;
  uint64_t block_end(size_t block) const;
  [[noreturn]] void corrupt(const std::string& what, uint64_t at) const;

  std::string path_;
  InputFile file_;
  uint32_t version_ = 0;
  uint64_t file_size_ = 0, n_docs_ = 0;
  std::vector<Frame> frames_;
  std::vector<IndexBlock> index_;
  std::vector<size_t> split_frames_[n_splits];  // frame numbers of each split, in stream order
  std::vector<std::string> sources_;
  nlohmann::json meta_;
  SplitStats stats_[n_splits];
  mutable size_t cached_frame_[n_splits] = {SIZE_MAX, SIZE_MAX, SIZE_MAX}, cached_block_ = SIZE_MAX;
  mutable std::vector<uint8_t> cached_[n_splits];
  mutable std::vector<Doc> block_docs_;
  mutable std::vector<uint8_t> compressed_, index_raw_;
  struct ZstdDctx;
  std::unique_ptr<ZstdDctx> dctx_;
};

}  // namespace bytes
