#include "bytes/dataset.hpp"

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

#include "bytes/error.hpp"
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

// Header field offsets (bytes-dataset(5)).
enum : size_t {
  h_version = 8, h_header_size = 12, h_file_size = 16, h_docs = 24, h_frames = 32, h_sources = 40,
  h_tables_offset = 48, h_sources_size = 56, h_meta_size = 64, h_split_docs = 72,
  h_tables_checksum = 96, h_index_checksum = 104, h_checksum = 120,
};

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
  std::FILE* doc_index = nullptr;  // spilled to a temporary file: memory stays flat
  XXH3_state_t* index_hash = nullptr;
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
    doc_index = std::tmpfile();
    if (!doc_index) throw_errno("cannot create a temporary file for the document index", path);
    index_hash = XXH3_createState();
    XXH3_64bits_reset(index_hash);
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
    if (doc_index) std::fclose(doc_index);
    XXH3_freeState(index_hash);
  }

  void work() {
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, opt.level);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
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
  uint8_t rec[fmt::doc_record_size] = {};
  uint64_t length = m.stream_size[int(m.doc_split)] - m.doc_start;
  put<uint64_t>(rec + 0, m.doc_start);
  put<uint64_t>(rec + 8, length);
  put<uint32_t>(rec + 16, m.doc_source);
  rec[20] = uint8_t(m.doc_split);
  if (std::fwrite(rec, 1, sizeof rec, m.doc_index) != sizeof rec)
    throw_errno("cannot write the temporary document index", m.out.path());
  XXH3_64bits_update(m.index_hash, rec, sizeof rec);
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

  XXH3_state_t* tables_hash = XXH3_createState();
  XXH3_64bits_reset(tables_hash);
  for (const auto* part : {&m.frame_table, &sources}) {
    XXH3_64bits_update(tables_hash, part->data(), part->size());
    m.out.write(part->data(), part->size());
  }
  XXH3_64bits_update(tables_hash, meta_text.data(), meta_text.size());
  m.out.write(meta_text);
  uint64_t tables_checksum = XXH3_64bits_digest(tables_hash);
  XXH3_freeState(tables_hash);

  // Copy the spilled document index to the end of the file.
  std::rewind(m.doc_index);
  std::vector<uint8_t> chunk(1 << 20);
  for (;;) {
    size_t got = std::fread(chunk.data(), 1, chunk.size(), m.doc_index);
    if (got == 0) break;
    m.out.write(chunk.data(), got);
  }
  if (std::ferror(m.doc_index)) throw_errno("cannot read the temporary document index", m.out.path());

  uint8_t header[fmt::header_size] = {};
  std::memcpy(header, fmt::magic, sizeof fmt::magic);
  put<uint32_t>(header + h_version, fmt::version);
  put<uint32_t>(header + h_header_size, fmt::header_size);
  put<uint64_t>(header + h_file_size, m.out.tell());
  uint64_t docs = 0;
  for (auto& st : m.stats) docs += st.docs;
  put<uint64_t>(header + h_docs, docs);
  put<uint64_t>(header + h_frames, m.frame_table.size() / fmt::frame_record_size);
  put<uint64_t>(header + h_sources, m.sources.size());
  put<uint64_t>(header + h_tables_offset, tables_offset);
  put<uint64_t>(header + h_sources_size, sources.size());
  put<uint64_t>(header + h_meta_size, meta_text.size());
  for (int s = 0; s < n_splits; ++s) put<uint64_t>(header + h_split_docs + 8 * s, m.stats[s].docs);
  put<uint64_t>(header + h_tables_checksum, tables_checksum);
  put<uint64_t>(header + h_index_checksum, XXH3_64bits_digest(m.index_hash));
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
  uint32_t version = get<uint32_t>(header + h_version);
  if (version != fmt::version)
    throw Error("unsupported dataset version " + std::to_string(version) + " (this build reads version " +
                std::to_string(fmt::version) + "): " + path);
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
  // Every size is checked against the file before use, so a bad field cannot drive an allocation.
  uint64_t frame_bytes = n_frames * fmt::frame_record_size;
  if (n_frames > file_size_ / fmt::frame_record_size || n_docs_ > file_size_ / fmt::doc_record_size ||
      tables_offset < fmt::header_size || tables_offset > file_size_ ||
      frame_bytes > file_size_ - tables_offset || sources_size > file_size_ - tables_offset - frame_bytes ||
      meta_size > file_size_ - tables_offset - frame_bytes - sources_size ||
      n_docs_ * fmt::doc_record_size != file_size_ - tables_offset - frame_bytes - sources_size - meta_size)
    corrupt("header sizes do not add up", h_docs);
  index_offset_ = tables_offset + frame_bytes + sources_size + meta_size;

  std::vector<uint8_t> tables(frame_bytes + sources_size + meta_size);
  file_.pread_exact(tables.data(), tables.size(), tables_offset);
  if (hash(tables.data(), tables.size()) != get<uint64_t>(header + h_tables_checksum))
    corrupt("frame table, source list or metadata fails its checksum", tables_offset);

  try {
    meta_ = nlohmann::json::parse(tables.data() + frame_bytes + sources_size, tables.data() + tables.size());
  } catch (const std::exception&) {
    corrupt("metadata is not JSON", tables_offset + frame_bytes + sources_size);
  }
  // Frame sizes are bounded by the block size before anything is allocated by them.
  const auto& block = meta_.is_object() && meta_.contains("block_size") ? meta_["block_size"] : nlohmann::json();
  if (!block.is_number_unsigned() || block.get<uint64_t>() < 4096 || block.get<uint64_t>() > (64u << 20))
    corrupt("metadata has no block_size between 4 KiB and 64 MiB", tables_offset + frame_bytes + sources_size);
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

  const uint8_t* p = tables.data() + frame_bytes;
  const uint8_t* end = p + sources_size;
  for (uint64_t i = 0; i < n_sources; ++i) {
    if (end - p < 4) corrupt("source list is cut short", tables_offset + frame_bytes);
    uint32_t len = get<uint32_t>(p);
    p += 4;
    if (uint64_t(end - p) < len) corrupt("source list is cut short", tables_offset + frame_bytes);
    sources_.emplace_back(reinterpret_cast<const char*>(p), len);
    p += len;
  }
  if (p != end) corrupt("source list has trailing bytes", tables_offset + frame_bytes);
  // The index is checked in one streaming pass (checksum and offsets) without keeping it.
  XXH3_state_t* index_hash = XXH3_createState();
  XXH3_64bits_reset(index_hash);
  uint64_t split_docs[n_splits] = {}, next[n_splits] = {};
  std::vector<uint8_t> chunk;
  const uint64_t per_chunk = 1 << 16;
  bool consistent = true;
  for (uint64_t first = 0; first < n_docs_; first += per_chunk) {
    uint64_t count = std::min(per_chunk, n_docs_ - first);
    chunk.resize(count * fmt::doc_record_size);
    file_.pread_exact(chunk.data(), chunk.size(), index_offset_ + first * fmt::doc_record_size);
    XXH3_64bits_update(index_hash, chunk.data(), chunk.size());
    for (uint64_t i = 0; i < count; ++i) {
      const uint8_t* r = chunk.data() + i * fmt::doc_record_size;
      uint8_t s = r[20];
      if (s >= n_splits || get<uint64_t>(r) != next[s] || get<uint32_t>(r + 16) >= n_sources) {
        consistent = false;
        continue;
      }
      next[s] += get<uint64_t>(r + 8);
      split_docs[s]++;
    }
  }
  bool hash_ok = XXH3_64bits_digest(index_hash) == get<uint64_t>(header + h_index_checksum);
  XXH3_freeState(index_hash);
  if (!hash_ok) corrupt("document index fails its checksum", index_offset_);
  for (int s = 0; s < n_splits; ++s) {
    if (next[s] != stream_end[s] || split_docs[s] != get<uint64_t>(header + h_split_docs + 8 * s))
      consistent = false;
    stats_[s].docs = split_docs[s];
  }
  if (!consistent) corrupt("document index does not match the frames", index_offset_);
}

