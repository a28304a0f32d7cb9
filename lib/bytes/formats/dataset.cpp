#include "bytes/formats/dataset.hpp"

#define XXH_INLINE_ALL
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <bit>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "bytes/base/error.hpp"
#include "bytes/base/hash.hpp"
#include "bytes_version.hpp"

namespace bytes {

static_assert(std::endian::native == std::endian::little, "the formats are little-endian; so is this code");

namespace fmt = dataset_format;

const char* split_name(Split split) {
  static const char* names[] = {"train", "val", "test"};
  return names[int(split)];
}

Split parse_split(const std::string& name) {
  for (int s = 0; s < n_splits; ++s)
    if (name == split_name(Split(s))) return Split(s);
  throw UsageError("unknown split '" + name + "' (train, val or test)");
}

namespace {

template <typename T>
void put(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}
template <typename T>
T get(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

uint64_t hash(const void* data, size_t n) { return XXH3_64bits(data, n); }

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

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  for (; v >= 0x80; v >>= 7) out.push_back(uint8_t(v | 0x80));
  out.push_back(uint8_t(v));
}

bool get_varint(const uint8_t*& p, const uint8_t* end, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    uint8_t b = *p++;
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Writer: the caller's thread cuts blocks, worker threads compress them, and the caller's thread
// writes finished frames in submission order so the file is the same for any thread count.

struct DatasetWriter::Impl {
  struct Job {
    std::vector<uint8_t> raw, compressed;
    Split split;
    uint64_t stream_offset;
    bool done = false;
    std::string error;
  };

  Options opt;
  AtomicFile out;
  std::vector<std::string> sources;
  std::vector<uint8_t> frame_table;
  std::vector<uint8_t> block[n_splits];
  uint64_t stream_size[n_splits] = {};
  SplitStats stats[n_splits];
  // The index block being filled, one column each: splits, lengths, source deltas. Finished
  // blocks are compressed and spilled to a temporary file, so memory stays flat.
  std::vector<uint8_t> columns[3], index_raw, index_compressed;
  uint64_t n_docs = 0, block_first_doc = 0, block_start[n_splits] = {};
  uint32_t prev_source = 0;
  std::vector<uint8_t> index_table;  // block records, file offsets relative to the index region
  std::FILE* index_spill = nullptr;
  uint64_t index_size = 0;
  ZSTD_CCtx* index_cctx = nullptr;
  bool in_doc = false;
  Split doc_split = Split::train;
  uint32_t doc_source = 0;
  uint64_t doc_start = 0;

  std::mutex mutex;
  std::condition_variable work_ready, job_done;
  std::deque<std::shared_ptr<Job>> todo, in_flight;
  std::vector<std::shared_ptr<Job>> spare;  // finished jobs whose buffers are reused (no page faults)
  std::vector<std::thread> workers;
  bool stopping = false;

  Impl(const std::string& path, Options o) : opt(std::move(o)), out(path) {
    uint8_t zero[fmt::header_size] = {};
    out.write(zero, sizeof zero);
    index_spill = std::tmpfile();
    if (!index_spill) throw_errno("cannot create a temporary file for the document index", path);
    index_cctx = make_cctx();
    for (auto& b : block) b.reserve(opt.block_size);
    for (int i = 0; i < std::max(1, opt.threads); ++i) workers.emplace_back([this] { work(); });
  }

  ~Impl() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    work_ready.notify_all();
    for (auto& w : workers) w.join();
    if (index_spill) std::fclose(index_spill);
    ZSTD_freeCCtx(index_cctx);
  }

  ZSTD_CCtx* make_cctx() const {
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, opt.level);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
    return cctx;
  }

