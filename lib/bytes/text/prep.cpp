#include "bytes/text/prep.hpp"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "bytes/base/interrupt.hpp"
#include "bytes/base/error.hpp"
#include "bytes/base/io.hpp"

namespace bytes::prep {

namespace fs = std::filesystem;

DocMode parse_doc_mode(const std::string& name) {
  for (auto m : {DocMode::file, DocMode::line, DocMode::paragraph, DocMode::nul})
    if (name == doc_mode_name(m)) return m;
  throw UsageError("unknown document mode '" + name + "' (file, line, paragraph or nul)");
}

const char* doc_mode_name(DocMode mode) {
  switch (mode) {
    case DocMode::file: return "file";
    case DocMode::line: return "line";
    case DocMode::paragraph: return "paragraph";
    case DocMode::nul: return "nul";
    case DocMode::separator: return "separator";
  }
  return "?";
}

std::string doc_delimiter(DocMode mode, const std::string& separator) {
  switch (mode) {
    case DocMode::file: return "";
    case DocMode::line: return "\n";
    case DocMode::paragraph: return "\n\n";
    case DocMode::nul: return std::string(1, '\0');
    case DocMode::separator: return separator;
  }
  return "";
}

// ---------------------------------------------------------------------------------------------

Cutter::Cutter(DocMode mode, std::string separator, Content content, End end)
    : mode_(mode), sep_(mode == DocMode::separator ? std::move(separator) : doc_delimiter(mode, "")),
      content_(std::move(content)), end_(std::move(end)) {
  if (mode == DocMode::separator && sep_.empty()) throw UsageError("the separator must not be empty");
}

void Cutter::emit(const uint8_t* p, size_t n) {
  if (mode_ == DocMode::paragraph) {
    // A paragraph has no leading or trailing newlines: they belong to the blank lines around it.
    if (!doc_nonempty_) {
      while (n > 0 && *p == '\n') ++p, --n;
    }
    if (n == 0) return;
    size_t trailing = 0;
    while (trailing < n && p[n - 1 - trailing] == '\n') ++trailing;
    if (trailing == n) {
      held_newlines_ += n;
      return;
    }
    static const uint8_t newlines[64] = {'\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n',
                                         '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n',
                                         '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n',
                                         '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n',
                                         '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n',
                                         '\n', '\n', '\n', '\n'};
    for (; held_newlines_ > 0; held_newlines_ -= std::min<uint64_t>(held_newlines_, 64))
      content_(newlines, size_t(std::min<uint64_t>(held_newlines_, 64)));
    content_(p, n - trailing);
    held_newlines_ = trailing;
    doc_nonempty_ = true;
    return;
  }
  if (n == 0) return;
  doc_nonempty_ = true;
  content_(p, n);
}

void Cutter::end_doc() {
  if (mode_ != DocMode::paragraph || doc_nonempty_) end_();
  doc_open_ = doc_nonempty_ = false;
  held_newlines_ = 0;
}

void Cutter::feed(const uint8_t* data, size_t n) {
  if (n == 0) return;
  doc_open_ = true;
  if (sep_.empty()) {
    emit(data, n);
    return;
  }
  // A separator may straddle chunks: the held carry (a proper prefix of the separator) is joined
  // with this chunk. Without a carry the chunk is searched where it lies.
  const uint8_t* p = data;
  size_t len = n;
  if (carry_ > 0) {
    buf_.resize(carry_);
    buf_.insert(buf_.end(), data, data + n);
    p = buf_.data();
    len = buf_.size();
    carry_ = 0;
  }
  const size_t s = sep_.size();
  size_t pos = 0;
  while (pos < len) {
    const void* hit = memmem(p + pos, len - pos, sep_.data(), s);
    if (!hit) break;
    size_t at = size_t(static_cast<const uint8_t*>(hit) - p);
    emit(p + pos, at - pos);
    end_doc();
    pos = at + s;
  }
  if (pos < len) doc_open_ = true;
  // Hold back the longest tail that could begin a separator.
  size_t keep = std::min(s - 1, len - pos);
  while (keep > 0 && std::memcmp(p + len - keep, sep_.data(), keep) != 0) --keep;
  emit(p + pos, len - pos - keep);
  if (keep > 0) {
    std::vector<uint8_t> tail(p + len - keep, p + len);
    buf_ = std::move(tail);
    carry_ = keep;
  }
}

void Cutter::finish() {
  if (carry_ > 0) {
    std::vector<uint8_t> tail(buf_.begin(), buf_.begin() + long(carry_));
    carry_ = 0;
    emit(tail.data(), tail.size());
  }
  // File mode: every input is a document, even an empty one. Other modes: a trailing
  // separator ends the last document rather than starting an empty one.
  if (sep_.empty() || doc_open_) end_doc();
}

// ---------------------------------------------------------------------------------------------

bool looks_binary(const uint8_t* data, size_t n) { return std::memchr(data, 0, n) != nullptr; }

Split split_for_hash(uint64_t hash, double val, double test) {
  double u = double(hash >> 11) * 0x1.0p-53;  // uniform in [0, 1)
  if (u < val) return Split::val;
  if (u < val + test) return Split::test;
  return Split::train;
}

std::vector<Input> expand_inputs(const std::vector<Input>& inputs) {
  std::vector<Input> files;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (in.path != "-" && fs::is_directory(in.path, ec)) {
      std::vector<std::string> found;
      auto opts = fs::directory_options::none;
      fs::recursive_directory_iterator it(in.path, opts, ec), end;
      if (ec) throw Error("cannot read folder: " + in.path + ": " + ec.message());
      for (; it != end; it.increment(ec)) {
        if (ec) throw Error("cannot read folder: " + in.path + ": " + ec.message());
        if (it->is_regular_file(ec) && !it->is_symlink(ec)) found.push_back(it->path().string());
      }
      std::sort(found.begin(), found.end());
      for (auto& f : found) files.push_back({std::move(f), in.split});
    } else {
      files.push_back(in);
    }
  }
  return files;
}

