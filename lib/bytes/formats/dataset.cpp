#include "bytes/formats/dataset.hpp"

#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "bytes/base/error.hpp"
#include "bytes/base/hash.hpp"
#include "bytes/formats/dataset_layout.hpp"

namespace bytes {

using namespace dataset_layout;

const char* split_name(Split split) {
  static const char* names[] = {"train", "val", "test"};
  return names[int(split)];
}

Split parse_split(const std::string& name) {
  for (int s = 0; s < n_splits; ++s)
    if (name == split_name(Split(s))) return Split(s);
  throw UsageError("unknown split '" + name + "' (train, val or test)");
}

struct Dataset::ZstdDctx {
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  ~ZstdDctx() { ZSTD_freeDCtx(ctx); }
};

Dataset::~Dataset() = default;

void Dataset::corrupt(const std::string& what, uint64_t at) const {
  throw Error("corrupt dataset: " + what + ": " + path_ + " (at byte " + std::to_string(at) + ")");
}

// The header's counts and sizes, checked against the file before anything relies on them.
struct Dataset::Layout {
  uint8_t header[fmt::header_size] = {};
  uint64_t n_frames = 0, n_sources = 0, n_blocks = 0, tables_offset = 0, sources_size = 0, meta_size = 0;
  uint64_t frame_bytes = 0, block_bytes = 0, index_offset = 0;
  uint64_t sources_at() const { return frame_bytes + block_bytes; }  // within the tables
  uint64_t meta_at() const { return sources_at() + sources_size; }
  uint64_t field(size_t at) const { return get<uint64_t>(header + at); }
};

Dataset::Dataset(const std::string& path) : path_(path), file_(path), dctx_(std::make_unique<ZstdDctx>()) {
  Layout l;
  read_header(l);
  std::vector<uint8_t> tables(l.index_offset - l.tables_offset);
  file_.pread_exact(tables.data(), tables.size(), l.tables_offset);
  if (hash(tables.data(), tables.size()) != l.field(h_tables_checksum))
    corrupt("frame table, index table, source list or metadata fails its checksum", l.tables_offset);
  const uint64_t block_size = read_meta(l, tables);
  uint64_t stream_end[n_splits] = {};
  read_frames(l, tables, block_size, stream_end);
  read_sources(l, tables);
  read_index_table(l, tables);
  check_index(l, stream_end);
}

// Magic, version, sizes: what the file says it is and whether its sizes fit in it.
void Dataset::read_header(Layout& l) {
  uint8_t* header = l.header;
  if (!file_.regular()) throw Error("a dataset must be a regular file: " + path_);
  uint64_t size = file_.size();
  file_.pread_exact(header, std::min<uint64_t>(size, fmt::header_size), 0);
  if (size == 0) throw Error("empty file, not a bytes dataset: " + path_);
  if (std::memcmp(header, fmt::magic, std::min<uint64_t>(size, sizeof fmt::magic)) != 0)
    throw Error("not a bytes dataset (bad magic): " + path_);
  if (size < fmt::header_size)
    throw Error("dataset truncated: " + path_ + " is " + std::to_string(size) + " bytes, shorter than its header");
  if (l.field(h_checksum) != hash(header, h_checksum)) corrupt("header checksum mismatch", 0);
  version_ = get<uint32_t>(header + h_version);
  if (version_ != 1 && version_ != fmt::version)
    throw Error("unsupported dataset version " + std::to_string(version_) + " (this build reads versions 1 and " +
                std::to_string(fmt::version) +
                ": read it with the bytes that wrote it, or run bytes-prep again): " + path_);
  if (get<uint32_t>(header + h_header_size) != fmt::header_size) corrupt("bad header size", h_header_size);
  file_size_ = l.field(h_file_size);
  if (size < file_size_)
    throw Error("dataset truncated: " + path_ + " is " + std::to_string(size) + " bytes, its header says " +
                std::to_string(file_size_));
  if (size > file_size_)
    throw Error("dataset has " + std::to_string(size - file_size_) + " unexpected bytes at its end: " + path_);

  n_docs_ = l.field(h_docs);
  l.n_frames = l.field(h_frames);
  l.n_sources = l.field(h_sources);
  l.tables_offset = l.field(h_tables_offset);
  l.sources_size = l.field(h_sources_size);
  l.meta_size = l.field(h_meta_size);
  l.n_blocks = version_ == 1 ? 0 : l.field(h_index);
  // Every size is checked against the file before use, so a bad field cannot drive an allocation.
  l.frame_bytes = l.n_frames * fmt::frame_record_size;
  l.block_bytes = l.n_blocks * fmt::index_record_size;
  if (l.tables_offset < fmt::header_size || l.tables_offset > file_size_ ||
      l.n_frames > file_size_ / fmt::frame_record_size || l.n_blocks > file_size_ / fmt::index_record_size ||
      l.frame_bytes > file_size_ - l.tables_offset || l.block_bytes > file_size_ - l.tables_offset - l.frame_bytes ||
      l.sources_size > file_size_ - l.tables_offset - l.frame_bytes - l.block_bytes ||
      l.meta_size > file_size_ - l.tables_offset - l.frame_bytes - l.block_bytes - l.sources_size)
    corrupt("header sizes do not add up", h_docs);
  l.index_offset = l.tables_offset + l.frame_bytes + l.block_bytes + l.sources_size + l.meta_size;
  if (version_ == 1 ? n_docs_ > file_size_ / fmt::v1_doc_record_size ||
                          n_docs_ * fmt::v1_doc_record_size != file_size_ - l.index_offset
                    : n_docs_ > l.n_blocks * fmt::index_block_docs || l.n_blocks > n_docs_)
    corrupt("header sizes do not add up", h_docs);
}

// The metadata; returns its block size, which bounds frame sizes before anything is allocated by them.
uint64_t Dataset::read_meta(const Layout& l, const std::vector<uint8_t>& tables) {
  try {
    meta_ = nlohmann::json::parse(tables.data() + l.meta_at(), tables.data() + tables.size());
  } catch (const std::exception&) {
    corrupt("metadata is not JSON", l.tables_offset + l.meta_at());
  }
  const auto& block = meta_.is_object() && meta_.contains("block_size") ? meta_["block_size"] : nlohmann::json();
  if (!block.is_number_unsigned() || block.get<uint64_t>() < 4096 || block.get<uint64_t>() > (64u << 20))
    corrupt("metadata has no block_size between 4 KiB and 64 MiB", l.tables_offset + l.meta_at());
  return block.get<uint64_t>();
}

// The frame table: frames tile the data region, each split's frames its stream.
void Dataset::read_frames(const Layout& l, const std::vector<uint8_t>& tables, uint64_t block_size,
                          uint64_t (&stream_end)[n_splits]) {
  uint64_t expect_offset = fmt::header_size;
  for (uint64_t i = 0; i < l.n_frames; ++i) {
    const uint8_t* r = tables.data() + i * fmt::frame_record_size;
    Frame f{get<uint64_t>(r), get<uint64_t>(r + 8), get<uint64_t>(r + 24), get<uint32_t>(r + 16),
            get<uint32_t>(r + 20), Split(r[32])};
    const uint64_t at = l.tables_offset + i * fmt::frame_record_size;
    if (r[32] >= n_splits || f.file_offset != expect_offset || f.stream_offset != stream_end[r[32]] ||
        f.raw_size == 0 || f.compressed_size == 0 || f.compressed_size > l.tables_offset - f.file_offset ||
        f.compressed_size > ZSTD_compressBound(f.raw_size))
      corrupt("frame table entry " + std::to_string(i) + " is inconsistent", at);
    if (f.raw_size > block_size)
      corrupt("frame table entry " + std::to_string(i) + " claims " + std::to_string(f.raw_size) +
                  " bytes, more than the block size " + std::to_string(block_size),
              at);
    expect_offset += f.compressed_size;
    stream_end[r[32]] += f.raw_size;
    auto& st = stats_[r[32]];
    st.frames++;
    st.bytes += f.raw_size;
    st.compressed += f.compressed_size;
    split_frames_[r[32]].push_back(frames_.size());
    frames_.push_back(f);
  }
  if (expect_offset != l.tables_offset) corrupt("frames do not fill the data region", expect_offset);
}

void Dataset::read_sources(const Layout& l, const std::vector<uint8_t>& tables) {
  const uint64_t at = l.tables_offset + l.sources_at();
  const uint8_t* p = tables.data() + l.sources_at();
  const uint8_t* end = p + l.sources_size;
  for (uint64_t i = 0; i < l.n_sources; ++i) {
    if (end - p < 4) corrupt("source list is cut short", at);
    uint32_t len = get<uint32_t>(p);
    p += 4;
    if (uint64_t(end - p) < len) corrupt("source list is cut short", at);
    sources_.emplace_back(reinterpret_cast<const char*>(p), len);
    p += len;
  }
  if (p != end) corrupt("source list has trailing bytes", at);
}

// The index table: blocks tile the index region, each holding 1 to index_block_docs documents
// and a raw size those documents can have (so decoding one allocates at most a MiB or so).
// Version 1 has no table: its records are cut into blocks of as many documents.
void Dataset::read_index_table(const Layout& l, const std::vector<uint8_t>& tables) {
  uint64_t block_offset = l.index_offset;
  for (uint64_t b = 0; b < l.n_blocks; ++b) {
    const uint8_t* r = tables.data() + l.frame_bytes + b * fmt::index_record_size;
    IndexBlock k{get<uint64_t>(r + b_file_offset), get<uint64_t>(r + b_checksum), get<uint64_t>(r + b_first_doc), {},
                 get<uint32_t>(r + b_compressed), get<uint32_t>(r + b_raw)};
    for (int s = 0; s < n_splits; ++s) k.stream_offset[s] = get<uint64_t>(r + b_stream_offset + 8 * s);
    uint64_t next_first = b + 1 < l.n_blocks ? get<uint64_t>(r + fmt::index_record_size + b_first_doc) : n_docs_;
    uint64_t count = next_first - k.first_doc;
    if ((b == 0 && k.first_doc != 0) || next_first <= k.first_doc || count > fmt::index_block_docs ||
        k.file_offset != block_offset || k.compressed_size == 0 || k.compressed_size > file_size_ - block_offset ||
        k.raw_size < count * min_index_bytes_per_doc || k.raw_size > count * max_index_bytes_per_doc)
      corrupt("index table entry " + std::to_string(b) + " is inconsistent",
              l.tables_offset + l.frame_bytes + b * fmt::index_record_size);
    block_offset += k.compressed_size;
    index_.push_back(k);
  }
  if (version_ > 1 && block_offset != file_size_) corrupt("index blocks do not fill the index region", block_offset);
  if (version_ == 1)  // blocks of uncompressed records, the stream offsets filled in by check_index
    for (uint64_t first = 0; first < n_docs_; first += fmt::index_block_docs) {
      uint32_t bytes = uint32_t(std::min<uint64_t>(fmt::index_block_docs, n_docs_ - first) * fmt::v1_doc_record_size);
      index_.push_back({l.index_offset + first * fmt::v1_doc_record_size, 0, first, {}, bytes, bytes});
    }
}

// One pass over the index: each block starts where the one before left every split, and the
// documents fill each split's stream exactly (index_block checks the documents within a block).
void Dataset::check_index(const Layout& l, const uint64_t (&stream_end)[n_splits]) {
  Xxh3 v1_hash;
  uint64_t split_docs[n_splits] = {}, next[n_splits] = {};
  for (size_t b = 0; b < index_.size(); ++b) {
    if (version_ == 1) std::copy(next, next + n_splits, index_[b].stream_offset);
    if (!std::equal(next, next + n_splits, index_[b].stream_offset))
      corrupt("index block " + std::to_string(b) + " does not start where the one before ended",
              l.tables_offset + l.frame_bytes + b * fmt::index_record_size);
    for (const Doc& d : index_block(b)) {
      next[int(d.split)] = d.offset + d.length;
      split_docs[int(d.split)]++;
    }
    if (version_ == 1) v1_hash.update(index_raw_.data(), index_raw_.size());
  }
  if (version_ == 1 && v1_hash.digest() != l.field(h_index)) corrupt("document index fails its checksum", l.index_offset);
  for (int s = 0; s < n_splits; ++s) {
    if (next[s] != stream_end[s] || split_docs[s] != l.field(h_split_docs + 8 * s))
      corrupt("document index does not match the frames", l.index_offset);
    stats_[s].docs = split_docs[s];
  }
}

uint64_t Dataset::block_end(size_t block) const {
  return block + 1 < index_.size() ? index_[block + 1].first_doc : n_docs_;
}

// Reads the zstd frame of `compressed` bytes at file_offset (`what` in messages) into raw,
// checking its checksum, that its header claims the sizes the tables gave, and that it decodes.
void Dataset::read_frame(const std::string& what, uint64_t file_offset, uint32_t compressed, uint32_t raw_size,
                         uint64_t checksum, std::vector<uint8_t>& raw) const {
  compressed_.resize(compressed);
  file_.pread_exact(compressed_.data(), compressed_.size(), file_offset);
  if (hash(compressed_.data(), compressed_.size()) != checksum) corrupt(what + " fails its checksum", file_offset);
  if (ZSTD_getFrameContentSize(compressed_.data(), compressed_.size()) != raw_size ||
      ZSTD_findFrameCompressedSize(compressed_.data(), compressed_.size()) != compressed)
    corrupt(what + " has a bad zstd frame header", file_offset);
  raw.resize(raw_size);
  size_t n = ZSTD_decompressDCtx(dctx_->ctx, raw.data(), raw.size(), compressed_.data(), compressed_.size());
  if (ZSTD_isError(n) || n != raw_size)
    corrupt(what + " does not decompress (" + (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size") + ")",
            file_offset);
}

// Version 2's columns in index_raw_: a split byte for each document, then each length, then
// each source as a zigzag delta from the previous document's (0 before the first), as varints.
// False if they do not parse into count documents with known sources.
bool Dataset::parse_columns(uint64_t count) const {
  const uint8_t *raw = index_raw_.data(), *p = raw + count, *end = raw + index_raw_.size();
  bool ok = true;
  uint64_t v = 0;
  for (uint64_t i = 0; i < count; ++i) {
    ok = ok && get_varint(p, end, v);
    block_docs_[i] = {Split(raw[i]), 0, 0, v};
  }
  int64_t source = 0;
  for (uint64_t i = 0; i < count && ok; ++i) {
    ok = get_varint(p, end, v) && v < (uint64_t(1) << 33);
    source += int64_t(v >> 1) ^ -int64_t(v & 1);
    block_docs_[i].source = uint32_t(source);
    ok = ok && source >= 0 && uint64_t(source) < sources_.size();
  }
  return ok && p == end;
}

// Decodes an index block into its documents, checking them against the frames as it goes.
const std::vector<Dataset::Doc>& Dataset::index_block(size_t block) const {
  if (block == cached_block_) return block_docs_;
  cached_block_ = SIZE_MAX;
  const IndexBlock& k = index_[block];
  const std::string where = "index block " + std::to_string(block);
  const uint64_t count = block_end(block) - k.first_doc;
  bool ok = true;
  block_docs_.resize(count);
  if (version_ == 1) {
    index_raw_.resize(k.raw_size);
    file_.pread_exact(index_raw_.data(), index_raw_.size(), k.file_offset);
    for (uint64_t i = 0; i < count; ++i) {
      const uint8_t* r = index_raw_.data() + i * fmt::v1_doc_record_size;
      block_docs_[i] = {Split(r[20]), get<uint32_t>(r + 16), get<uint64_t>(r), get<uint64_t>(r + 8)};
    }
  } else {
    read_frame(where, k.file_offset, k.compressed_size, k.raw_size, k.checksum, index_raw_);
    ok = parse_columns(count);
  }
  // Every document starts where the one before in its split ended (version 2 derives the offsets
  // that way), names a source, and ends within its split's frames.
  uint64_t next[n_splits];
  std::copy(k.stream_offset, k.stream_offset + n_splits, next);
  for (Doc& d : block_docs_) {
    int s = int(d.split);
    if (!ok || s >= n_splits) {
      ok = false;
      break;
    }
    if (version_ > 1) d.offset = next[s];
    ok = d.offset == next[s] && d.source < sources_.size() && next[s] <= stats_[s].bytes &&
         d.length <= stats_[s].bytes - next[s];
    next[s] += d.length;
  }
  if (!ok) corrupt(version_ == 1 ? "document index does not match the frames" : where + " does not match the frames",
                   k.file_offset);
  cached_block_ = block;
  return block_docs_;
}

Dataset::Doc Dataset::doc(uint64_t index) const {
  if (index >= n_docs_)
    throw Error("no document " + std::to_string(index) + " in " + path_ + " (it has " + std::to_string(n_docs_) + ")");
  size_t b = size_t(std::upper_bound(index_.begin(), index_.end(), index,
                                     [](uint64_t i, const IndexBlock& k) { return i < k.first_doc; }) -
                    index_.begin()) - 1;
  return index_block(b)[index - index_[b].first_doc];
}

void Dataset::for_each_doc(const std::function<void(uint64_t, Doc)>& fn) const {
  for (size_t b = 0; b < index_.size(); ++b)
    for (uint64_t i = index_[b].first_doc; i < block_end(b); ++i) fn(i, index_block(b)[i - index_[b].first_doc]);
}

// One frame kept per split: documents in input order alternate between splits, and with one
// frame kept for all, reading them in that order decoded a whole frame for nearly every document.
const std::vector<uint8_t>& Dataset::decode(size_t frame) const {
  const Frame& f = frames_[frame];
  size_t& cached_frame = cached_frame_[int(f.split)];
  std::vector<uint8_t>& cached = cached_[int(f.split)];
  if (frame == cached_frame) return cached;
  cached_frame = SIZE_MAX;
  read_frame("frame " + std::to_string(frame), f.file_offset, f.compressed_size, f.raw_size, f.checksum, cached);
  cached_frame = frame;
  return cached;
}

void Dataset::read(Split split, uint64_t offset, uint64_t n, uint8_t* out) const {
  const auto& list = split_frames_[int(split)];
  if (offset + n > stats_[int(split)].bytes || offset + n < offset)
    throw Error("read past the end of the " + std::string(split_name(split)) + " split: " + path_);
  // Start at the last frame whose stream offset is <= offset.
  size_t at = size_t(std::upper_bound(list.begin(), list.end(), offset,
                                      [&](uint64_t off, size_t f) { return off < frames_[f].stream_offset; }) -
                     list.begin());
  for (at = at ? at - 1 : 0; n > 0; ++at) {
    size_t f = list[at];
    const auto& raw = decode(f);
    uint64_t within = offset - frames_[f].stream_offset;
    uint64_t take = std::min<uint64_t>(n, raw.size() - within);
    std::memcpy(out, raw.data() + within, take);
    out += take;
    offset += take;
    n -= take;
  }
}

std::string Dataset::read_doc(uint64_t index) const {
  Doc d = doc(index);
  // Grown a MiB at a time, so a crafted length fails at the first frame that does not hold it
  // rather than allocating all of it up front.
  std::string text;
  for (uint64_t done = 0; done < d.length;) {
    uint64_t n = std::min<uint64_t>(d.length - done, 1 << 20);
    text.resize(size_t(done + n));
    read(d.split, d.offset + done, n, reinterpret_cast<uint8_t*>(text.data() + done));
    done += n;
  }
  return text;
}

void Dataset::for_each_frame(Split split, const std::function<void(const uint8_t*, size_t)>& fn) const {
  for (size_t f : split_frames_[int(split)]) {
    const auto& raw = decode(f);
    fn(raw.data(), raw.size());
  }
}

void Dataset::verify() const {
  for (size_t f = 0; f < frames_.size(); ++f) decode(f);
}

}  // namespace bytes
