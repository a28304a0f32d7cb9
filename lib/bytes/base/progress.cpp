#include "bytes/base/progress.hpp"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>


namespace bytes {

bool stderr_is_tty() { return isatty(STDERR_FILENO) == 1; }

bool colour_enabled() {
  const char* no_colour = std::getenv("NO_COLOR");
  if (no_colour && *no_colour) return false;
  const char* term = std::getenv("TERM");
  if (term && std::strcmp(term, "dumb") == 0) return false;
  return stderr_is_tty();
}

std::string human_bytes(double n) {
  static const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  int u = 0;
  while (n >= 1000 && u < 5) {
    n /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", n, units[u]);
  return buf;
}

std::string human_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 360000) return "--:--";
  auto s = uint64_t(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lu:%02lu", s / 60, s % 60);
  return buf;
}

Progress::Progress(std::string label, uint64_t total, std::string unit, bool enabled)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total) {
  enabled_ = enabled && colour_enabled() && spdlog::default_logger()->should_log(spdlog::level::info);
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { finish(); }

void Progress::update(uint64_t done) {
  done_ = done;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw();
}

void Progress::draw() {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed > 0 ? double(done_) / elapsed : 0;
  auto amount = [&](double n) {
    if (unit_ == "B") return human_bytes(n);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f %s", n, unit_.c_str());
    return std::string(buf);
  };
  std::string line = "\r" + label_ + " ";
  if (total_ > 0) {
    double frac = std::min(1.0, double(done_) / double(total_));
    const int width = 24;
    int filled = int(frac * width);
    line += "[" + std::string(size_t(filled), '#') + std::string(size_t(width - filled), '.') + "] ";
    char pct[16];
    std::snprintf(pct, sizeof pct, "%3.0f%% ", frac * 100);
    line += pct + amount(double(done_)) + "/" + amount(double(total_));
  } else {
    line += amount(double(done_));
  }
  line += "  " + amount(rate) + "/s";
  if (total_ > 0 && rate > 0 && done_ < total_) line += "  ETA " + human_duration(double(total_ - done_) / rate);
  if (!note_.empty()) line += "  " + note_;
  line += "\x1b[K";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::finish() {
  if (enabled_ && drawn_) {
    std::fputs("\r\x1b[K", stderr);
    std::fflush(stderr);
  }
  drawn_ = false;
}

}  // namespace bytes
