#include "bytes/formats/dataset.hpp"

#include <zstd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include "bytes/base/error.hpp"
#include "bytes/formats/dataset_layout.hpp"
#include "bytes_version.hpp"

namespace bytes {

using namespace dataset_layout;

// The writer: the caller's thread cuts blocks, worker threads compress them, and the caller's
// thread writes finished frames in submission order so the file is the same for any thread count.

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

  // What follows the frames (bytes-dataset(5)): the frame table, the index table, the source
  // list and the metadata, then the index blocks. Returns where they went, for the header.
  struct Tables {
    uint64_t offset, sources_size, meta_size, checksum, index_offset;
  };
  Tables write_tables() {
    const uint64_t tables_offset = out.tell();
    std::vector<uint8_t> source_list;
    for (const auto& name : sources) {
      uint8_t len[4];
      put<uint32_t>(len, uint32_t(name.size()));
      source_list.insert(source_list.end(), len, len + 4);
      source_list.insert(source_list.end(), name.begin(), name.end());
    }
    nlohmann::json meta = opt.meta;
    meta["created_by"] = std::string("bytes ") + BYTES_VERSION;
    meta["zstd_level"] = opt.level;
    meta["block_size"] = opt.block_size;
    std::string meta_text = meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

    // The index blocks follow the tables: their records get their file offsets now.
    uint64_t index_offset =
        tables_offset + frame_table.size() + index_table.size() + source_list.size() + meta_text.size();
    for (size_t at = 0; at < index_table.size(); at += fmt::index_record_size)
      put<uint64_t>(&index_table[at] + b_file_offset, get<uint64_t>(&index_table[at] + b_file_offset) + index_offset);
    Xxh3 tables_hash;
    for (const auto* part : {&frame_table, &index_table, &source_list}) {
      tables_hash.update(part->data(), part->size());
      out.write(part->data(), part->size());
    }
    tables_hash.update(meta_text.data(), meta_text.size());
    out.write(meta_text);
    return {tables_offset, source_list.size(), meta_text.size(), tables_hash.digest(), index_offset};
  }

  // Copies the spilled index blocks to the end of the file.
  void copy_index(uint64_t index_offset) {
    std::rewind(index_spill);
    std::vector<uint8_t> chunk(1 << 20);
    for (;;) {
      size_t got = std::fread(chunk.data(), 1, chunk.size(), index_spill);
      if (got == 0) break;
      out.write(chunk.data(), got);
    }
    if (std::ferror(index_spill)) throw_errno("cannot read the temporary document index", out.path());
    if (out.tell() != index_offset + index_size)
      throw Error("the temporary document index was cut short: " + out.path());
  }

  void write_header(const Tables& t) {
    uint8_t header[fmt::header_size] = {};
    std::memcpy(header, fmt::magic, sizeof fmt::magic);
    put<uint32_t>(header + h_version, fmt::version);
    put<uint32_t>(header + h_header_size, fmt::header_size);
    put<uint64_t>(header + h_file_size, out.tell());
    put<uint64_t>(header + h_docs, n_docs);
    put<uint64_t>(header + h_frames, frame_table.size() / fmt::frame_record_size);
    put<uint64_t>(header + h_sources, sources.size());
    put<uint64_t>(header + h_tables_offset, t.offset);
    put<uint64_t>(header + h_sources_size, t.sources_size);
    put<uint64_t>(header + h_meta_size, t.meta_size);
    for (int s = 0; s < n_splits; ++s) put<uint64_t>(header + h_split_docs + 8 * s, stats[s].docs);
    put<uint64_t>(header + h_tables_checksum, t.checksum);
    put<uint64_t>(header + h_index, index_table.size() / fmt::index_record_size);
    put<uint64_t>(header + h_checksum, hash(header, h_checksum));
    out.pwrite(header, sizeof header, 0);
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
  const Impl::Tables tables = m.write_tables();
  m.copy_index(tables.index_offset);
  m.write_header(tables);
  m.out.commit();
}

}  // namespace bytes
