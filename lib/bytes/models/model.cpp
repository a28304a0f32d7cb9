#include "bytes/models/model.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "bytes/base/error.hpp"
#include "bytes/base/io.hpp"
#include "bytes/kernels/kernels.hpp"

namespace bytes {

namespace k = kernels;

int64_t ffn_hidden_for(int64_t d) { return 64 * std::llround(8.0 * double(d) / 3.0 / 64.0); }

Config Config::flat(int64_t d_model, int64_t n_layers, int64_t ctx) {
  Config c;
  c.d_model = d_model;
  c.n_layers = n_layers;
  c.n_heads = std::max<int64_t>(1, d_model / head_dim);
  c.ffn_hidden = ffn_hidden_for(d_model);
  c.ctx = ctx;
  return c;
}

Config Config::word(int64_t d_model, int64_t n_layers, int64_t ctx, int64_t enc_d_model, int64_t enc_layers,
                    int64_t dec_d_model, int64_t dec_layers) {
  Config c = flat(d_model, n_layers, ctx);
  c.arch = "word";
  c.enc_d_model = enc_d_model;
  c.enc_layers = enc_layers;
  c.enc_heads = std::max<int64_t>(1, enc_d_model / head_dim);
  c.enc_ffn_hidden = ffn_hidden_for(enc_d_model);
  c.dec_d_model = dec_d_model;
  c.dec_layers = dec_layers;
  c.dec_heads = std::max<int64_t>(1, dec_d_model / head_dim);
  c.dec_ffn_hidden = ffn_hidden_for(dec_d_model);
  return c;
}

Config Config::patch_model(const std::string& spec, int64_t d_model, int64_t n_layers, int64_t ctx, int64_t inner_d,
                           int64_t inner_layers_each) {
  Config c = flat(d_model, n_layers, ctx);
  c.arch = "patch";
  c.patch = spec;
  const auto units = c.unit_bytes();
  for (size_t k = 1; k < units.size(); ++k) {
    c.inner_d_model.push_back(inner_d);
    c.inner_layers.push_back(inner_layers_each);
    c.inner_heads.push_back(std::max<int64_t>(1, inner_d / head_dim));
    c.inner_ffn_hidden.push_back(ffn_hidden_for(inner_d));
  }
  // Each coarse stage sees a unit as the concatenated embeddings of its bytes: about d / unit
  // wide each (MEGABYTE's choice), at least 4.
  for (size_t k = 0; k + 1 < units.size(); ++k)
    c.stage_embed.push_back(std::max<int64_t>(4, (k == 0 ? d_model : inner_d) / units[k]));
  return c;
}

std::vector<int64_t> Config::patch_sizes() const {
  std::vector<int64_t> sizes;
  size_t at = 0;
  int64_t patch_bytes = 1;
  while (at <= patch.size()) {
    size_t x = patch.find('x', at);
    std::string part = patch.substr(at, x == std::string::npos ? std::string::npos : x - at);
    if (part.empty() || part.size() > 6 || part.find_first_not_of("0123456789") != std::string::npos)
      throw Error("bad patch sizes '" + patch + "' (e.g. 8, 16x4, 64x8x4)");
    sizes.push_back(std::stoll(part));
    if (sizes.back() < 2) throw Error("bad patch sizes '" + patch + "': every size must be at least 2");
    if (sizes.size() > 4) throw Error("bad patch sizes '" + patch + "': at most 4 sizes");
    // Checked as it grows: four 6-digit sizes overflow 64 bits.
    patch_bytes *= sizes.back();
    if (patch_bytes > max_ctx) throw Error("bad patch sizes '" + patch + "': a patch longer than the longest context");
    if (x == std::string::npos) break;
    at = x + 1;
  }
  return sizes;
}

std::vector<int64_t> Config::unit_bytes() const {
  const auto sizes = patch_sizes();
  std::vector<int64_t> units(sizes.size() + 1, 1);
  for (size_t k = sizes.size(); k-- > 0;) units[k] = units[k + 1] * sizes[k];
  return units;
}

nlohmann::ordered_json Config::to_json() const {
  nlohmann::ordered_json j = {{"arch", arch},         {"d_model", d_model},   {"n_layers", n_layers},
                              {"n_heads", n_heads},   {"ffn_hidden", ffn_hidden}, {"ctx", ctx},
                              {"rope_base", rope_base}, {"norm_eps", norm_eps}, {"vocab", vocab}};
  if (is_word()) {
    j["enc_d_model"] = enc_d_model;
    j["enc_layers"] = enc_layers;
    j["enc_heads"] = enc_heads;
    j["enc_ffn_hidden"] = enc_ffn_hidden;
    j["dec_d_model"] = dec_d_model;
    j["dec_layers"] = dec_layers;
    j["dec_heads"] = dec_heads;
    j["dec_ffn_hidden"] = dec_ffn_hidden;
    j["word_rule"] = word_rule;
    j["word_cap"] = word_cap;
  }
  if (is_patch()) {
    j["patch"] = patch;
    j["inner_d_model"] = inner_d_model;
    j["inner_layers"] = inner_layers;
    j["inner_heads"] = inner_heads;
    j["inner_ffn_hidden"] = inner_ffn_hidden;
    j["stage_embed"] = stage_embed;
  }
  return j;
}

Config Config::from_json(const nlohmann::json& j) {
  Config c;
  // Sizes must be JSON integers: a float such as 1e300 has no int64 value (converting it is
  // undefined behaviour).
  auto integer = [&](const char* key) {
    const auto& v = j.at(key);
    if (!v.is_number_integer()) throw Error(std::string("bad model config: ") + key + " must be an integer");
    return v.get<int64_t>();
  };
  auto integers = [&](const char* key) {
    const auto& v = j.at(key);
    if (!v.is_array() || !std::all_of(v.begin(), v.end(), [](const auto& x) { return x.is_number_integer(); }))
      throw Error(std::string("bad model config: ") + key + " must be a list of integers");
    return v.get<std::vector<int64_t>>();
  };
  try {
    c.arch = j.at("arch").get<std::string>();
    c.d_model = integer("d_model");
    c.n_layers = integer("n_layers");
    c.n_heads = integer("n_heads");
    c.ffn_hidden = integer("ffn_hidden");
    c.ctx = integer("ctx");
    c.rope_base = j.at("rope_base").get<double>();
    c.norm_eps = j.at("norm_eps").get<double>();
    c.vocab = integer("vocab");
    if (c.is_word()) {
      c.enc_d_model = integer("enc_d_model");
      c.enc_layers = integer("enc_layers");
      c.enc_heads = integer("enc_heads");
      c.enc_ffn_hidden = integer("enc_ffn_hidden");
      c.dec_d_model = integer("dec_d_model");
      c.dec_layers = integer("dec_layers");
      c.dec_heads = integer("dec_heads");
      c.dec_ffn_hidden = integer("dec_ffn_hidden");
      c.word_rule = j.at("word_rule").get<std::string>();
      c.word_cap = integer("word_cap");
    }
    if (c.is_patch()) {
      c.patch = j.at("patch").get<std::string>();
      c.inner_d_model = integers("inner_d_model");
      c.inner_layers = integers("inner_layers");
      c.inner_heads = integers("inner_heads");
      c.inner_ffn_hidden = integers("inner_ffn_hidden");
      c.stage_embed = integers("stage_embed");
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("bad model config: ") + e.what());
  }
  c.validate();
  return c;
}

void Config::validate() const {
  auto bad = [](const std::string& what) { throw Error("bad model config: " + what); };
  if (arch != "flat" && arch != "word" && arch != "patch") bad("unknown arch '" + arch + "'");
  // The bounds are bytes-train's (--d-model, --layers, --ctx): a config outside them comes from a
  // damaged or crafted file, and its sizes would drive allocations.
  auto check_stack = [&](const std::string& name, int64_t d, int64_t heads, int64_t layers, int64_t hid) {
    if (d < head_dim || d > max_width || d % head_dim != 0)
      bad(name + "d_model must be a multiple of 64 from 64 to " + std::to_string(max_width) + ": " + std::to_string(d));
    if (heads != d / head_dim)
      bad(name + "n_heads · 64 must equal " + name + "d_model (heads are 64 wide): " + std::to_string(d));
    if (layers < 1 || layers > max_layers) bad(name + "layers out of range");
    if (hid < 1 || hid > 8 * max_width) bad(name + "ffn_hidden out of range");
  };
  check_stack("", d_model, n_heads, n_layers, ffn_hidden);
  if (ctx < 1 || ctx > max_ctx) bad("ctx out of range");
  if (vocab != VOCAB) bad("vocab must be 258");
  if (!(rope_base > 0 && rope_base <= 1e12) || !(norm_eps > 0 && norm_eps < 1))
    bad("rope_base must be in (0, 1e12] and norm_eps in (0, 1)");
  if (is_patch()) {
    const auto units = unit_bytes();
    const size_t inner = units.size() - 1;
    if (inner_d_model.size() != inner || inner_layers.size() != inner || inner_heads.size() != inner ||
        inner_ffn_hidden.size() != inner || stage_embed.size() != inner)
      bad("a patch model with " + std::to_string(inner + 1) + " stages needs sizes for " + std::to_string(inner) +
          " inner stages");
    for (size_t k = 0; k < inner; ++k) {
      check_stack("inner_", inner_d_model[k], inner_heads[k], inner_layers[k], inner_ffn_hidden[k]);
      if (stage_embed[k] < 1 || stage_embed[k] > (1 << 20) / units[k]) bad("stage_embed out of range");
    }
    if (ctx % units[0] != 0)
      bad("ctx " + std::to_string(ctx) + " must be a whole number of " + std::to_string(units[0]) + "-byte patches");
  }
  if (!is_word()) return;
  check_stack("enc_", enc_d_model, enc_heads, enc_layers, enc_ffn_hidden);
  check_stack("dec_", dec_d_model, dec_heads, dec_layers, dec_ffn_hidden);
  if (word_rule != "whitespace" && word_rule != "spacelike") bad("unknown word_rule '" + word_rule + "'");
  if (word_cap < 4 || word_cap > 4096) bad("word_cap must be 4 to 4096");
}

// ---------------------------------------------------------------------------------------------
// WordBatch

void WordBatch::add_word(const int32_t* s, int64_t n, bool is_complete, bool is_scored) {
  symbols.insert(symbols.end(), s, s + n);
  word_start.push_back(int64_t(symbols.size()));
  complete.push_back(is_complete);
  scored.push_back(is_scored);
  dec_start.push_back(is_scored ? dec_rows : -1);
  if (is_scored) dec_rows += n + (is_complete ? 1 : 0);
}

void WordBatch::end_row() { row_start.push_back(words()); }

uint64_t WordBatch::scored_bytes() const {
  uint64_t n = 0;
  for (int64_t w = 0; w < words(); ++w)
    if (scored[size_t(w)])
      for (int64_t i = word_start[size_t(w)]; i < word_start[size_t(w + 1)]; ++i) n += symbols[size_t(i)] < 256;
  return n;
}

void WordBatch::clear() { *this = WordBatch(); }

// ---------------------------------------------------------------------------------------------
// Model

namespace {
StackShape shape_of(int64_t d, int64_t layers, int64_t hidden, bool causal, const Config& c) {
  return {d, layers, hidden, causal, float(c.rope_base), float(c.norm_eps)};
}
}  // namespace

Model::Model(const Config& config, bool trainable) : cfg_(config) {
  cfg_.validate();
  const int64_t d = cfg_.d_model, V = cfg_.vocab;
  if (cfg_.is_patch()) {
    const auto units = cfg_.unit_bytes();
    const size_t K = units.size();
    stages_.resize(K);
    for (size_t k = 0; k < K; ++k) {
      Stage& st = stages_[k];
      st.d = k == 0 ? d : cfg_.inner_d_model[k - 1];
      st.unit = units[k];
      st.per_parent = k == 0 ? 0 : units[k - 1] / units[k];
      const std::string p = "stages." + std::to_string(k) + ".";
      const int64_t layers = k == 0 ? cfg_.n_layers : cfg_.inner_layers[k - 1];
      const int64_t hidden = k == 0 ? cfg_.ffn_hidden : cfg_.inner_ffn_hidden[k - 1];
      if (k + 1 < K) {
        st.e = cfg_.stage_embed[k];
        st.embed = layout_.add(p + "embed.weight", {V, st.e});
        st.start = layout_.add(p + "start.weight", {1, st.d});
        st.proj = layout_.add(p + "proj.weight", {st.d, st.unit * st.e});
      } else {
        st.embed = embed_ = layout_.add(p + "embed.weight", {V, st.d});
      }
      st.stack = Stack(shape_of(st.d, layers, hidden, true, cfg_), p, layout_);
      if (k + 1 < K) {
        const int64_t child_d = cfg_.inner_d_model[k], per = units[k] / units[k + 1];
        st.cond = layout_.add(p + "cond.weight", {per * child_d, st.d});
      }
    }
    head_ = layout_.add("head.weight", {V, stages_.back().d});
  } else if (!cfg_.is_word()) {
    embed_ = layout_.add("embed.weight", {V, d});
    body_ = Stack(shape_of(d, cfg_.n_layers, cfg_.ffn_hidden, true, cfg_), "", layout_);
    head_ = layout_.add("head.weight", {V, d});
  } else {
    const int64_t de = cfg_.enc_d_model, dd = cfg_.dec_d_model;
    // The word token follows the byte table directly: one 259-row table for the encoder's input.
    embed_ = layout_.add("encoder.embed.weight", {V, de});
    layout_.add("encoder.word.weight", {1, de});
    encoder_ = Stack(shape_of(de, cfg_.enc_layers, cfg_.enc_ffn_hidden, false, cfg_), "encoder.", layout_);
    proj_ = layout_.add("encoder.proj.weight", {d, de});
    backbone_ = Stack(shape_of(d, cfg_.n_layers, cfg_.ffn_hidden, true, cfg_), "backbone.", layout_);
    cond_ = layout_.add("decoder.cond.weight", {dd, d});
    dec_embed_ = layout_.add("decoder.embed.weight", {V, dd});
    decoder_ = Stack(shape_of(dd, cfg_.dec_layers, cfg_.dec_ffn_hidden, true, cfg_), "decoder.", layout_);
    head_ = layout_.add("decoder.head.weight", {V, dd});
  }
  if (!trainable) return;
  params.assign(layout_.size, 0.0f);
  grads.assign(layout_.size, 0.0f);
}

double Model::flops_per_byte() const {
  if (cfg_.is_word()) return 0;  // depends on the text's word lengths: see last_flops
  if (cfg_.is_patch()) {
    // Per byte of a full window: each stage's weights once per unit, attention over its segment.
    double f = 6.0 * double(cfg_.vocab * stages_.back().d);
    for (size_t k = 0; k < stages_.size(); ++k) {
      const Stage& st = stages_[k];
      const double per_byte = 1.0 / double(st.unit);
      const double seg = k == 0 ? double(cfg_.ctx / st.unit) : double(st.per_parent);
      f += per_byte * (st.stack.weight_flops() + 6.0 * double(st.stack.shape().layers * st.d) * seg);
      if (k + 1 < stages_.size())
        f += per_byte * 6.0 * double(st.d) * double(st.unit * st.e + stages_[k + 1].per_parent * stages_[k + 1].d);
    }
    return f;
  }
  return 6.0 * double(n_params() - cfg_.vocab * cfg_.d_model) +
         6.0 * double(cfg_.n_layers) * double(cfg_.d_model) * double(cfg_.ctx);
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
    // Output projections shrink with the depth of their own stack.
    int64_t layers = t.name.starts_with("encoder.")   ? cfg_.enc_layers
                     : t.name.starts_with("decoder.") ? cfg_.dec_layers
                                                      : cfg_.n_layers;
    if (t.name.starts_with("stages.") && !t.name.starts_with("stages.0."))
      layers = cfg_.inner_layers[size_t(std::stoll(t.name.substr(7))) - 1];
    bool scaled = t.name.ends_with("wo.weight") || t.name.ends_with("w2.weight");
    const float scale = scaled ? 1.0f / std::sqrt(2.0f * float(layers)) : 1.0f;
    for (size_t i = 0; i < t.size; ++i) p[i] = normal(rng) * scale;
  }
}