namespace {

// Membership of 128-bit content hashes in an open-addressing table: 16 bytes per document.
class HashSet {
 public:
  // True when the hash was not there before.
  bool insert(XXH128_hash_t h) {
    if (h.low64 == 0 && h.high64 == 0) h.low64 = 1;  // (0, 0) marks an empty slot
    if ((count_ + 1) * 10 > slots_.size() * 7) grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = size_t(h.low64) & mask;; i = (i + 1) & mask) {
      auto& s = slots_[i];
      if (s.low64 == 0 && s.high64 == 0) {
        s = h;
        ++count_;
        return true;
      }
      if (s.low64 == h.low64 && s.high64 == h.high64) return false;
    }
  }

 private:
  void grow() {
    std::vector<XXH128_hash_t> old(std::max<size_t>(1024, slots_.size() * 2), XXH128_hash_t{0, 0});
    old.swap(slots_);
    count_ = 0;
    for (auto& s : old)
      if (s.low64 || s.high64) insert(s);
  }
  std::vector<XXH128_hash_t> slots_;
  size_t count_ = 0;
};

// Collects one document (in memory, or in a temporary file past the memory limit) and its hash,
// then hands it to the writer once its split and novelty are known.
class Pipeline {
 public:
  Pipeline(DatasetWriter& writer, const Options& opt, Stats& stats)
      : writer_(writer), opt_(opt), stats_(stats), state_(XXH3_createState()) {
    XXH3_128bits_reset(state_);
  }
  ~Pipeline() {
    XXH3_freeState(state_);
    if (spill_) std::fclose(spill_);
  }

  void content(const uint8_t* p, size_t n) {
    XXH3_128bits_update(state_, p, n);
    length_ += n;
    if (!spill_ && mem_.size() + n > opt_.memory_per_doc) {
      spill_ = std::tmpfile();
      if (!spill_) throw_errno("cannot create a temporary file for a long document", "tmpfile");
      put(mem_.data(), mem_.size());
      mem_.clear();
    }
    if (spill_) put(p, n);
    else mem_.insert(mem_.end(), p, p + n);
  }

  // Ends the document; its bytes come from memory or the spill file.
  void end(std::optional<Split> split, uint32_t source) {
    auto h = XXH3_128bits_digest(state_);
    if (accept(h, split, source)) {
      if (spill_) {
        std::rewind(spill_);
        std::vector<uint8_t> chunk(1 << 20);
        for (size_t got; (got = std::fread(chunk.data(), 1, chunk.size(), spill_)) > 0;) writer_.append(chunk.data(), got);
        if (std::ferror(spill_)) throw_errno("cannot read back a long document", "tmpfile");
      } else {
        writer_.append(mem_.data(), mem_.size());
      }
      writer_.end_doc();
    }
    reset();
  }

  // A regular file as one document. It is mapped rather than read: hashing first (the split and
  // novelty depend on every byte) and copying after then cost no extra pass through read(2).
  void whole_file(InputFile& in, std::optional<Split> split, uint32_t source,
                  const std::function<void(uint64_t)>& read_bytes) {
    MappedFile map(in);
    const uint8_t* p = map.data();
    const size_t n = map.size();
    const size_t step = 4 << 20;
    for (size_t off = 0; off < n; off += step) {
      XXH3_128bits_update(state_, p + off, std::min(step, n - off));
      check_interrupt();
    }
    length_ = n;
    if (accept(XXH3_128bits_digest(state_), split, source)) {
      for (size_t off = 0; off < n; off += step) {
        size_t take = std::min(step, n - off);
        writer_.append(p + off, take);
        read_bytes(take);
        check_interrupt();
      }
      writer_.end_doc();
    } else {
      read_bytes(n);
    }
    reset();
  }

 private:
  bool accept(XXH128_hash_t h, std::optional<Split> split, uint32_t source) {
    if (opt_.dedup && !seen_.insert(h)) {
      stats_.duplicates++;
      stats_.duplicate_bytes += length_;
      return false;
    }
    writer_.begin_doc(split ? *split : split_for_hash(h.low64, opt_.val, opt_.test), source);
    return true;
  }
  void put(const uint8_t* p, size_t n) {
    if (n && std::fwrite(p, 1, n, spill_) != n) throw_errno("cannot spill a long document", "tmpfile");
  }
  void reset() {
    XXH3_128bits_reset(state_);
    mem_.clear();
    length_ = 0;
    if (spill_) {
      std::fclose(spill_);
      spill_ = nullptr;
    }
  }