  void work() {
    ZSTD_CCtx* cctx = make_cctx();
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock lock(mutex);
        work_ready.wait(lock, [&] { return stopping || !todo.empty(); });
        if (todo.empty()) break;
        job = std::move(todo.front());
        todo.pop_front();
      }
      job->compressed.resize(ZSTD_compressBound(job->raw.size()));  // no-op once the buffer is reused
      size_t n = ZSTD_compress2(cctx, job->compressed.data(), job->compressed.size(), job->raw.data(),
                                job->raw.size());
      {
        std::lock_guard lock(mutex);
        if (ZSTD_isError(n)) job->error = ZSTD_getErrorName(n);
        else job->compressed.resize(n);
        job->done = true;
      }
      job_done.notify_all();
    }
    ZSTD_freeCCtx(cctx);
  }

  void submit(Split split) {
    std::shared_ptr<Job> job;
    if (spare.empty()) {
      job = std::make_shared<Job>();
    } else {
      job = std::move(spare.back());
      spare.pop_back();
      job->done = false;
    }
    job->raw.swap(block[int(split)]);
    block[int(split)].clear();
    block[int(split)].reserve(opt.block_size);
    job->split = split;
    job->stream_offset = stream_size[int(split)] - job->raw.size();
    {
      std::lock_guard lock(mutex);
      todo.push_back(job);
      in_flight.push_back(job);
    }
    work_ready.notify_one();
    while (in_flight.size() > 2 * workers.size()) write_oldest();
  }

  void write_oldest() {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mutex);
      job = in_flight.front();
      job_done.wait(lock, [&] { return job->done; });
      in_flight.pop_front();
    }
    if (!job->error.empty()) throw Error("zstd compression failed: " + job->error + ": " + out.path());
    uint8_t rec[fmt::frame_record_size] = {};
    put<uint64_t>(rec + 0, out.tell());
    put<uint64_t>(rec + 8, job->stream_offset);
    put<uint32_t>(rec + 16, uint32_t(job->compressed.size()));
    put<uint32_t>(rec + 20, uint32_t(job->raw.size()));
    put<uint64_t>(rec + 24, hash(job->compressed.data(), job->compressed.size()));
    rec[32] = uint8_t(job->split);
    frame_table.insert(frame_table.end(), rec, rec + sizeof rec);
    out.write(job->compressed.data(), job->compressed.size());
    auto& st = stats[int(job->split)];
    st.frames++;
    st.compressed += job->compressed.size();
    spare.push_back(std::move(job));
  }

  void append(const uint8_t* p, size_t n) {
    auto& buf = block[int(doc_split)];
    while (n > 0) {
      size_t take = std::min(n, size_t(opt.block_size) - buf.size());
      buf.insert(buf.end(), p, p + take);
      stream_size[int(doc_split)] += take;
      p += take;
      n -= take;
      if (buf.size() == opt.block_size) submit(doc_split);
    }
  }

  void add_doc(Split split, uint64_t length, uint32_t source) {
    columns[0].push_back(uint8_t(split));
    put_varint(columns[1], length);
    int64_t delta = int64_t(source) - int64_t(prev_source);
    put_varint(columns[2], (uint64_t(delta) << 1) ^ uint64_t(delta >> 63));  // zigzag: small either way
    prev_source = source;
    if (++n_docs - block_first_doc == fmt::index_block_docs) flush_index();
  }

  // Compresses the index block being filled (one zstd frame) and spills it.
  void flush_index() {
    if (n_docs == block_first_doc) return;
    index_raw.clear();
    for (auto& c : columns) {
      index_raw.insert(index_raw.end(), c.begin(), c.end());
      c.clear();
    }
    index_compressed.resize(ZSTD_compressBound(index_raw.size()));
    size_t n = ZSTD_compress2(index_cctx, index_compressed.data(), index_compressed.size(), index_raw.data(),
                              index_raw.size());
    if (ZSTD_isError(n))
      throw Error(std::string("zstd compression failed: ") + ZSTD_getErrorName(n) + ": " + out.path());
    uint8_t rec[fmt::index_record_size] = {};
    put<uint64_t>(rec + b_file_offset, index_size);
    put<uint64_t>(rec + b_first_doc, block_first_doc);
    for (int s = 0; s < n_splits; ++s) put<uint64_t>(rec + b_stream_offset + 8 * s, block_start[s]);
    put<uint32_t>(rec + b_compressed, uint32_t(n));
    put<uint32_t>(rec + b_raw, uint32_t(index_raw.size()));
    put<uint64_t>(rec + b_checksum, hash(index_compressed.data(), n));
    index_table.insert(index_table.end(), rec, rec + sizeof rec);
    if (std::fwrite(index_compressed.data(), 1, n, index_spill) != n)
      throw_errno("cannot write the temporary document index", out.path());
    index_size += n;
    block_first_doc = n_docs;
    std::copy(stream_size, stream_size + n_splits, block_start);
    prev_source = 0;
  }
};

