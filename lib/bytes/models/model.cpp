#include "bytes/models/model.hpp"

#include <cmath>
#include <cstdio>
#include <random>

#include "bytes/base/error.hpp"
#include "bytes/base/hash.hpp"
#include "bytes/base/io.hpp"
#include "bytes/formats/safetensors.hpp"

namespace bytes {

void Model::allocate_params() {
  params.assign(layout_.size, 0.0f);
  grads.assign(layout_.size, 0.0f);
}

void Model::init(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (const auto& t : layout_.tensors) {
    float* p = params.data() + t.offset;
    if (t.shape.size() == 1) {
      std::fill(p, p + t.size, 1.0f);
      continue;
    }
    for (size_t i = 0; i < t.size; ++i) p[i] = normal(rng) * t.init_scale;
  }
}

Precision Model::set_precision(Precision p) {
  precision_ = p;
  const bool packed = packs_ != nullptr;
  packs_.reset(), packs16_.reset(), bf16_.reset();
  if (p == Precision::bf16) bf16_ = std::make_unique<Bf16Weights>(weights(), size_t(n_params()));
  if (packed) pack_weights();  // of the new copy
  return p == Precision::bf16 && !bf16_native() ? Precision::f32 : p;
}

void Model::pack_weights() {
  packs_ = std::make_unique<PackedWeights>(weights(), size_t(n_params()) * sizeof(float));
  if (bf16_) packs16_ = std::make_unique<PackedWeights>(bf16_->data(), size_t(n_params()) * sizeof(bf16_t));
}

void Model::weights_changed() {
  if (bf16_) bf16_->refresh();
  if (packs_) packs_->changed();
  if (packs16_) packs16_->changed();
}

std::unique_ptr<Model> make_model(const Config& config, bool trainable) {
  return config.architecture().make(config, trainable);
}

int64_t window_stride(const Model& model, int64_t stride) {
  const int64_t ctx = model.context();
  return stride > 0 ? std::min(stride, ctx) : std::max<int64_t>(1, ctx / 2);
}

double stack_flops(const Stack& s, const std::vector<int64_t>& offsets) {
  double f = 0;
  for (size_t i = 0; i + 1 < offsets.size(); ++i) {
    const double n = double(offsets[i + 1] - offsets[i]);
    f += s.weight_flops() * n + 6.0 * double(s.shape().layers) * double(s.shape().d) * n * n;
  }
  return f;
}

// ---------------------------------------------------------------------------------------------
// Model files: safetensors whose metadata names the format and holds the config.

namespace {

// Version 2: the config as the architectures' field declarations give it (format 1 is read too:
// its few other names are the fields' aliases, its head counts and vocabulary are ignored).
constexpr int model_format_version = 2;

Config config_of(const SafetensorsFile& file, const std::string& path) {
  const auto& meta = file.metadata();
  auto value = [&](const char* key, const std::string& otherwise) {
    const auto it = meta.find(key);
    return it == meta.end() ? otherwise : it->second;
  };
  if (value("format", "") != "bytes-model") throw Error("not a bytes model (no \"format\": \"bytes-model\"): " + path);
  const std::string version = value("format_version", "1");
  if (version != "1" && version != std::to_string(model_format_version))
    throw Error("unsupported model format version " + version + " (this build reads 1 and " +
                std::to_string(model_format_version) + "): " + path);
  if (!meta.count("config")) throw Error("model has no config in its metadata: " + path);
  try {
    return Config::from_json(meta.at("config"));
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + ": " + path);
  }
}

}  // namespace

void save_model(const Model& model, const std::string& path) {
  write_safetensors(path,
                    {{"format", "bytes-model"},
                     {"format_version", std::to_string(model_format_version)},
                     {"config", model.config().json()}},
                    model.tensors(), model.weights());
}

Config read_model_config(const std::string& path) { return config_of(SafetensorsFile(path), path); }

std::string file_checksum(const std::string& path) {
  InputFile in(path);
  Xxh3 h;
  std::vector<char> buf(1 << 20);
  while (const size_t n = in.read(buf.data(), buf.size())) h.update(buf.data(), n);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h.digest()));
  return hex;
}

std::unique_ptr<Model> load_model(const std::string& path, bool map) {
  SafetensorsFile file(path);
  auto model = make_model(config_of(file, path), false);
  Model& m = *model;
  const float* w = file.load(m.tensors(), m.config().arch(), map, m.mapping_, [&] {
    m.allocate_params();
    return m.params.data();
  });
  if (m.mapping_) m.mapped_ = w;
  for (int64_t i = 0; i < m.n_params(); ++i)
    if (!std::isfinite(w[i])) throw Error("model holds non-finite weights (corrupt?): " + path);
  return model;
}

}  // namespace bytes
