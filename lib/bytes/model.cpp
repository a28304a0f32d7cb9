#include "bytes/model.hpp"

#include <cmath>
#include <cstring>
#include <random>

#include "bytes/error.hpp"
#include "bytes/io.hpp"
#include "bytes/kernels.hpp"

namespace bytes {

namespace k = kernels;

Config Config::flat(int64_t d_model, int64_t n_layers, int64_t ctx) {
  Config c;
  c.d_model = d_model;
  c.n_layers = n_layers;
  c.n_heads = std::max<int64_t>(1, d_model / head_dim);
  c.ffn_hidden = 64 * std::llround(8.0 * double(d_model) / 3.0 / 64.0);
  c.ctx = ctx;
  return c;
}

nlohmann::ordered_json Config::to_json() const {
  return {{"arch", arch},         {"d_model", d_model},   {"n_layers", n_layers}, {"n_heads", n_heads},
          {"ffn_hidden", ffn_hidden}, {"ctx", ctx},       {"rope_base", rope_base}, {"norm_eps", norm_eps},
          {"vocab", vocab}};
}

Config Config::from_json(const nlohmann::json& j) {
  Config c;
  try {
    c.arch = j.at("arch").get<std::string>();
    c.d_model = j.at("d_model").get<int64_t>();
    c.n_layers = j.at("n_layers").get<int64_t>();
    c.n_heads = j.at("n_heads").get<int64_t>();
    c.ffn_hidden = j.at("ffn_hidden").get<int64_t>();
    c.ctx = j.at("ctx").get<int64_t>();
    c.rope_base = j.at("rope_base").get<double>();
    c.norm_eps = j.at("norm_eps").get<double>();
    c.vocab = j.at("vocab").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("bad model config: ") + e.what());
  }
  c.validate();
  return c;
}

void Config::validate() const {
  auto bad = [](const std::string& what) { throw Error("bad model config: " + what); };
  if (arch != "flat") bad("unknown arch '" + arch + "'");
  if (d_model < 1 || d_model > 65536) bad("d_model out of range");
  if (n_heads < 1 || n_heads * head_dim != d_model)
    bad("n_heads · 64 must equal d_model (heads are 64 wide): d_model " + std::to_string(d_model));
  if (n_layers < 1 || n_layers > 1024) bad("n_layers out of range");
  if (ffn_hidden < 1 || ffn_hidden > 1 << 20) bad("ffn_hidden out of range");
  if (ctx < 1 || ctx > 1 << 24) bad("ctx out of range");
  if (vocab != VOCAB) bad("vocab must be 258");
  if (!(rope_base > 0) || !(norm_eps > 0)) bad("rope_base and norm_eps must be positive");
}

Model::Model(const Config& config, bool trainable) : cfg_(config) {
  cfg_.validate();
  const int64_t d = cfg_.d_model, hid = cfg_.ffn_hidden, V = cfg_.vocab;
  size_t offset = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    size_t n = 1;
    for (auto s : shape) n *= size_t(s);
    tensors_.push_back({name, shape, offset, n});
    offset += n;
    return offset - n;
  };
  embed_ = add("embed.weight", {V, d});
  for (int64_t l = 0; l < cfg_.n_layers; ++l) {
    std::string p = "layers." + std::to_string(l) + ".";
    // wq, wk, wv adjacent make one [3d × d] matrix; w1, w3 one [2·hid × d]: one matmul each.
    layer_offset_.push_back(add(p + "attn_norm.weight", {d}));
    add(p + "attn.wq.weight", {d, d});
    add(p + "attn.wk.weight", {d, d});
    add(p + "attn.wv.weight", {d, d});
    add(p + "attn.wo.weight", {d, d});
    add(p + "ffn_norm.weight", {d});
    add(p + "ffn.w1.weight", {hid, d});
    add(p + "ffn.w3.weight", {hid, d});
    add(p + "ffn.w2.weight", {d, hid});
  }
  norm_ = add("norm.weight", {d});
  head_ = add("head.weight", {V, d});
  n_params_ = int64_t(offset);
  if (!trainable) return;
  params.assign(offset, 0.0f);
  grads.assign(offset, 0.0f);
}