DatasetWriter::DatasetWriter(const std::string& path, Options options) {
  if (options.block_size < 4096 || options.block_size > (64u << 20))
    throw UsageError("block size must be between 4 KiB and 64 MiB");
  if (options.level < ZSTD_minCLevel() || options.level > ZSTD_maxCLevel())
    throw UsageError("zstd level must be between " + std::to_string(ZSTD_minCLevel()) + " and " +
                     std::to_string(ZSTD_maxCLevel()));
  impl_ = std::make_unique<Impl>(path, std::move(options));
}

DatasetWriter::~DatasetWriter() = default;

uint32_t DatasetWriter::add_source(const std::string& name) {
  if (impl_->sources.size() >= UINT32_MAX) throw Error("too many input files");
  impl_->sources.push_back(name);
  return uint32_t(impl_->sources.size() - 1);
}

void DatasetWriter::begin_doc(Split split, uint32_t source) {
  auto& m = *impl_;
  m.in_doc = true;
  m.doc_split = split;
  m.doc_source = source;
  m.doc_start = m.stream_size[int(split)];
}

void DatasetWriter::append(const void* data, size_t n) { impl_->append(static_cast<const uint8_t*>(data), n); }

void DatasetWriter::end_doc() {
  auto& m = *impl_;
  uint64_t length = m.stream_size[int(m.doc_split)] - m.doc_start;
  m.add_doc(m.doc_split, length, m.doc_source);
  auto& st = m.stats[int(m.doc_split)];
  st.docs++;
  st.bytes += length;
  m.in_doc = false;
}

const SplitStats& DatasetWriter::stats(Split split) const { return impl_->stats[int(split)]; }
uint64_t DatasetWriter::file_size() const { return impl_->out.tell(); }

