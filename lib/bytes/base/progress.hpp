// A progress bar on stderr: only on a terminal (and not with NO_COLOR or -q), redrawn at most
// ten times a second, with rate and time left.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace bytes {

class Progress {
 public:
  // total 0: unknown, shows amount and rate only. unit "B" formats amounts as bytes.
  Progress(std::string label, uint64_t total, std::string unit = "B", bool enabled = true);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(uint64_t done);
  void set_total(uint64_t total) { total_ = total; }
  void set_note(std::string note) { note_ = std::move(note); }
  void finish();  // erases the bar; called by the destructor too
  bool enabled() const { return enabled_; }

 private:
  void draw();
  std::string label_, unit_, note_;
  uint64_t total_ = 0, done_ = 0;
  bool enabled_ = false, drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// Whether stderr is a terminal, and whether to colour it (a terminal, NO_COLOR unset, TERM not
// "dumb"): the progress bar and the log's colours follow it.
bool stderr_is_tty();
bool colour_enabled();

// "1.5 MB", "320 B": decimal units, as rates are quoted.
std::string human_bytes(double n);
// "1:02:03" or "2:03".
std::string human_duration(double seconds);

}  // namespace bytes