Model::LayerParams Model::layer(const float* block, int64_t l) const {
  const int64_t d = cfg_.d_model, hid = cfg_.ffn_hidden;
  // Weights are only read through these views; gradients come from the writable grads block.
  float* p = const_cast<float*>(block) + layer_offset_[size_t(l)];
  LayerParams w;
  w.attn_norm = p;
  w.wqkv = p + d;
  w.wo = w.wqkv + 3 * d * d;
  w.ffn_norm = w.wo + d * d;
  w.w13 = w.ffn_norm + d;
  w.w2 = w.w13 + 2 * hid * d;
  return w;
}

double Model::flops_per_byte() const {
  return 6.0 * double(n_params() - cfg_.vocab * cfg_.d_model) +
         6.0 * double(cfg_.n_layers) * double(cfg_.d_model) * double(cfg_.ctx);
}

void Model::init(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  const float out_scale = 1.0f / std::sqrt(2.0f * float(cfg_.n_layers));
  for (const auto& t : tensors_) {
    float* p = params.data() + t.offset;
    if (t.shape.size() == 1) {
      std::fill(p, p + t.size, 1.0f);
      continue;
    }
    bool scaled = t.name.ends_with("wo.weight") || t.name.ends_with("w2.weight");
    for (size_t i = 0; i < t.size; ++i) p[i] = normal(rng) * (scaled ? out_scale : 1.0f);
  }
}

uint64_t Model::arena_floats(const Config& c, int64_t N) {
  const int64_t d = c.d_model, hid = c.ffn_hidden, V = c.vocab, L = c.n_layers, H = c.n_heads;
  const int64_t per_layer = d + 1 + 3 * d + d + H + d + d + 1 + 2 * hid + hid;
  return uint64_t(N) * uint64_t((L + 1) * d + L * per_layer + d + 1 + V + 1 + d + d + hid + 2 * hid + d + d + 3 * d + d);
}

void Model::reserve(int64_t B, int64_t T) {
  B_ = B;
  T_ = T;
  const int64_t N = B * T;
  if (N <= capacity_) return;
  const int64_t d = cfg_.d_model, hid = cfg_.ffn_hidden, V = cfg_.vocab, L = cfg_.n_layers, H = cfg_.n_heads;
  arena_.assign(size_t(arena_floats(cfg_, N)), 0.0f);
  capacity_ = N;
  float* p = arena_.data();
  auto take = [&](int64_t width) {
    float* q = p;
    p += N * width;
    return q;
  };
  h_.clear();
  acts_.clear();
  for (int64_t l = 0; l <= L; ++l) h_.push_back(take(d));
  for (int64_t l = 0; l < L; ++l) {
    LayerActs a;
    a.a = take(d);
    a.rstd1 = take(1);
    a.qkv = take(3 * d);
    a.o = take(d);
    a.lse = take(H);
    a.hmid = take(d);
    a.bn = take(d);
    a.rstd2 = take(1);
    a.gu = take(2 * hid);
    a.s = take(hid);
    acts_.push_back(a);
  }
  zn_ = take(d);
  rstdf_ = take(1);
  logits_ = take(V);
  losses_ = take(1);
  dh_ = take(d);
  dz_ = take(d);
  ds_ = take(hid);
  dgu_ = take(2 * hid);
  dbn_ = take(d);
  do_ = take(d);
  dqkv_ = take(3 * d);
  da_ = take(d);
}

