// A mutated dataset file with its checksums recomputed (reseal), so that the structural checks
// behind them — header sizes, frame table, sources, index against frames, zstd frames — meet
// damaged input.
#include "dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static MemoryFile file;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  reseal(bytes);
  read_everything(file.hold(bytes.data(), bytes.size()));
  return 0;
}