uint64_t Model::activation_bytes(int64_t B, int64_t T, double bytes_per_word) const {
  const int64_t V = cfg_.vocab;
  if (cfg_.is_patch()) {
    // Logits and losses of every byte; per stage its stack, input and output rows and their
    // gradients, the concatenated embeddings (and their gradient) and the conditioning it
    // hands down (and its gradient).
    uint64_t floats = uint64_t(B * T) * uint64_t(V + 1);
    for (size_t k = 0; k < stages_.size(); ++k) {
      const Stage& st = stages_[k];
      const int64_t N = B * T / st.unit;
      const int64_t cond = k + 1 < stages_.size() ? stages_[k + 1].per_parent * stages_[k + 1].d : 0;
      floats += st.stack.activation_floats(N) + uint64_t(N) * uint64_t(4 * st.d + 2 * st.unit * st.e + 2 * cond);
    }
    return 4 * floats;
  }
  if (!cfg_.is_word()) {
    const int64_t N = B * T, d = cfg_.d_model;
    return 4 * (body_.activation_floats(N) + uint64_t(N) * uint64_t(2 * d + 2 * V + 1));
  }
  const double per_word = bytes_per_word > 0 ? std::min(1.25 * bytes_per_word, double(cfg_.word_cap)) : double(cfg_.word_cap);
  const int64_t words = B * T, bytes = int64_t(std::ceil(double(words) * per_word)), de = cfg_.enc_d_model, dd = cfg_.dec_d_model,
                d = cfg_.d_model;
  return 4 * (encoder_.activation_floats(words + bytes) + backbone_.activation_floats(words) +
              decoder_.activation_floats(words + bytes) + uint64_t(words + bytes) * uint64_t(2 * de + 2 * dd + 2 * V) +
              uint64_t(words) * uint64_t(de * 2 + d * 4 + dd * 2));
}

