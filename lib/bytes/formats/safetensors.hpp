// safetensors (huggingface/safetensors): an 8-byte little-endian header length, a JSON header
// (each tensor's dtype, shape and data_offsets; string metadata under "__metadata__"), then the
// tensor data. Only F32 tensors, laid out as the caller's Layout says; nothing here knows what a
// model is made of. Every field of an untrusted file is checked before it sizes anything.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bytes/base/io.hpp"
#include "bytes/blocks/stack.hpp"

namespace bytes {

// Writes the metadata (in this order) and the tensors of `block` in layout order, back to back,
// 8-byte aligned after the header (so a reader can map the file), atomically.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, std::string>>& metadata,
                       const std::vector<TensorInfo>& tensors, const float* block);

class SafetensorsFile {
 public:
  // Reads and checks the header (length, JSON, metadata strings); throws Error "not a model file
  // (…)": the files this project reads are models.
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Checks that the file holds exactly these tensors (F32, these shapes, within the file, not
  // overlapping; `kind` names what they make in errors). With map and the tensors in layout order,
  // maps the file (kept in `keep`) and returns the block in it; otherwise reads them into the
  // block allocate() returns (at layout offsets) and returns that.
  const float* load(const std::vector<TensorInfo>& tensors, const std::string& kind, bool map,
                    std::shared_ptr<const MappedFile>& keep, const std::function<float*()>& allocate);

 private:
  struct Header;
  std::string path_;
  InputFile in_;
  std::unique_ptr<Header> header_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace bytes
