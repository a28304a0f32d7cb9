// Any bytes as a dataset file: refused with bytes::Error or read consistently, never a crash.
// Checksums stop almost every mutation early; dataset-sealed.cpp gets past them, and this target
// checks that its re-sealer keeps up with the format.
#include "dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static MemoryFile file;
  if (read_everything(file.hold(data, size))) {
    // A file the reader accepts is sealed already: resealing must know its version and change
    // nothing (else reseal has fallen behind the format, and dataset-sealed tests little).
    std::string copy(reinterpret_cast<const char*>(data), size);
    FUZZ_CHECK(reseal(copy) && copy == std::string_view(reinterpret_cast<const char*>(data), size));
  }
  return 0;
}