void DatasetWriter::finish() {
  auto& m = *impl_;
  for (int s = 0; s < n_splits; ++s)
    if (!m.block[s].empty()) m.submit(Split(s));
  while (!m.in_flight.empty()) m.write_oldest();
  m.flush_index();

  uint64_t tables_offset = m.out.tell();
  std::vector<uint8_t> sources;
  for (const auto& name : m.sources) {
    uint8_t len[4];
    put<uint32_t>(len, uint32_t(name.size()));
    sources.insert(sources.end(), len, len + 4);
    sources.insert(sources.end(), name.begin(), name.end());
  }
  nlohmann::json meta = m.opt.meta;
  meta["created_by"] = std::string("bytes ") + BYTES_VERSION;
  meta["zstd_level"] = m.opt.level;
  meta["block_size"] = m.opt.block_size;
  std::string meta_text = meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

  // The index blocks follow the tables: their records get their file offsets now.
  uint64_t index_offset =
      tables_offset + m.frame_table.size() + m.index_table.size() + sources.size() + meta_text.size();
  for (size_t at = 0; at < m.index_table.size(); at += fmt::index_record_size)
    put<uint64_t>(&m.index_table[at] + b_file_offset, get<uint64_t>(&m.index_table[at] + b_file_offset) + index_offset);
  Xxh3 tables_hash;
  for (const auto* part : {&m.frame_table, &m.index_table, &sources}) {
    tables_hash.update(part->data(), part->size());
    m.out.write(part->data(), part->size());
  }
  tables_hash.update(meta_text.data(), meta_text.size());
  m.out.write(meta_text);
  const uint64_t tables_checksum = tables_hash.digest();

  // Copy the spilled index blocks to the end of the file.
  std::rewind(m.index_spill);
  std::vector<uint8_t> chunk(1 << 20);
  for (;;) {
    size_t got = std::fread(chunk.data(), 1, chunk.size(), m.index_spill);
    if (got == 0) break;
    m.out.write(chunk.data(), got);
  }
  if (std::ferror(m.index_spill)) throw_errno("cannot read the temporary document index", m.out.path());
  if (m.out.tell() != index_offset + m.index_size)
    throw Error("the temporary document index was cut short: " + m.out.path());

  uint8_t header[fmt::header_size] = {};
  std::memcpy(header, fmt::magic, sizeof fmt::magic);
  put<uint32_t>(header + h_version, fmt::version);
  put<uint32_t>(header + h_header_size, fmt::header_size);
  put<uint64_t>(header + h_file_size, m.out.tell());
  put<uint64_t>(header + h_docs, m.n_docs);
  put<uint64_t>(header + h_frames, m.frame_table.size() / fmt::frame_record_size);
  put<uint64_t>(header + h_sources, m.sources.size());
  put<uint64_t>(header + h_tables_offset, tables_offset);
  put<uint64_t>(header + h_sources_size, sources.size());
  put<uint64_t>(header + h_meta_size, meta_text.size());
  for (int s = 0; s < n_splits; ++s) put<uint64_t>(header + h_split_docs + 8 * s, m.stats[s].docs);
  put<uint64_t>(header + h_tables_checksum, tables_checksum);
  put<uint64_t>(header + h_index, m.index_table.size() / fmt::index_record_size);
  put<uint64_t>(header + h_checksum, hash(header, h_checksum));
  m.out.pwrite(header, sizeof header, 0);
  m.out.commit();
}

// ---------------------------------------------------------------------------------------------
// Reader

struct Dataset::ZstdDctx {
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  ~ZstdDctx() { ZSTD_freeDCtx(ctx); }
};

Dataset::~Dataset() = default;

void Dataset::corrupt(const std::string& what, uint64_t at) const {
  throw Error("corrupt dataset: " + what + ": " + path_ + " (at byte " + std::to_string(at) + ")");
}

