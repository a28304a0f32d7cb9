#include "bytes/formats/safetensors.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "bytes/base/error.hpp"

namespace bytes {

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, std::string>>& metadata,
                       const std::vector<TensorInfo>& tensors, const float* block) {
  nlohmann::ordered_json header;
  header["__metadata__"] = nlohmann::ordered_json::object();
  for (const auto& [key, value] : metadata) header["__metadata__"][key] = value;
  size_t offset = 0;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.size * 4}}};
    offset += t.size * 4;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // tensors start 8-byte aligned
  AtomicFile out(path);
  uint64_t n = text.size();
  out.write(&n, 8);
  out.write(text);
  for (const auto& t : tensors) out.write(block + t.offset, t.size * 4);
  out.commit(true);
}

// A header this long holds some 100 000 tensor entries, ten times the most a config within
// bounds has (five stacks of 256 blocks); a longer one is damage or an attack, and a parsed
// JSON header takes many times its size in memory.
constexpr uint64_t max_header = 16 << 20;

struct SafetensorsFile::Header {
  nlohmann::json json;
  uint64_t data_start;
};

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path), in_(path), header_(new Header) {
  if (!in_.regular()) throw Error("a model must be a regular file: " + path);
  uint64_t size = in_.size(), n = 0;
  if (size < 8) throw Error("not a model file (too short for a safetensors header): " + path);
  in_.pread_exact(&n, 8, 0);
  if (n > size - 8 || n > max_header) throw Error("not a model file (bad safetensors header length): " + path);
  std::string text(n, '\0');
  in_.pread_exact(text.data(), n, 8);
  nlohmann::json& j = header_->json;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception&) {
    throw Error("not a model file (safetensors header is not JSON): " + path);
  }
  if (!j.is_object()) throw Error("not a model file (safetensors header is not an object): " + path);
  header_->data_start = 8 + n;
  const auto meta = j.value("__metadata__", nlohmann::json::object());
  // safetensors' __metadata__ maps strings to strings.
  if (!meta.is_object() || !std::all_of(meta.begin(), meta.end(), [](const auto& v) { return v.is_string(); }))
    throw Error("not a model file (safetensors __metadata__ must map names to strings): " + path);
  for (const auto& [key, value] : meta.items()) metadata_[key] = value.get<std::string>();
}

SafetensorsFile::~SafetensorsFile() = default;

const float* SafetensorsFile::load(const std::vector<TensorInfo>& tensors, const std::string& kind, bool map,
                                   std::shared_ptr<const MappedFile>& keep, const std::function<float*()>& allocate) {
  const nlohmann::json& j = header_->json;
  const uint64_t data_start = header_->data_start, data_size = in_.size() - data_start;
  std::vector<std::pair<uint64_t, uint64_t>> spans;  // each tensor's data_offsets
  // Mappable when the tensors lie in the layout's order, back to back, floats aligned: the
  // layout write_safetensors writes.
  bool in_order = data_start % alignof(float) == 0;
  uint64_t first = 0;
  for (const auto& t : tensors) {
    const auto it = j.find(t.name);
    if (it == j.end()) throw Error("model lacks tensor " + t.name + ": " + path_);
    const auto& e = *it;
    auto field = [&](const char* key) { return e.is_object() && e.contains(key) ? e[key] : nlohmann::json(); };
    if (const auto dtype = field("dtype"); dtype != "F32")
      throw Error("tensor " + t.name + " is " + (dtype.is_string() ? dtype.get<std::string>() : "?") + ", expected F32: " + path_);
    if (field("shape") != nlohmann::json(t.shape)) throw Error("tensor " + t.name + " has the wrong shape: " + path_);
    const auto offs = field("data_offsets");
    const bool pair = offs.is_array() && offs.size() == 2 && offs[0].is_number_unsigned() && offs[1].is_number_unsigned();
    const uint64_t begin = pair ? offs[0].get<uint64_t>() : 0, end = pair ? offs[1].get<uint64_t>() : 0;
    if (!pair || end < begin || end - begin != t.size * 4 || end > data_size)
      throw Error("tensor " + t.name + " has bad data offsets (file truncated?): " + path_);
    if (spans.empty()) first = begin;
    in_order = in_order && begin == first + t.offset * 4;
    spans.emplace_back(begin, end);
  }
  if (j.size() != spans.size() + (j.contains("__metadata__") ? 1 : 0))
    throw Error("model has tensors the " + kind + " architecture does not: " + path_);
  // Tensors that share bytes would let a small file claim any number of parameters (and have the
  // copy below allocate them); apart, they hold at most the file's size.
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].first < spans[i - 1].second) throw Error("model has tensors that overlap (corrupt?): " + path_);
  if (map && in_order) {
    keep = std::make_shared<const MappedFile>(in_, MappedFile::Use::resident);
    return reinterpret_cast<const float*>(keep->data() + data_start + first);
  }
  float* block = allocate();
  for (const auto& t : tensors)
    in_.pread_exact(block + t.offset, t.size * 4, data_start + j[t.name]["data_offsets"][0].get<uint64_t>());
  return block;
}

}  // namespace bytes