double Model::forward(const int32_t* tokens, const int32_t* targets, int64_t B, int64_t T) {
  if (T > cfg_.ctx) throw Error("sequence of " + std::to_string(T) + " tokens is longer than the model's context");
  reserve(B, T);
  const int64_t N = B * T, d = cfg_.d_model, hid = cfg_.ffn_hidden, V = cfg_.vocab, H = cfg_.n_heads;
  const float eps = float(cfg_.norm_eps), base = float(cfg_.rope_base);
  tokens_.assign(tokens, tokens + N);
  const float* W = weights();
  k::embedding_forward(tokens, N, W + embed_, d, h_[0]);
  for (int64_t l = 0; l < cfg_.n_layers; ++l) {
    LayerParams w = layer(W, l);
    LayerActs& a = acts_[size_t(l)];
    float *x = h_[size_t(l)], *y = h_[size_t(l) + 1];
    k::rmsnorm_forward(x, w.attn_norm, N, d, eps, a.a, a.rstd1);
    linear(a.a, w.wqkv, a.qkv, N, d, 3 * d, false, precision);
    k::rope(a.qkv, N, T, 3 * d, 2 * H, head_dim, base, false);  // q and k: 2H heads side by side
    k::attention_forward(a.qkv, B, T, H, head_dim, a.o, a.lse);
    std::memcpy(a.hmid, x, size_t(N * d) * sizeof(float));
    linear(a.o, w.wo, a.hmid, N, d, d, true, precision);
    k::rmsnorm_forward(a.hmid, w.ffn_norm, N, d, eps, a.bn, a.rstd2);
    linear(a.bn, w.w13, a.gu, N, d, 2 * hid, false, precision);
    k::swiglu_forward(a.gu, N, hid, a.s);
    std::memcpy(y, a.hmid, size_t(N * d) * sizeof(float));
    linear(a.s, w.w2, y, N, hid, d, true, precision);
  }
  k::rmsnorm_forward(h_[size_t(cfg_.n_layers)], W + norm_, N, d, eps, zn_, rstdf_);
  linear(zn_, W + head_, logits_, N, d, V, false, precision);
  if (!targets) return 0;
  targets_.assign(targets, targets + N);
  // Losses only: the logits stay intact for callers; backward turns them into their gradient.
  k::cross_entropy(logits_, targets, N, V, 0, losses_);
  double total = 0;
  for (int64_t i = 0; i < N; ++i) total += losses_[i];
  return total;
}

void Model::backward(float grad_scale) {
  const int64_t N = B_ * T_, T = T_, d = cfg_.d_model, hid = cfg_.ffn_hidden, V = cfg_.vocab, H = cfg_.n_heads;
  const float base = float(cfg_.rope_base);
  // Logits become their gradient in place.
  k::cross_entropy(logits_, targets_.data(), N, V, grad_scale, nullptr);
  linear_backward_weight(logits_, zn_, grads.data() + head_, N, d, V, precision);
  const float* W = weights();
  linear_backward_input(logits_, W + head_, dz_, N, d, V, false, precision);
  std::fill(dh_, dh_ + N * d, 0.0f);
  k::rmsnorm_backward(dz_, h_[size_t(cfg_.n_layers)], W + norm_, rstdf_, N, d, dh_, grads.data() + norm_);
  for (int64_t l = cfg_.n_layers - 1; l >= 0; --l) {
    LayerParams w = layer(W, l), g = layer(grads.data(), l);
    LayerActs& a = acts_[size_t(l)];
    // y = hmid + s·w2ᵀ: dh flows straight through the residual.
    linear_backward_weight(dh_, a.s, g.w2, N, hid, d, precision);
    linear_backward_input(dh_, w.w2, ds_, N, hid, d, false, precision);
    k::swiglu_backward(ds_, a.gu, N, hid, dgu_);
    linear_backward_weight(dgu_, a.bn, g.w13, N, d, 2 * hid, precision);
    linear_backward_input(dgu_, w.w13, dbn_, N, d, 2 * hid, false, precision);
    k::rmsnorm_backward(dbn_, a.hmid, w.ffn_norm, a.rstd2, N, d, dh_, g.ffn_norm);
    // hmid = x + o·woᵀ
    linear_backward_weight(dh_, a.o, g.wo, N, d, d, precision);
    linear_backward_input(dh_, w.wo, do_, N, d, d, false, precision);
    k::attention_backward(a.qkv, a.o, do_, a.lse, B_, T, H, head_dim, dqkv_);
    k::rope(dqkv_, N, T, 3 * d, 2 * H, head_dim, base, true);
    linear_backward_weight(dqkv_, a.a, g.wqkv, N, d, 3 * d, precision);
    linear_backward_input(dqkv_, w.wqkv, da_, N, d, 3 * d, false, precision);
    k::rmsnorm_backward(da_, h_[size_t(l)], w.attn_norm, a.rstd1, N, d, dh_, g.attn_norm);
  }
  k::embedding_backward(tokens_.data(), N, dh_, d, grads.data() + embed_);
}