Dataset::Doc Dataset::doc(uint64_t index) const {
  if (index >= n_docs_)
    throw Error("no document " + std::to_string(index) + " in " + path_ + " (it has " + std::to_string(n_docs_) + ")");
  uint8_t r[fmt::doc_record_size];
  file_.pread_exact(r, sizeof r, index_offset_ + index * fmt::doc_record_size);
  return Doc{Split(r[20]), get<uint32_t>(r + 16), get<uint64_t>(r), get<uint64_t>(r + 8)};
}

const std::vector<uint8_t>& Dataset::decode(size_t frame) const {
  if (frame == cached_frame_) return cached_;
  const Frame& f = frames_[frame];
  cached_frame_ = SIZE_MAX;
  compressed_.resize(f.compressed_size);
  file_.pread_exact(compressed_.data(), compressed_.size(), f.file_offset);
  if (hash(compressed_.data(), compressed_.size()) != f.checksum)
    corrupt("frame " + std::to_string(frame) + " fails its checksum", f.file_offset);
  if (ZSTD_getFrameContentSize(compressed_.data(), compressed_.size()) != f.raw_size ||
      ZSTD_findFrameCompressedSize(compressed_.data(), compressed_.size()) != f.compressed_size)
    corrupt("frame " + std::to_string(frame) + " has a bad zstd frame header", f.file_offset);
  cached_.resize(f.raw_size);
  size_t n = ZSTD_decompressDCtx(dctx_->ctx, cached_.data(), cached_.size(), compressed_.data(), compressed_.size());
  if (ZSTD_isError(n) || n != f.raw_size)
    corrupt("frame " + std::to_string(frame) + " does not decompress (" +
                (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size") + ")",
            f.file_offset);
  cached_frame_ = frame;
  return cached_;
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