double Model::score(int64_t rows, const int32_t* targets, int64_t V) {
  targets_.assign(targets, targets + rows);
  losses_.resize(size_t(rows));
  // Losses only: the logits stay intact for callers; backward turns them into their gradient.
  k::cross_entropy(logits_.data(), targets, rows, V, 0, losses_.data());
  double total = 0;
  for (int64_t i = 0; i < rows; ++i) total += losses_[size_t(i)];
  return total;
}

namespace {
void grow(std::vector<float>& v, int64_t n) {
  if (v.size() < size_t(n)) v.resize(size_t(n));
}
// Model FLOPs of a stack over segments: 6 per weight per row, and attention's 6 · layers · d per
// pair of rows of a segment (every pair, as flops_per_byte counts the flat model's).
double stack_flops(const Stack& s, const std::vector<int64_t>& offsets) {
  double f = 0;
  for (size_t i = 0; i + 1 < offsets.size(); ++i) {
    const double n = double(offsets[i + 1] - offsets[i]);
    f += s.weight_flops() * n + 6.0 * double(s.shape().layers) * double(s.shape().d) * n * n;
  }
  return f;
}
}  // namespace

double Model::forward(const int32_t* tokens, const int32_t* targets, int64_t B, int64_t T) {
  if (cfg_.is_word()) throw Error("a word model reads words: forward(WordBatch)");
  if (T > cfg_.ctx) throw Error("sequence of " + std::to_string(T) + " tokens is longer than the model's context");
  if (cfg_.is_patch()) return forward_patch(tokens, targets, B, T);
  const int64_t N = B * T, d = cfg_.d_model, V = cfg_.vocab;
  const float* W = weights();
  tokens_.assign(tokens, tokens + N);
  grow(x_, N * d), grow(y_, N * d), grow(logits_, N * V);
  std::vector<int64_t> offsets(size_t(B + 1));
  for (int64_t b = 0; b <= B; ++b) offsets[size_t(b)] = b * T;
  k::embedding_forward(tokens, N, W + embed_, d, x_.data());
  body_.forward(W, x_.data(), offsets.data(), B, y_.data(), precision);
  linear(y_.data(), W + head_, logits_.data(), N, d, V, false, precision);
  last_flops_ = double(N) * flops_per_byte();
  return targets ? score(N, targets, V) : 0;
}

