// Any bytes as a model file (safetensors): refused with bytes::Error or loaded, copied and
// mapped, never a crash, and never holding more parameters than the file has bytes for.
//
// A real model is a JSON header of a few KB before hundreds of KB of floats that the loader only
// checks for finiteness: as inputs, whole files would make mutations land in the floats and the
// corpus weigh gigabytes. So the inputs are headers (and whatever follows them), and each is
// loaded twice: as it is, and padded with zero floats to the end of its furthest tensor.
#include <nlohmann/json.hpp>

#include "bytes/base/error.hpp"
#include "bytes/models/model.hpp"
#include "fuzz.hpp"

namespace {

void load(const std::string& path, uint64_t size) {
  try {
    bytes::read_model_config(path);
  } catch (const bytes::Error&) {
  }
  for (bool map : {false, true}) {
    try {
      const auto model = bytes::load_model(path, map);
      FUZZ_CHECK(uint64_t(model->n_params()) * 4 <= size);
      FUZZ_CHECK(model->weights() != nullptr);
    } catch (const bytes::Error&) {
    }
  }
}

// The file size that holds the header's furthest tensor, if the header says; at most 4 MiB of
// data (the seeds need under 1 MiB, and the target itself must not be what allocates much).
uint64_t data_end(const uint8_t* data, size_t size) {
  uint64_t n = 0, end = 0;
  if (size < 8) return 0;
  std::memcpy(&n, data, 8);
  if (n > size - 8) return 0;
  const auto header = nlohmann::json::parse(data + 8, data + 8 + n, nullptr, false);
  if (!header.is_object()) return 0;
  for (const auto& [name, e] : header.items()) {
    const auto offsets = e.is_object() ? e.value("data_offsets", nlohmann::json()) : nlohmann::json();
    if (offsets.is_array() && offsets.size() == 2 && offsets[1].is_number_unsigned())
      end = std::max(end, offsets[1].get<uint64_t>());
  }
  return 8 + n + std::min<uint64_t>(end, 4 << 20);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static MemoryFile file;
  load(file.hold(data, size), size);
  if (const uint64_t padded = data_end(data, size); padded > size) {
    std::string bytes(reinterpret_cast<const char*>(data), size);
    bytes.resize(padded, '\0');
    load(file.hold(bytes.data(), bytes.size()), padded);
  }
  return 0;
}
