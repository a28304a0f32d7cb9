// Files the way the programs need them: "-" for stdin/stdout, reads that notice signals,
// and output files that appear whole or not at all.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace bytes {

// A readable file or stdin ("-"). Errors name the file.
class InputFile {
 public:
  explicit InputFile(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Reads up to n bytes; 0 at end of file.
  size_t read(void* buf, size_t n);
  // Reads exactly n bytes at offset; throws if the file ends first.
  void pread_exact(void* buf, size_t n, uint64_t offset) const;
  bool regular() const { return regular_; }
  uint64_t size() const { return size_; }  // 0 unless regular()
  const std::string& name() const { return name_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  bool owned_ = false;
  bool regular_ = false;
  uint64_t size_ = 0;
  std::string name_;
};

// A regular file mapped read-only: for one pass of hashing and one of copying without read(2)
// (sequential), or for weights read again and again (resident: read in now and kept).
class MappedFile {
 public:
  enum class Use { sequential, resident };
  explicit MappedFile(const InputFile& file, Use use = Use::sequential);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Writes to a temporary file beside the target and renames it into place on commit(); if the
// object dies first (error, signal), the temporary is removed and the target is untouched. A
// target that exists and is no regular file (/dev/null, a named pipe) is written in place.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  void pwrite(const void* data, size_t n, uint64_t offset);
  uint64_t tell() const { return offset_; }
  // durable: fsync the file and its directory first (checkpoints want that; datasets can skip it).
  void commit(bool durable = false);
  const std::string& path() const { return path_; }

 private:
  std::string path_, temp_;
  int fd_ = -1;
  uint64_t offset_ = 0;
};

// The whole of a file or stdin ("-").
std::string read_all(const std::string& path);

// Lines of a file or stdin, one at a time and without their newline, read as they arrive (a
// co-process gets an answer per line). A last line without a newline still counts.
class LineReader {
 public:
  explicit LineReader(const std::string& path) : in_(path) {}
  bool next(std::string& line);
  uint64_t line_number() const { return line_no_; }  // of the line next() returned last
  // Whether next() has a whole line without reading: when not, output so far is worth sending.
  bool has_line() const { return buf_.find('\n', pos_) != std::string::npos || (eof_ && pos_ < buf_.size()); }
  const std::string& name() const { return in_.name(); }

 private:
  InputFile in_;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
  uint64_t line_no_ = 0;
};

// A line of JSON-lines input: true when it holds only spaces, tabs and CRs (readers skip or copy it).
bool blank_line(std::string_view line);
// Deepest nesting a JSON-lines record may have. Writing a value back out recurses once per level:
// a line of a million '[' overflowed the stack of bytes-perturb --field.
inline constexpr int max_json_depth = 512;
// A line of JSON-lines input as a JSON value, keys in their order. Throws Error("is not JSON") or
// Error("is nested deeper than …"), for the caller to prefix with where the line is.
nlohmann::ordered_json parse_json_line(std::string_view line);

// Writes all of data to stdout through stdio; throws on a write error (e.g. /dev/full).
void write_stdout(const void* data, size_t n);
inline void write_stdout(std::string_view s) { write_stdout(s.data(), s.size()); }
// Pushes what stdio holds to stdout now (streaming output); throws on a write error.
void flush_stdout();

// Writes on a second thread, so that making the next piece of output overlaps writing the last
// one (two cores: one computes while the other copies into the pipe). One piece in flight; an
// error from the sink is rethrown by the next submit() or by finish().
class OverlappedWriter {
 public:
  explicit OverlappedWriter(std::function<void(std::string_view)> sink) : sink_(std::move(sink)) {}
  ~OverlappedWriter();
  OverlappedWriter(const OverlappedWriter&) = delete;
  OverlappedWriter& operator=(const OverlappedWriter&) = delete;

  std::string& buffer() { return buffers_[next_]; }  // fill this, then submit() it
  void submit();
  void finish();  // waits for the last write

 private:
  std::function<void(std::string_view)> sink_;
  std::string buffers_[2];
  int next_ = 0;
  std::future<void> writing_;
};

// Throws Error("what: path: strerror(errno)").
[[noreturn]] void throw_errno(const std::string& what, const std::string& path);

}  // namespace bytes