Dataset::Dataset(const std::string& path) : path_(path), file_(path), dctx_(std::make_unique<ZstdDctx>()) {
  if (!file_.regular()) throw Error("a dataset must be a regular file: " + path);
  uint64_t size = file_.size();
  uint8_t header[fmt::header_size] = {};
  file_.pread_exact(header, std::min<uint64_t>(size, sizeof header), 0);
  if (size == 0) throw Error("empty file, not a bytes dataset: " + path);
  if (std::memcmp(header, fmt::magic, std::min<uint64_t>(size, sizeof fmt::magic)) != 0)
    throw Error("not a bytes dataset (bad magic): " + path);
  if (size < fmt::header_size)
    throw Error("dataset truncated: " + path + " is " + std::to_string(size) + " bytes, shorter than its header");
  if (get<uint64_t>(header + h_checksum) != hash(header, h_checksum)) corrupt("header checksum mismatch", 0);
  version_ = get<uint32_t>(header + h_version);
  if (version_ != 1 && version_ != fmt::version)
    throw Error("unsupported dataset version " + std::to_string(version_) + " (this build reads versions 1 and " +
                std::to_string(fmt::version) +
                ": read it with the bytes that wrote it, or run bytes-prep again): " + path);
  if (get<uint32_t>(header + h_header_size) != fmt::header_size) corrupt("bad header size", h_header_size);
  file_size_ = get<uint64_t>(header + h_file_size);
  if (size < file_size_)
    throw Error("dataset truncated: " + path + " is " + std::to_string(size) + " bytes, its header says " +
                std::to_string(file_size_));
  if (size > file_size_)
    throw Error("dataset has " + std::to_string(size - file_size_) + " unexpected bytes at its end: " + path);

  n_docs_ = get<uint64_t>(header + h_docs);
  uint64_t n_frames = get<uint64_t>(header + h_frames);
  uint64_t n_sources = get<uint64_t>(header + h_sources);
  uint64_t tables_offset = get<uint64_t>(header + h_tables_offset);
  uint64_t sources_size = get<uint64_t>(header + h_sources_size);
  uint64_t meta_size = get<uint64_t>(header + h_meta_size);
  uint64_t n_blocks = version_ == 1 ? 0 : get<uint64_t>(header + h_index);
  // Every size is checked against the file before use, so a bad field cannot drive an allocation.
  uint64_t frame_bytes = n_frames * fmt::frame_record_size, block_bytes = n_blocks * fmt::index_record_size;
  if (tables_offset < fmt::header_size || tables_offset > file_size_ ||
      n_frames > file_size_ / fmt::frame_record_size || n_blocks > file_size_ / fmt::index_record_size ||
      frame_bytes > file_size_ - tables_offset || block_bytes > file_size_ - tables_offset - frame_bytes ||
      sources_size > file_size_ - tables_offset - frame_bytes - block_bytes ||
      meta_size > file_size_ - tables_offset - frame_bytes - block_bytes - sources_size)
    corrupt("header sizes do not add up", h_docs);
  const uint64_t index_offset = tables_offset + frame_bytes + block_bytes + sources_size + meta_size;
  if (version_ == 1 ? n_docs_ > file_size_ / fmt::v1_doc_record_size ||
                          n_docs_ * fmt::v1_doc_record_size != file_size_ - index_offset
                    : n_docs_ > n_blocks * fmt::index_block_docs || n_blocks > n_docs_)
    corrupt("header sizes do not add up", h_docs);

  std::vector<uint8_t> tables(index_offset - tables_offset);
  file_.pread_exact(tables.data(), tables.size(), tables_offset);
  if (hash(tables.data(), tables.size()) != get<uint64_t>(header + h_tables_checksum))
    corrupt("frame table, index table, source list or metadata fails its checksum", tables_offset);
  const uint64_t sources_at = frame_bytes + block_bytes, meta_at = sources_at + sources_size;

  try {
    meta_ = nlohmann::json::parse(tables.data() + meta_at, tables.data() + tables.size());
  } catch (const std::exception&) {
    corrupt("metadata is not JSON", tables_offset + meta_at);
  }
  // Frame sizes are bounded by the block size before anything is allocated by them.
  const auto& block = meta_.is_object() && meta_.contains("block_size") ? meta_["block_size"] : nlohmann::json();
  if (!block.is_number_unsigned() || block.get<uint64_t>() < 4096 || block.get<uint64_t>() > (64u << 20))
    corrupt("metadata has no block_size between 4 KiB and 64 MiB", tables_offset + meta_at);
  const uint64_t block_size = block.get<uint64_t>();

  uint64_t expect_offset = fmt::header_size;
  uint64_t stream_end[n_splits] = {};
  for (uint64_t i = 0; i < n_frames; ++i) {
    const uint8_t* r = tables.data() + i * fmt::frame_record_size;
    Frame f{get<uint64_t>(r), get<uint64_t>(r + 8), get<uint64_t>(r + 24), get<uint32_t>(r + 16),
            get<uint32_t>(r + 20), Split(r[32])};
    if (r[32] >= n_splits || f.file_offset != expect_offset || f.stream_offset != stream_end[r[32]] ||
        f.raw_size == 0 || f.compressed_size == 0 || f.compressed_size > tables_offset - f.file_offset ||
        f.compressed_size > ZSTD_compressBound(f.raw_size))
      corrupt("frame table entry " + std::to_string(i) + " is inconsistent", tables_offset + i * fmt::frame_record_size);
    if (f.raw_size > block_size)
      corrupt("frame table entry " + std::to_string(i) + " claims " + std::to_string(f.raw_size) +
                  " bytes, more than the block size " + std::to_string(block_size),
              tables_offset + i * fmt::frame_record_size);
    expect_offset += f.compressed_size;
    stream_end[r[32]] += f.raw_size;
    auto& st = stats_[r[32]];
    st.frames++;
    st.bytes += f.raw_size;
    st.compressed += f.compressed_size;
    split_frames_[r[32]].push_back(frames_.size());
    frames_.push_back(f);
  }
  if (expect_offset != tables_offset) corrupt("frames do not fill the data region", expect_offset);

  const uint8_t* p = tables.data() + sources_at;
  const uint8_t* end = p + sources_size;
  for (uint64_t i = 0; i < n_sources; ++i) {
    if (end - p < 4) corrupt("source list is cut short", tables_offset + sources_at);
    uint32_t len = get<uint32_t>(p);
    p += 4;
    if (uint64_t(end - p) < len) corrupt("source list is cut short", tables_offset + sources_at);
    sources_.emplace_back(reinterpret_cast<const char*>(p), len);
    p += len;
  }
  if (p != end) corrupt("source list has trailing bytes", tables_offset + sources_at);

  // The index table: blocks tile the index region, each holding 1 to index_block_docs documents
  // and a raw size those documents can have (so decoding one allocates at most a MiB or so).
  uint64_t block_offset = index_offset;
  for (uint64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* r = tables.data() + frame_bytes + b * fmt::index_record_size;
    IndexBlock k{get<uint64_t>(r + b_file_offset), get<uint64_t>(r + b_checksum), get<uint64_t>(r + b_first_doc), {},
                 get<uint32_t>(r + b_compressed), get<uint32_t>(r + b_raw)};
    for (int s = 0; s < n_splits; ++s) k.stream_offset[s] = get<uint64_t>(r + b_stream_offset + 8 * s);
    uint64_t next_first = b + 1 < n_blocks ? get<uint64_t>(r + fmt::index_record_size + b_first_doc) : n_docs_;
    uint64_t count = next_first - k.first_doc;
    if ((b == 0 && k.first_doc != 0) || next_first <= k.first_doc || count > fmt::index_block_docs ||
        k.file_offset != block_offset || k.compressed_size == 0 || k.compressed_size > file_size_ - block_offset ||
        k.raw_size < count * min_index_bytes_per_doc || k.raw_size > count * max_index_bytes_per_doc)
      corrupt("index table entry " + std::to_string(b) + " is inconsistent",
              tables_offset + frame_bytes + b * fmt::index_record_size);
    block_offset += k.compressed_size;
    index_.push_back(k);
  }
  if (version_ > 1 && block_offset != file_size_) corrupt("index blocks do not fill the index region", block_offset);
  if (version_ == 1)  // blocks of uncompressed records, the stream offsets filled in below
    for (uint64_t first = 0; first < n_docs_; first += fmt::index_block_docs) {
      uint32_t bytes = uint32_t(std::min<uint64_t>(fmt::index_block_docs, n_docs_ - first) * fmt::v1_doc_record_size);
      index_.push_back({index_offset + first * fmt::v1_doc_record_size, 0, first, {}, bytes, bytes});
    }

  // One pass over the index: each block starts where the one before left every split, and the
  // documents fill each split's stream exactly (index_block checks the documents within a block).
  Xxh3 v1_hash;
  uint64_t split_docs[n_splits] = {}, next[n_splits] = {};
  for (size_t b = 0; b < index_.size(); ++b) {
    if (version_ == 1) std::copy(next, next + n_splits, index_[b].stream_offset);
    if (!std::equal(next, next + n_splits, index_[b].stream_offset))
      corrupt("index block " + std::to_string(b) + " does not start where the one before ended",
              tables_offset + frame_bytes + b * fmt::index_record_size);
    for (const Doc& d : index_block(b)) {
      next[int(d.split)] = d.offset + d.length;
      split_docs[int(d.split)]++;
    }
    if (version_ == 1) v1_hash.update(index_raw_.data(), index_raw_.size());
  }
  if (version_ == 1 && v1_hash.digest() != get<uint64_t>(header + h_index))
    corrupt("document index fails its checksum", index_offset);
  for (int s = 0; s < n_splits; ++s) {
    if (next[s] != stream_end[s] || split_docs[s] != get<uint64_t>(header + h_split_docs + 8 * s))
      corrupt("document index does not match the frames", index_offset);
    stats_[s].docs = split_docs[s];
  }
}