  DatasetWriter& writer_;
  const Options& opt_;
  Stats& stats_;
  XXH3_state_t* state_;
  HashSet seen_;
  std::vector<uint8_t> mem_;
  std::FILE* spill_ = nullptr;
  uint64_t length_ = 0;
};

}  // namespace

Stats prepare(const std::vector<Input>& inputs, const std::string& output, const Options& opt,
              const ProgressFn& progress) {
  if (opt.val < 0 || opt.test < 0 || opt.val + opt.test > 1)
    throw UsageError("--val and --test must be fractions that add up to at most 1");
  auto start = std::chrono::steady_clock::now();
  std::vector<Input> files = expand_inputs(inputs);
  uint64_t total = 0;
  for (const auto& f : files) {
    std::error_code ec;
    if (f.path != "-") total += fs::file_size(f.path, ec);
  }

  nlohmann::json meta = {{"doc_mode", doc_mode_name(opt.mode)},
                         {"delimiter", nlohmann::json::array()},
                         {"val_fraction", opt.val},
                         {"test_fraction", opt.test},
                         {"dedup", opt.dedup}};
  for (unsigned char c : doc_delimiter(opt.mode, opt.separator)) meta["delimiter"].push_back(int(c));
  DatasetWriter writer(output, {opt.level, opt.block_size, opt.threads, meta});
  Stats stats;
  Pipeline pipeline(writer, opt, stats);
  uint64_t done = 0;
  auto read_bytes = [&](uint64_t n) {
    done += n;
    stats.input_bytes += n;
    if (progress) progress(done, total);
  };
  const bool check_binary = opt.skip_binary && opt.mode != DocMode::nul;
  std::vector<uint8_t> chunk(1 << 20);

  for (const auto& f : files) {
    InputFile in(f.path);
    // Binary files are recognised by their first 64 KiB; stdin is always taken as it is.
    if (check_binary && f.path != "-") {
      size_t probe = size_t(std::min<uint64_t>(in.size(), 64 << 10));
      in.pread_exact(chunk.data(), probe, 0);
      if (looks_binary(chunk.data(), probe)) {
        spdlog::debug("skipping binary file {}", f.path);
        stats.skipped_binary++;
        read_bytes(in.size());
        continue;
      }
    }
    uint32_t source = writer.add_source(f.path);
    stats.files++;
    if (opt.mode == DocMode::file && in.regular()) {
      pipeline.whole_file(in, f.split, source, read_bytes);
      continue;
    }
    Cutter cutter(
        opt.mode, opt.separator, [&](const uint8_t* p, size_t n) { pipeline.content(p, n); },
        [&] { pipeline.end(f.split, source); });
    for (size_t got; (got = in.read(chunk.data(), chunk.size())) > 0;) {
      cutter.feed(chunk.data(), got);
      read_bytes(got);
      check_interrupt();
    }
    cutter.finish();
  }
  writer.finish();
  for (int s = 0; s < n_splits; ++s) stats.split[s] = writer.stats(Split(s));
  stats.file_size = writer.file_size();
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

nlohmann::json split_json(const SplitStats& st) {
  return {{"docs", st.docs}, {"bytes", st.bytes}, {"compressed", st.compressed}, {"frames", st.frames},
          {"zstd_bpb", std::round(st.zstd_bpb() * 1e4) / 1e4}};
}

std::string split_table(const SplitStats (&splits)[n_splits]) {
  std::string out = "split         docs          bytes     compressed  zstd bpb\n";
  SplitStats all;
  for (int s = 0; s <= n_splits; ++s) {
    const SplitStats& st = s < n_splits ? splits[s] : all;
    if (s < n_splits) {
      all.docs += st.docs, all.bytes += st.bytes, all.compressed += st.compressed, all.frames += st.frames;
    }
    char bpb[16] = "-", line[160];
    if (st.bytes) std::snprintf(bpb, sizeof bpb, "%.4f", st.zstd_bpb());
    std::snprintf(line, sizeof line, "%-6s %11lu %14lu %14lu  %s\n", s < n_splits ? split_name(Split(s)) : "all",
                  (unsigned long)st.docs, (unsigned long)st.bytes, (unsigned long)st.compressed, bpb);
    out += line;
  }
  return out;
}

nlohmann::json stats_json(const Stats& stats, const std::string& output) {
  nlohmann::json j = {{"output", output},
                      {"files", stats.files},
                      {"input_bytes", stats.input_bytes},
                      {"skipped_binary", stats.skipped_binary},
                      {"duplicates", stats.duplicates},
                      {"duplicate_bytes", stats.duplicate_bytes},
                      {"file_size", stats.file_size},
                      {"seconds", std::round(stats.seconds * 1e4) / 1e4}};
  for (int s = 0; s < n_splits; ++s) j["splits"][split_name(Split(s))] = split_json(stats.split[s]);
  return j;
}

}  // namespace bytes::prep
