#include "bytes/base/io.hpp"

#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "bytes/base/interrupt.hpp"
#include "bytes/base/error.hpp"

namespace bytes {

void throw_errno(const std::string& what, const std::string& path) {
  throw Error(what + ": " + path + ": " + std::strerror(errno));
}

InputFile::InputFile(const std::string& path) : name_(path == "-" ? "stdin" : path) {
  if (path == "-") {
    fd_ = STDIN_FILENO;
  } else {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw_errno("cannot open", path);
    owned_ = true;
  }
  struct stat st {};
  if (fstat(fd_, &st) != 0) throw_errno("cannot stat", name_);
  if (S_ISDIR(st.st_mode)) {
    if (owned_) ::close(fd_);
    throw Error("is a directory: " + name_);
  }
  regular_ = S_ISREG(st.st_mode);
  if (regular_) size_ = uint64_t(st.st_size);
}

InputFile::~InputFile() {
  if (owned_) ::close(fd_);
}

size_t InputFile::read(void* buf, size_t n) {
  for (;;) {
    ssize_t got = ::read(fd_, buf, n);
    if (got >= 0) return size_t(got);
    if (errno == EINTR) {
      check_interrupt();
      continue;
    }
    throw_errno("read error", name_);
  }
}

void InputFile::pread_exact(void* buf, size_t n, uint64_t offset) const {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t got = ::pread(fd_, p, n, off_t(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw_errno("read error", name_);
    }
    if (got == 0) throw Error("unexpected end of file: " + name_ + " (at offset " + std::to_string(offset) + ")");
    p += got;
    n -= size_t(got);
    offset += uint64_t(got);
  }
}

MappedFile::MappedFile(const InputFile& file, Use use) : size_(size_t(file.size())) {
  if (!file.regular()) throw Error("cannot map a file that is not regular: " + file.name());
  if (size_ == 0) return;
  void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | (use == Use::resident ? MAP_POPULATE : 0), file.fd(), 0);
  if (p == MAP_FAILED) throw_errno("cannot map", file.name());
  madvise(p, size_, use == Use::resident ? MADV_WILLNEED : MADV_SEQUENTIAL);
  data_ = static_cast<const uint8_t*>(p);
}

MappedFile::~MappedFile() {
  if (data_) munmap(const_cast<uint8_t*>(data_), size_);
}

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  if (path.empty() || path == "-") throw UsageError("output must be a file name, not stdout");
  std::filesystem::path target(path);
  if (std::filesystem::is_directory(target)) throw Error("output is a directory: " + path);
  // A device or a pipe (-o /dev/null, a named pipe) is written in place: renaming a file over it
  // would replace it (as root, /dev/null itself).
  if (struct stat st; ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) throw_errno("cannot open output", path);
    return;
  }
  std::string dir = target.parent_path().string();
  if (dir.empty()) dir = ".";
  temp_ = dir + "/." + target.filename().string() + ".tmp.XXXXXX";
  fd_ = mkostemp(temp_.data(), O_CLOEXEC);
  if (fd_ < 0) throw_errno("cannot create output", path);
  // mkostemp makes 0600 files; outputs get the usual umask-governed mode.
  mode_t mask = umask(0);
  umask(mask);
  fchmod(fd_, 0666 & ~mask);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    if (!temp_.empty()) ::unlink(temp_.c_str());
  }
}

void AtomicFile::write(const void* data, size_t n) {
  pwrite(data, n, offset_);
  offset_ += n;
}

void AtomicFile::pwrite(const void* data, size_t n, uint64_t offset) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t put = ::pwrite(fd_, p, n, off_t(offset));
    // A pipe cannot seek: in-order writes go through write(2).
    if (put < 0 && errno == ESPIPE && temp_.empty() && offset == offset_) put = ::write(fd_, p, n);
    if (put < 0) {
      if (errno == EINTR) continue;
      throw_errno("write error", path_);
    }
    p += put;
    n -= size_t(put);
    offset += uint64_t(put);
  }
}

void AtomicFile::commit(bool durable) {
  if (temp_.empty()) {  // written in place
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) throw_errno("write error", path_);
    return;
  }
  if (durable && fsync(fd_) != 0) throw_errno("cannot sync", path_);
  if (::close(fd_) != 0) {
    fd_ = -1;
    ::unlink(temp_.c_str());
    throw_errno("write error", path_);
  }
  fd_ = -1;
  if (std::rename(temp_.c_str(), path_.c_str()) != 0) {
    int saved = errno;
    ::unlink(temp_.c_str());
    errno = saved;
    throw_errno("cannot rename output into place", path_);
  }
  if (durable) {
    std::string dir = std::filesystem::path(path_).parent_path().string();
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      fsync(dfd);
      ::close(dfd);
    }
  }
}

std::string read_all(const std::string& path) {
  InputFile in(path);
  std::string data;
  if (in.regular()) data.reserve(size_t(in.size()));
  char buf[1 << 16];
  for (size_t got; (got = in.read(buf, sizeof buf)) > 0;) data.append(buf, got);
  return data;
}

bool LineReader::next(std::string& line) {
  for (;;) {
    size_t end = buf_.find('\n', pos_);
    if (end != std::string::npos || (eof_ && pos_ < buf_.size())) {
      if (end == std::string::npos) end = buf_.size();
      line.assign(buf_, pos_, end - pos_);
      pos_ = std::min(end + 1, buf_.size());
      ++line_no_;
      return true;
    }
    if (eof_) return false;
    buf_.erase(0, pos_);
    pos_ = 0;
    char chunk[1 << 16];
    size_t got = in_.read(chunk, sizeof chunk);
    if (got == 0) eof_ = true;
    buf_.append(chunk, got);
  }
}

bool blank_line(std::string_view line) { return line.find_first_not_of(" \t\r") == std::string_view::npos; }

nlohmann::ordered_json parse_json_line(std::string_view line) {
  // The parser itself keeps its own stack; only deep values are refused, before they are built.
  auto shallow = [](int depth, nlohmann::ordered_json::parse_event_t, nlohmann::ordered_json&) {
    if (depth > max_json_depth) throw Error("is nested deeper than " + std::to_string(max_json_depth) + " levels");
    return true;
  };
  try {
    return nlohmann::ordered_json::parse(line, shallow);
  } catch (const nlohmann::json::exception&) {
    throw Error("is not JSON");
  }
}

void flush_stdout() {
  if (std::fflush(stdout) != 0) throw Error(std::string("write error: stdout: ") + std::strerror(errno ? errno : EIO));
}

void write_stdout(const void* data, size_t n) {
  if (n == 0) return;
  if (std::fwrite(data, 1, n, stdout) != n) {
    throw Error(std::string("write error: stdout: ") + std::strerror(errno ? errno : EIO));
  }
}

OverlappedWriter::~OverlappedWriter() {
  if (writing_.valid()) writing_.wait();  // an error here has no one left to hear it
}

void OverlappedWriter::submit() {
  finish();
  writing_ = std::async(std::launch::async, [this, piece = next_] { sink_(buffers_[piece]); });
  next_ ^= 1;
  buffers_[next_].clear();
}

void OverlappedWriter::finish() {
  if (writing_.valid()) writing_.get();
}

}  // namespace bytes