double Model::forward(const WordBatch& batch) {
  if (!cfg_.is_word()) throw Error("only a word model reads words");
  const int64_t de = cfg_.enc_d_model, D = cfg_.d_model, dd = cfg_.dec_d_model, V = cfg_.vocab;
  const float* W = weights();
  // The encoder reads every word of a row but its last: the word token, then the word's symbols.
  enc_tokens_.clear();
  enc_offsets_.assign(1, 0);
  bb_offsets_.assign(1, 0);
  input_word_.assign(size_t(batch.words()), -1);
  int64_t Nw = 0;
  for (int64_t r = 0; r < batch.rows(); ++r) {
    for (int64_t w = batch.row_start[size_t(r)]; w + 1 < batch.row_start[size_t(r + 1)]; ++w) {
      input_word_[size_t(w)] = Nw++;
      enc_tokens_.push_back(VOCAB);  // row 258 of the table: the word token
      enc_tokens_.insert(enc_tokens_.end(), batch.symbols.begin() + batch.word_start[size_t(w)],
                         batch.symbols.begin() + batch.word_start[size_t(w + 1)]);
      enc_offsets_.push_back(int64_t(enc_tokens_.size()));
    }
    bb_offsets_.push_back(Nw);
  }
  const int64_t Ne = int64_t(enc_tokens_.size());
  grow(enc_x_, Ne * de), grow(enc_y_, Ne * de), grow(wv_, Nw * de), grow(bb_x_, Nw * D), grow(bb_y_, Nw * D);
  grow(conds_, Nw * dd);
  k::embedding_forward(enc_tokens_.data(), Ne, W + embed_, de, enc_x_.data());
  encoder_.forward(W, enc_x_.data(), enc_offsets_.data(), Nw, enc_y_.data(), precision);
  for (int64_t u = 0; u < Nw; ++u)
    std::memcpy(wv_.data() + u * de, enc_y_.data() + enc_offsets_[size_t(u)] * de, size_t(de) * sizeof(float));
  linear(wv_.data(), W + proj_, bb_x_.data(), Nw, de, D, false, precision);
  backbone_.forward(W, bb_x_.data(), bb_offsets_.data(), batch.rows(), bb_y_.data(), precision);
  linear(bb_y_.data(), W + cond_, conds_.data(), Nw, D, dd, false, precision);

  // The decoder: for each scored word, its previous symbol (EOW at the start) plus the
  // conditioning vector of the word before it, predicting its symbols and then EOW.
  const int64_t Nd = batch.dec_rows;
  tokens_.resize(size_t(Nd));
  std::vector<int32_t> targets(static_cast<size_t>(Nd));
  cond_of_row_.resize(size_t(Nd));
  dec_offsets_.assign(1, 0);
  for (int64_t w = 0; w < batch.words(); ++w) {
    if (!batch.scored[size_t(w)]) continue;
    if (w == 0 || input_word_[size_t(w - 1)] < 0 || batch.dec_start[size_t(w)] != dec_offsets_.back())
      throw Error("a scored word must follow a word of its own row");
    const int32_t* s = batch.symbols.data() + batch.word_start[size_t(w)];
    const int64_t n = batch.length(w), rows = n + batch.complete[size_t(w)], r0 = dec_offsets_.back();
    for (int64_t p = 0; p < rows; ++p) {
      tokens_[size_t(r0 + p)] = p == 0 ? EOW : s[p - 1];
      targets[size_t(r0 + p)] = p < n ? s[p] : EOW;
      cond_of_row_[size_t(r0 + p)] = input_word_[size_t(w - 1)];
    }
    dec_offsets_.push_back(r0 + rows);
  }
  const int64_t S = int64_t(dec_offsets_.size()) - 1;
  grow(x_, Nd * dd), grow(y_, Nd * dd), grow(logits_, Nd * V);
  k::embedding_forward(tokens_.data(), Nd, W + dec_embed_, dd, x_.data());
  for (int64_t r = 0; r < Nd; ++r) {
    const float* c = conds_.data() + cond_of_row_[size_t(r)] * dd;
    float* x = x_.data() + r * dd;
    for (int64_t j = 0; j < dd; ++j) x[j] += c[j];
  }
  decoder_.forward(W, x_.data(), dec_offsets_.data(), S, y_.data(), precision);
  linear(y_.data(), W + head_, logits_.data(), Nd, dd, V, false, precision);
  last_flops_ = stack_flops(encoder_, enc_offsets_) + stack_flops(backbone_, bb_offsets_) +
                stack_flops(decoder_, dec_offsets_) + 6.0 * double(Nw) * double(de * D + D * dd) +
                6.0 * double(Nd) * double(dd * V);
  return score(Nd, targets.data(), V);
}