const float* Model::extend(KVCache& cache, const int32_t* tokens, int64_t n) {
  const int64_t d = cfg_.d_model, ctx = cfg_.ctx, L = cfg_.n_layers, V = cfg_.vocab;
  if (n < 1) throw Error("extend needs at least one token");
  if (cache.len + n > ctx) throw Error("the generation window outgrew the model's context");
  if (cache.k.size() != size_t(L * ctx * d)) {
    cache.k.assign(size_t(L * ctx * d), 0.0f);
    cache.v.assign(size_t(L * ctx * d), 0.0f);
    cache.len = 0;
  }
  if (cache.len > 0 || n == 1) {
    const float* logits = nullptr;
    for (int64_t i = 0; i < n; ++i) logits = step(cache, tokens[i]);
    return logits;
  }
  // A fresh window: one batched forward, then its keys and values go to the cache.
  forward(tokens, nullptr, 1, n);
  for (int64_t l = 0; l < L; ++l) {
    const float* qkv = acts_[size_t(l)].qkv;
    for (int64_t t = 0; t < n; ++t) {
      std::memcpy(cache.k.data() + (l * ctx + t) * d, qkv + t * 3 * d + d, size_t(d) * sizeof(float));
      std::memcpy(cache.v.data() + (l * ctx + t) * d, qkv + t * 3 * d + 2 * d, size_t(d) * sizeof(float));
    }
  }
  cache.len = n;
  cache.logits.assign(logits_ + (n - 1) * V, logits_ + n * V);
  return cache.logits.data();
}

// One token at window position cache.len: the forward of one row, attending to the cache.
const float* Model::step(KVCache& c, int32_t token) {
  const int64_t d = cfg_.d_model, hid = cfg_.ffn_hidden, V = cfg_.vocab, H = cfg_.n_heads, ctx = cfg_.ctx;
  const float eps = float(cfg_.norm_eps), base = float(cfg_.rope_base);
  const int64_t pos = c.len;
  c.x.resize(size_t(d));
  c.a.resize(size_t(d));
  c.qkv.resize(size_t(3 * d));
  c.o.resize(size_t(d));
  c.gu.resize(size_t(2 * hid));
  c.s.resize(size_t(hid));
  c.logits.resize(size_t(V));
  float rstd;
  const float* W = weights();
  k::embedding_forward(&token, 1, W + embed_, d, c.x.data());
  for (int64_t l = 0; l < cfg_.n_layers; ++l) {
    LayerParams w = layer(W, l);
    float *kc = c.k.data() + l * ctx * d, *vc = c.v.data() + l * ctx * d;
    k::rmsnorm_forward(c.x.data(), w.attn_norm, 1, d, eps, c.a.data(), &rstd);
    linear(c.a.data(), w.wqkv, c.qkv.data(), 1, d, 3 * d, false, precision);
    k::rope(c.qkv.data(), 1, 1, 3 * d, 2 * H, head_dim, base, false, pos);
    std::memcpy(kc + pos * d, c.qkv.data() + d, size_t(d) * sizeof(float));
    std::memcpy(vc + pos * d, c.qkv.data() + 2 * d, size_t(d) * sizeof(float));
    k::attention_decode(c.qkv.data(), kc, vc, pos + 1, H, head_dim, c.o.data());
    linear(c.o.data(), w.wo, c.x.data(), 1, d, d, true, precision);
    k::rmsnorm_forward(c.x.data(), w.ffn_norm, 1, d, eps, c.a.data(), &rstd);
    linear(c.a.data(), w.w13, c.gu.data(), 1, d, 2 * hid, false, precision);
    k::swiglu_forward(c.gu.data(), 1, hid, c.s.data());
    linear(c.s.data(), w.w2, c.x.data(), 1, hid, d, true, precision);
  }
  k::rmsnorm_forward(c.x.data(), W + norm_, 1, d, eps, c.a.data(), &rstd);
  linear(c.a.data(), W + head_, c.logits.data(), 1, d, V, false, precision);
  c.len = pos + 1;
  return c.logits.data();
}

// ---------------------------------------------------------------------------------------------
// safetensors

namespace {
constexpr int model_format_version = 1;
}

void save_model(const Model& model, const std::string& path) {
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "bytes-model"},
                            {"format_version", std::to_string(model_format_version)},
                            {"config", model.config().to_json().dump()}};
  size_t offset = 0;
  for (const auto& t : model.tensors()) {
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.size * 4}}};
    offset += t.size * 4;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // tensors start 8-byte aligned
  AtomicFile out(path);
  uint64_t n = text.size();
  out.write(&n, 8);
  out.write(text);
  for (const auto& t : model.tensors()) out.write(model.weights() + t.offset, t.size * 4);
  out.commit(true);
}

