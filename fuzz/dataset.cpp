// Any bytes as a dataset file: refused with bytes::Error or read consistently, never a crash.
// Checksums stop almost every mutation early; dataset-sealed.cpp gets past them.
#include "dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static MemoryFile file;
  read_everything(file.hold(data, size));
  return 0;
}