void Model::backward(float grad_scale) {
  if (cfg_.is_word()) backward_word(grad_scale);
  else if (cfg_.is_patch()) backward_patch(grad_scale);
  else backward_flat(grad_scale);
}

// The patch model (bytes-model(5)): token t predicts target t; a coarse stage's unit j reads the
// bytes of unit j − 1, which are tokens (j − 1)·unit + 1 … j·unit (the targets before unit j).
// A window that is not a whole number of global units is padded with PAD, never scored.
double Model::forward_patch(const int32_t* tokens, const int32_t* targets, int64_t B, int64_t T_in) {
  constexpr int32_t PAD = EOW;  // EOW is no symbol of a patch model: the pad
  const int64_t V = cfg_.vocab, u0 = stages_[0].unit, T = (T_in + u0 - 1) / u0 * u0;
  const float* W = weights();
  tokens_.assign(size_t(B * T), PAD);
  std::vector<int32_t> padded(static_cast<size_t>(B * T), -1);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T_in; ++t) {
      tokens_[size_t(b * T + t)] = tokens[b * T_in + t];
      if (targets) padded[size_t(b * T + t)] = targets[b * T_in + t];
    }
  last_flops_ = 0;
  const size_t K = stages_.size();
  for (size_t k = 0; k < K; ++k) {
    Stage& st = stages_[k];
    const int64_t n = T / st.unit, N = B * n, d = st.d;
    st.rows = N;
    grow(st.x, N * d), grow(st.y, N * d);
    if (k + 1 < K) {
      // The concatenated embeddings of the previous unit's bytes, projected; the start vector
      // for each row's first unit.
      st.tokens.resize(size_t(N * st.unit));
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < n; ++j)
          for (int64_t q = 0; q < st.unit; ++q)
            st.tokens[size_t((b * n + j) * st.unit + q)] = j == 0 ? PAD : tokens_[size_t(b * T + (j - 1) * st.unit + 1 + q)];
      grow(st.c, N * st.unit * st.e);
      k::embedding_forward(st.tokens.data(), N * st.unit, W + st.embed, st.e, st.c.data());
      linear(st.c.data(), W + st.proj, st.x.data(), N, st.unit * st.e, d, false, precision);
      for (int64_t b = 0; b < B; ++b) std::memcpy(st.x.data() + b * n * d, W + st.start, size_t(d) * sizeof(float));
      last_flops_ += 6.0 * double(N) * double(st.unit * st.e * d);
    } else {
      st.tokens.assign(tokens_.begin(), tokens_.end());
      k::embedding_forward(st.tokens.data(), N, W + st.embed, d, st.x.data());
    }
    if (k > 0) {
      // The parent unit's output, one vector per child unit, added to the child's input.
      const Stage& parent = stages_[k - 1];
      const int64_t per = st.per_parent;
#pragma omp parallel for schedule(static) if (N * d >= (1 << 15))
      for (int64_t r = 0; r < N; ++r) {
        const float* c = parent.cond_out.data() + (r / per) * per * d + (r % per) * d;
        float* x = st.x.data() + r * d;
        for (int64_t j = 0; j < d; ++j) x[j] += c[j];
      }
    }
    // Segments: the whole window for the global stage, each parent unit for the others.
    const int64_t seg = k == 0 ? n : st.per_parent;
    st.offsets.resize(size_t(N / seg + 1));
    for (size_t i = 0; i < st.offsets.size(); ++i) st.offsets[i] = int64_t(i) * seg;
    st.stack.forward(W, st.x.data(), st.offsets.data(), N / seg, st.y.data(), precision);
    last_flops_ += stack_flops(st.stack, st.offsets);
    if (k + 1 < K) {
      const int64_t width = stages_[k + 1].per_parent * stages_[k + 1].d;
      grow(st.cond_out, N * width);
      linear(st.y.data(), W + st.cond, st.cond_out.data(), N, d, width, false, precision);
      last_flops_ += 6.0 * double(N) * double(d * width);
    }
  }
  const int64_t N = B * T, d = stages_.back().d;
  grow(logits_, N * V);
  linear(stages_.back().y.data(), W + head_, logits_.data(), N, d, V, false, precision);
  last_flops_ += 6.0 * double(N) * double(d * V);
  patch_B_ = B;
  patch_T_ = T;
  patch_T_in_ = T_in;
  const double total = score(N, padded.data(), V);
  if (T != T_in) {
    // Back to the caller's B × T_in rows (a padded forward is for scoring only).
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T_in; ++t) {
        losses_[size_t(b * T_in + t)] = losses_[size_t(b * T + t)];
        std::memmove(logits_.data() + (b * T_in + t) * V, logits_.data() + (b * T + t) * V, size_t(V) * sizeof(float));
      }
  }
  return total;
}