namespace {

struct Header {
  nlohmann::json json;
  uint64_t data_start;
};

Header read_header(const InputFile& in, const std::string& path) {
  if (!in.regular()) throw Error("a model must be a regular file: " + path);
  uint64_t size = in.size(), n = 0;
  if (size < 8) throw Error("not a model file (too short for a safetensors header): " + path);
  in.pread_exact(&n, 8, 0);
  if (n > size - 8 || n > (100u << 20)) throw Error("not a model file (bad safetensors header length): " + path);
  std::string text(n, '\0');
  in.pread_exact(text.data(), n, 8);
  Header h;
  try {
    h.json = nlohmann::json::parse(text);
  } catch (const std::exception&) {
    throw Error("not a model file (safetensors header is not JSON): " + path);
  }
  if (!h.json.is_object()) throw Error("not a model file (safetensors header is not an object): " + path);
  h.data_start = 8 + n;
  const auto meta = h.json.value("__metadata__", nlohmann::json::object());
  if (meta.value("format", "") != "bytes-model") throw Error("not a bytes model (no \"format\": \"bytes-model\"): " + path);
  std::string version = meta.value("format_version", "1");
  if (version != std::to_string(model_format_version))
    throw Error("unsupported model format version " + version + " (this build reads " +
                std::to_string(model_format_version) + "): " + path);
  return h;
}

Config config_of(const Header& h, const std::string& path) {
  const auto meta = h.json["__metadata__"];
  if (!meta.contains("config") || !meta["config"].is_string()) throw Error("model has no config in its metadata: " + path);
  try {
    return Config::from_json(nlohmann::json::parse(meta["config"].get<std::string>()));
  } catch (const nlohmann::json::exception&) {
    throw Error("model config is not JSON: " + path);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + ": " + path);
  }
}

}  // namespace

Config read_model_config(const std::string& path) {
  InputFile in(path);
  return config_of(read_header(in, path), path);
}

Model load_model(const std::string& path, bool map) {
  InputFile in(path);
  Header h = read_header(in, path);
  Model model(config_of(h, path), false);
  const uint64_t data_size = in.size() - h.data_start;
  size_t seen = 0;
  // Mappable when the tensors lie in the model's own order, back to back, floats aligned: the
  // layout save_model writes.
  bool in_order = h.data_start % alignof(float) == 0;
  uint64_t first = 0;
  for (const auto& t : model.tensors()) {
    if (!h.json.contains(t.name)) throw Error("model lacks tensor " + t.name + ": " + path);
    const auto& e = h.json[t.name];
    if (e.value("dtype", "") != "F32")
      throw Error("tensor " + t.name + " is " + e.value("dtype", "?") + ", expected F32: " + path);
    if (e.value("shape", std::vector<int64_t>{}) != t.shape) throw Error("tensor " + t.name + " has the wrong shape: " + path);
    auto offs = e.value("data_offsets", std::vector<uint64_t>{});
    if (offs.size() != 2 || offs[1] < offs[0] || offs[1] - offs[0] != t.size * 4 || offs[1] > data_size)
      throw Error("tensor " + t.name + " has bad data offsets (file truncated?): " + path);
    if (seen == 0) first = offs[0];
    in_order = in_order && offs[0] == first + t.offset * 4;
    ++seen;
  }
  if (h.json.size() != seen + (h.json.contains("__metadata__") ? 1 : 0))
    throw Error("model has tensors the " + model.config().arch + " architecture does not: " + path);
  if (map && in_order) {
    model.mapping_ = std::make_shared<const MappedFile>(in, MappedFile::Use::resident);
    model.mapped_ = reinterpret_cast<const float*>(model.mapping_->data() + h.data_start + first);
  } else {
    model.params.assign(size_t(model.n_params()), 0.0f);
    model.grads.assign(size_t(model.n_params()), 0.0f);
    for (const auto& t : model.tensors())
      in.pread_exact(model.params.data() + t.offset, t.size * 4, h.data_start + h.json[t.name]["data_offsets"][0].get<uint64_t>());
  }
  const float* w = model.weights();
  for (int64_t i = 0; i < model.n_params(); ++i)
    if (!std::isfinite(w[i])) throw Error("model holds non-finite weights (corrupt?): " + path);
  return model;
}

}  // namespace bytes