uint64_t Dataset::block_end(size_t block) const {
  return block + 1 < index_.size() ? index_[block + 1].first_doc : n_docs_;
}

// Decodes an index block into its documents, checking them against the frames as it goes.
const std::vector<Dataset::Doc>& Dataset::index_block(size_t block) const {
  if (block == cached_block_) return block_docs_;
  cached_block_ = SIZE_MAX;
  const IndexBlock& k = index_[block];
  const std::string where = "index block " + std::to_string(block);
  const uint64_t count = block_end(block) - k.first_doc;
  index_raw_.resize(k.raw_size);
  if (version_ == 1) {
    file_.pread_exact(index_raw_.data(), index_raw_.size(), k.file_offset);
  } else {
    compressed_.resize(k.compressed_size);
    file_.pread_exact(compressed_.data(), compressed_.size(), k.file_offset);
    if (hash(compressed_.data(), compressed_.size()) != k.checksum)
      corrupt(where + " fails its checksum", k.file_offset);
    if (ZSTD_getFrameContentSize(compressed_.data(), compressed_.size()) != k.raw_size ||
        ZSTD_findFrameCompressedSize(compressed_.data(), compressed_.size()) != k.compressed_size)
      corrupt(where + " has a bad zstd frame header", k.file_offset);
    size_t n =
        ZSTD_decompressDCtx(dctx_->ctx, index_raw_.data(), index_raw_.size(), compressed_.data(), compressed_.size());
    if (ZSTD_isError(n) || n != k.raw_size)
      corrupt(where + " does not decompress (" + (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size") + ")",
              k.file_offset);
  }
  const uint8_t* raw = index_raw_.data();
  bool ok = true;
  block_docs_.resize(count);
  if (version_ == 1) {
    for (uint64_t i = 0; i < count; ++i) {
      const uint8_t* r = raw + i * fmt::v1_doc_record_size;
      block_docs_[i] = {Split(r[20]), get<uint32_t>(r + 16), get<uint64_t>(r), get<uint64_t>(r + 8)};
    }
  } else {
    // Columns: a split byte for each document, then each length, then each source as a zigzag
    // delta from the previous document's (0 before the first), as varints.
    const uint8_t *p = raw + count, *end = raw + k.raw_size;
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
    ok = ok && p == end;
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
  compressed_.resize(f.compressed_size);
  file_.pread_exact(compressed_.data(), compressed_.size(), f.file_offset);
  if (hash(compressed_.data(), compressed_.size()) != f.checksum)
    corrupt("frame " + std::to_string(frame) + " fails its checksum", f.file_offset);
  if (ZSTD_getFrameContentSize(compressed_.data(), compressed_.size()) != f.raw_size ||
      ZSTD_findFrameCompressedSize(compressed_.data(), compressed_.size()) != f.compressed_size)
    corrupt("frame " + std::to_string(frame) + " has a bad zstd frame header", f.file_offset);
  cached.resize(f.raw_size);
  size_t n = ZSTD_decompressDCtx(dctx_->ctx, cached.data(), cached.size(), compressed_.data(), compressed_.size());
  if (ZSTD_isError(n) || n != f.raw_size)
    corrupt("frame " + std::to_string(frame) + " does not decompress (" +
                (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size") + ")",
            f.file_offset);
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