void Model::backward_patch(float grad_scale) {
  if (patch_T_ != patch_T_in_) throw Error("a padded patch forward is for scoring only");
  const int64_t V = cfg_.vocab, N = patch_B_ * patch_T_;
  const float* W = weights();
  float* G = grads.data();
  const size_t K = stages_.size();
  Stage& last = stages_.back();
  k::cross_entropy(logits_.data(), targets_.data(), N, V, grad_scale, nullptr);
  grow(last.dy, N * last.d);
  linear_backward_weight(logits_.data(), last.y.data(), G + head_, N, last.d, V, precision);
  linear_backward_input(logits_.data(), W + head_, last.dy.data(), N, last.d, V, false, precision);
  for (size_t k = K; k-- > 0;) {
    Stage& st = stages_[k];
    const int64_t Nk = st.rows, d = st.d;
    grow(st.dx, Nk * d);
    st.stack.backward(W, G, st.dy.data(), st.dx.data(), precision);
    if (k > 0) {
      // Each child's input gradient flows to its slice of the parent's conditioning output.
      Stage& parent = stages_[k - 1];
      const int64_t per = st.per_parent, width = per * d, Np = parent.rows;
      grow(parent.dcond, Np * width), grow(parent.dy, Np * parent.d);
      std::memcpy(parent.dcond.data(), st.dx.data(), size_t(Np * width) * sizeof(float));  // rows line up
      linear_backward_weight(parent.dcond.data(), parent.y.data(), G + parent.cond, Np, parent.d, width, precision);
      linear_backward_input(parent.dcond.data(), W + parent.cond, parent.dy.data(), Np, parent.d, width, false,
                            precision);
    }
    if (k + 1 < K) {
      const int64_t n = patch_T_ / st.unit;
      for (int64_t b = 0; b < patch_B_; ++b) {
        float* dx = st.dx.data() + b * n * d;
        for (int64_t j = 0; j < d; ++j) G[st.start + size_t(j)] += dx[j];
        std::fill(dx, dx + d, 0.0f);  // the start vector replaced the projection there
      }
      grow(st.dcond, Nk * st.unit * st.e);  // scratch: ∂loss/∂ the concatenated embeddings
      linear_backward_weight(st.dx.data(), st.c.data(), G + st.proj, Nk, st.unit * st.e, d, precision);
      linear_backward_input(st.dx.data(), W + st.proj, st.dcond.data(), Nk, st.unit * st.e, d, false, precision);
      k::embedding_backward(st.tokens.data(), Nk * st.unit, st.dcond.data(), st.e, G + st.embed);
    } else {
      k::embedding_backward(st.tokens.data(), Nk, st.dx.data(), d, G + st.embed);
    }
  }
}

void Model::backward_flat(float grad_scale) {
  const int64_t N = int64_t(tokens_.size()), d = cfg_.d_model, V = cfg_.vocab;
  const float* W = weights();
  float* G = grads.data();
  grow(dy_, N * d), grow(dx_, N * d);
  // Logits become their gradient in place.
  k::cross_entropy(logits_.data(), targets_.data(), N, V, grad_scale, nullptr);
  linear_backward_weight(logits_.data(), y_.data(), G + head_, N, d, V, precision);
  linear_backward_input(logits_.data(), W + head_, dy_.data(), N, d, V, false, precision);
  body_.backward(W, G, dy_.data(), dx_.data(), precision);
  k::embedding_backward(tokens_.data(), N, dx_.data(), d, G + embed_);
}

void Model::backward_word(float grad_scale) {
  const int64_t de = cfg_.enc_d_model, D = cfg_.d_model, dd = cfg_.dec_d_model, V = cfg_.vocab;
  const int64_t Nd = int64_t(tokens_.size()), Nw = int64_t(bb_offsets_.back()), Ne = int64_t(enc_tokens_.size());
  const float* W = weights();
  float* G = grads.data();
  grow(dy_, std::max(Nd * dd, Ne * de)), grow(dx_, std::max(Nd * dd, Ne * de));
  grow(dcond_, Nw * dd), grow(dbb_, Nw * D), grow(dwv_, Nw * de);
  // Decoder and head.
  k::cross_entropy(logits_.data(), targets_.data(), Nd, V, grad_scale, nullptr);
  linear_backward_weight(logits_.data(), y_.data(), G + head_, Nd, dd, V, precision);
  linear_backward_input(logits_.data(), W + head_, dy_.data(), Nd, dd, V, false, precision);
  decoder_.backward(W, G, dy_.data(), dx_.data(), precision);
  k::embedding_backward(tokens_.data(), Nd, dx_.data(), dd, G + dec_embed_);
  // Each word's conditioning vector was added to every row of the word after it.
  std::fill(dcond_.begin(), dcond_.begin() + Nw * dd, 0.0f);
  for (int64_t r = 0; r < Nd; ++r) {
    float* dc = dcond_.data() + cond_of_row_[size_t(r)] * dd;
    const float* dx = dx_.data() + r * dd;
    for (int64_t j = 0; j < dd; ++j) dc[j] += dx[j];
  }
  // Backbone and the projections around it.
  linear_backward_weight(dcond_.data(), bb_y_.data(), G + cond_, Nw, D, dd, precision);
  linear_backward_input(dcond_.data(), W + cond_, dbb_.data(), Nw, D, dd, false, precision);
  backbone_.backward(W, G, dbb_.data(), dbb_.data(), precision);
  linear_backward_weight(dbb_.data(), wv_.data(), G + proj_, Nw, de, D, precision);
  linear_backward_input(dbb_.data(), W + proj_, dwv_.data(), Nw, de, D, false, precision);
  // Encoder: only each word token's output row was used.
  std::fill(dy_.begin(), dy_.begin() + Ne * de, 0.0f);
  for (int64_t u = 0; u < Nw; ++u)
    std::memcpy(dy_.data() + enc_offsets_[size_t(u)] * de, dwv_.data() + u * de, size_t(de) * sizeof(float));
  encoder_.backward(W, G, dy_.data(), dx_.data(), precision);
  k::embedding_backward(enc_tokens_.data(), Ne, dx_.data(), de, G + embed_);
}

