// Any bytes as a run's state.bin (a checkpoint that --resume reads): refused with bytes::Error,
// or read into the model with every counter and moment of the file, never a crash and never an
// allocation that the file's sizes drive.
//
// A state is a small head (magic, version, config, counters) before 12 bytes of floats per
// parameter, closed by a checksum: as inputs, whole files would put mutations in the floats and
// stop at the checksum. So the inputs are heads, each read twice: as it is, and followed by the
// floats a model of its config holds and a checksum recomputed over it all ("sealed"), so the
// checks behind the checksum are reached.
#include <vector>

#include "bytes/base/error.hpp"
#include "bytes/base/hash.hpp"
#include "bytes/models/flat.hpp"
#include "bytes/runs/checkpoint.hpp"
#include "fuzz.hpp"

namespace {

// The model the seeds were made with (fuzz/make-corpus: bytes-train's flat model, d 64 × 1,
// ctx 32); a state of another config is refused before its floats are read.
bytes::Model& model() {
  static bytes::FlatModel m(bytes::Config::make("flat", {{"d_model", "64"}, {"n_layers", "1"}, {"ctx", "32"}}));
  return m;
}

void read(const std::string& path) {
  bytes::TrainState st;
  try {
    bytes::load_state(path, model(), st);
  } catch (const bytes::Error&) {
    return;
  }
  FUZZ_CHECK(st.m.size() == size_t(model().n_params()) && st.v.size() == st.m.size());
  FUZZ_CHECK(st.step >= 0 && st.total_steps >= 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static MemoryFile file;
  read(file.hold(data, size));
  std::vector<uint8_t> sealed(data, data + size);
  sealed.resize(size + 12 * size_t(model().n_params()), 0);
  bytes::Xxh3 sum;
  sum.update(sealed.data(), sealed.size());
  const uint64_t digest = sum.digest();
  const auto* d = reinterpret_cast<const uint8_t*>(&digest);
  sealed.insert(sealed.end(), d, d + 8);
  read(file.hold(sealed.data(), sealed.size()));
  return 0;
}