const float* Model::extend(KVCache& cache, const int32_t* tokens, int64_t n) {
  if (cfg_.is_word()) throw Error("a word model generates through its word stream");
  const int64_t d = cfg_.d_model, V = cfg_.vocab;
  if (n < 1) throw Error("extend needs at least one token");
  if (cfg_.is_patch()) {
    if (cache.len + n > cfg_.ctx) throw Error("the generation window outgrew the model's context");
    if (cache.len == 0) {
      cache.tokens.clear();
      cache.stages.resize(stages_.size());
      cache.conds.resize(stages_.size());
    }
    // A prompt on an empty cache runs as one block per stage; after that, one position a step.
    if (cache.len == 0 && n > 1) {
      cache.tokens.assign(tokens, tokens + n);
      cache.len = n;
      return patch_prefill(cache);
    }
    const float* logits = nullptr;
    for (int64_t i = 0; i < n; ++i) {
      cache.tokens.push_back(tokens[i]);
      logits = patch_step(cache);
      cache.len++;
    }
    return logits;
  }
  if (cache.capacity != cfg_.ctx) cache.reset(cfg_.n_layers, cfg_.ctx, d);
  const float* W = weights();
  grow(x_, n * d), grow(y_, n * d);
  k::embedding_forward(tokens, n, W + embed_, d, x_.data());
  body_.extend(W, cache, x_.data(), n, y_.data(), precision);
  gen_logits_.resize(size_t(V));
  linear(y_.data() + (n - 1) * d, W + head_, gen_logits_.data(), 1, d, V, false, precision);
  return gen_logits_.data();
}

// Window position t = cache.len: every coarse stage whose unit starts at t takes one step (a new
// segment when its parent's unit starts there too), then the byte stage takes one.
// The input row of unit j of stage k, as the training forward builds it: the byte stage embeds
// its byte; a coarse stage projects the concatenated bytes of the unit before (a learned start
// for unit 0); a finer stage adds its parent unit's conditioning for this unit's place.
void Model::patch_input(const KVCache& c, size_t k, int64_t j, float* x) {
  const Stage& st = stages_[k];
  const float* W = weights();
  const int64_t d = st.d;
  if (k + 1 == stages_.size()) {
    k::embedding_forward(&c.tokens[size_t(j)], 1, W + st.embed, d, x);
  } else if (j == 0) {
    std::memcpy(x, W + st.start, size_t(d) * sizeof(float));
  } else {
    grow(gen_cat_, st.unit * st.e);
    k::embedding_forward(&c.tokens[size_t((j - 1) * st.unit + 1)], st.unit, W + st.embed, st.e, gen_cat_.data());
    linear(gen_cat_.data(), W + st.proj, x, 1, st.unit * st.e, d, false, precision);
  }
  if (k > 0) {
    const float* cond = c.conds[k - 1].data() + (j % st.per_parent) * d;
    for (int64_t i = 0; i < d; ++i) x[i] += cond[i];
  }
}

// The conditioning stage k hands its children, from its output row y.
void Model::patch_cond(KVCache& c, size_t k, const float* y) {
  const Stage& st = stages_[k];
  const int64_t width = stages_[k + 1].per_parent * stages_[k + 1].d;
  c.conds[k].resize(size_t(width));
  linear(y, weights() + st.cond, c.conds[k].data(), 1, st.d, width, false, precision);
}

// Position c.len: each stage whose unit starts here runs one step.
const float* Model::patch_step(KVCache& c) {
  const int64_t t = c.len;
  const float* W = weights();
  const size_t K = stages_.size();
  for (size_t k = 0; k < K; ++k) {
    Stage& st = stages_[k];
    if (t % st.unit != 0) continue;
    const int64_t d = st.d;
    grow(x_, d), grow(y_, d);
    if (k == 0 ? t == 0 : t % stages_[k - 1].unit == 0)
      c.stages[k].reset(st.stack.shape().layers, k == 0 ? cfg_.ctx / st.unit : st.per_parent, d);
    patch_input(c, k, t / st.unit, x_.data());
    st.stack.extend(W, c.stages[k], x_.data(), 1, y_.data(), precision);
    if (k + 1 < K) patch_cond(c, k, y_.data());
  }
  gen_logits_.resize(size_t(cfg_.vocab));
  linear(y_.data(), W + head_, gen_logits_.data(), 1, stages_.back().d, cfg_.vocab, false, precision);
  return gen_logits_.data();
}

// The state c.len steps leave, in one block per stage: the global stage over every unit so far,
// each finer stage over the units of its current parent unit (all its cache holds).
const float* Model::patch_prefill(KVCache& c) {
  const int64_t n = c.len;
  const float* W = weights();
  const size_t K = stages_.size();
  int64_t rows = 0;
  for (size_t k = 0; k < K; ++k) {
    Stage& st = stages_[k];
    const int64_t d = st.d, last = (n - 1) / st.unit;
    const int64_t first = k == 0 ? 0 : last / st.per_parent * st.per_parent;
    rows = last - first + 1;
    c.stages[k].reset(st.stack.shape().layers, k == 0 ? cfg_.ctx / st.unit : st.per_parent, d);
    grow(x_, rows * d), grow(y_, rows * d);
    for (int64_t j = first; j <= last; ++j) patch_input(c, k, j, x_.data() + (j - first) * d);
    st.stack.extend(W, c.stages[k], x_.data(), rows, y_.data(), precision);
    if (k + 1 < K) patch_cond(c, k, y_.data() + (rows - 1) * d);
  }
  const int64_t d = stages_.back().d;
  gen_logits_.resize(size_t(cfg_.vocab));
  linear(y_.data() + (rows - 1) * d, W + head_, gen_logits_.data(), 1, d, cfg_.vocab, false, precision);
  return gen_logits_.data();
}

void Model::encode_word(const int32_t* symbols, int64_t n, float* out) {
  const int64_t de = cfg_.enc_d_model, D = cfg_.d_model;
  const float* W = weights();
  enc_tokens_.assign(1, VOCAB);
  enc_tokens_.insert(enc_tokens_.end(), symbols, symbols + n);
  const int64_t offsets[2] = {0, n + 1};
  grow(enc_x_, (n + 1) * de), grow(enc_y_, (n + 1) * de);
  k::embedding_forward(enc_tokens_.data(), n + 1, W + embed_, de, enc_x_.data());
  encoder_.forward(W, enc_x_.data(), offsets, 1, enc_y_.data(), precision);
  linear(enc_y_.data(), W + proj_, out, 1, de, D, false, precision);
}

void Model::backbone_extend(KVCache& cache, const float* words, int64_t n, float* cond) {
  const int64_t D = cfg_.d_model, dd = cfg_.dec_d_model;
  const float* W = weights();
  grow(bb_y_, n * D);
  backbone_.extend(W, cache, words, n, bb_y_.data(), precision);
  linear(bb_y_.data() + (n - 1) * D, W + cond_, cond, 1, D, dd, false, precision);
}

const float* Model::decoder_extend(KVCache& cache, const float* cond, const int32_t* symbols, int64_t n) {
  const int64_t dd = cfg_.dec_d_model, V = cfg_.vocab;
  const float* W = weights();
  grow(x_, n * dd), grow(y_, n * dd);
  k::embedding_forward(symbols, n, W + dec_embed_, dd, x_.data());
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < dd; ++j) x_[size_t(r * dd + j)] += cond[j];
  decoder_.extend(W, cache, x_.data(), n, y_.data(), precision);
  gen_logits_.resize(size_t(V));
  linear(y_.data() + (n - 1) * dd, W + head_, gen_logits_.data(), 1, dd, V, false, precision);
  return gen_logits_.data();
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

// A header this long holds some 100 000 tensor entries, ten times the most a config within
// bounds has (five stacks of 256 blocks); a longer one is damage or an attack, and a parsed
// JSON header takes many times its size in memory.
constexpr uint64_t max_header = 16 << 20;

struct Header {
  nlohmann::json json, meta;  // meta: __metadata__, strings by name
  uint64_t data_start;
};

Header read_header(const InputFile& in, const std::string& path) {
  if (!in.regular()) throw Error("a model must be a regular file: " + path);
  uint64_t size = in.size(), n = 0;
  if (size < 8) throw Error("not a model file (too short for a safetensors header): " + path);
  in.pread_exact(&n, 8, 0);
  if (n > size - 8 || n > max_header) throw Error("not a model file (bad safetensors header length): " + path);
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
  h.meta = h.json.value("__metadata__", nlohmann::json::object());
  // safetensors' __metadata__ maps strings to strings.
  if (!h.meta.is_object() || !std::all_of(h.meta.begin(), h.meta.end(), [](const auto& v) { return v.is_string(); }))
    throw Error("not a model file (safetensors __metadata__ must map names to strings): " + path);
  if (h.meta.value("format", "") != "bytes-model") throw Error("not a bytes model (no \"format\": \"bytes-model\"): " + path);
  std::string version = h.meta.value("format_version", "1");
  if (version != std::to_string(model_format_version))
    throw Error("unsupported model format version " + version + " (this build reads " +
                std::to_string(model_format_version) + "): " + path);
  return h;
}

Config config_of(const Header& h, const std::string& path) {
  if (!h.meta.contains("config")) throw Error("model has no config in its metadata: " + path);
  try {
    return Config::from_json(nlohmann::json::parse(h.meta["config"].get<std::string>()));
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
  std::vector<std::pair<uint64_t, uint64_t>> spans;  // each tensor's data_offsets
  // Mappable when the tensors lie in the model's own order, back to back, floats aligned: the
  // layout save_model writes.
  bool in_order = h.data_start % alignof(float) == 0;
  uint64_t first = 0;
  for (const auto& t : model.tensors()) {
    const auto it = h.json.find(t.name);
    if (it == h.json.end()) throw Error("model lacks tensor " + t.name + ": " + path);
    const auto& e = *it;
    auto field = [&](const char* key) { return e.is_object() && e.contains(key) ? e[key] : nlohmann::json(); };
    if (const auto dtype = field("dtype"); dtype != "F32")
      throw Error("tensor " + t.name + " is " + (dtype.is_string() ? dtype.get<std::string>() : "?") + ", expected F32: " + path);
    if (field("shape") != nlohmann::json(t.shape)) throw Error("tensor " + t.name + " has the wrong shape: " + path);
    const auto offs = field("data_offsets");
    const bool pair = offs.is_array() && offs.size() == 2 && offs[0].is_number_unsigned() && offs[1].is_number_unsigned();
    const uint64_t begin = pair ? offs[0].get<uint64_t>() : 0, end = pair ? offs[1].get<uint64_t>() : 0;
    if (!pair || end < begin || end - begin != t.size * 4 || end > data_size)
      throw Error("tensor " + t.name + " has bad data offsets (file truncated?): " + path);
    if (spans.empty()) first = begin;
    in_order = in_order && begin == first + t.offset * 4;
    spans.emplace_back(begin, end);
  }
  if (h.json.size() != spans.size() + (h.json.contains("__metadata__") ? 1 : 0))
    throw Error("model has tensors the " + model.config().arch + " architecture does not: " + path);
  // Tensors that share bytes would let a small file claim any number of parameters (and have the
  // copy below allocate them); apart, they hold at most the file's size.
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].first < spans[i - 1].second) throw Error("model has tensors that overlap (corrupt?): " + path);
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
