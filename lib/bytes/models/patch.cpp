#include "bytes/models/patch.hpp"

#include <algorithm>
#include <cstring>

#include "bytes/base/error.hpp"
#include "bytes/kernels/kernels.hpp"

namespace bytes {

namespace k = kernels;

std::vector<int64_t> patch_sizes(const std::string& patch) {
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

std::vector<int64_t> unit_bytes(const std::string& spec) {
  const auto sizes = patch_sizes(spec);
  std::vector<int64_t> units(sizes.size() + 1, 1);
  for (size_t k = sizes.size(); k-- > 0;) units[k] = units[k + 1] * sizes[k];
  return units;
}

namespace {

constexpr int32_t PAD = EOW;  // EOW is no symbol of a patch model: the pad

struct Fields {
  Field patch = {.name = "patch", .type = Field::Type::text,
                 .help = "Units per stage, coarsest first: 8, 16x4, 64x8x4 (bytes are the last)", .fallback = "8"};
  StackFields global = stack_fields("", "the global (coarsest) stage", 384, 6);
  Field ctx = context_field(1024, "Context in bytes (whole patches)");
  // Every stage finer than the global one: one value each, coarsest first.
  std::function<size_t(const Config&)> inner_count = [this](const Config& c) { return patch_sizes(c.text(patch)).size(); };
  StackFields inner = stack_fields("inner_", "each stage finer than the global one", 256, 2, inner_count);
  // Each coarse stage sees a unit as the concatenated embeddings of its bytes: about d / unit
  // wide each (MEGABYTE's choice), at least 4.
  Field stage_embed = {.name = "stage_embed", .type = Field::Type::integers,
                       .help = "Byte embedding width of each coarse stage", .lo = 1, .hi = 1 << 20,
                       .derive = [this](const Config& c) -> FieldValue {
                         const auto units = unit_bytes(c.text(patch));
                         std::vector<int64_t> e;
                         for (size_t k = 0; k + 1 < units.size(); ++k)
                           e.push_back(std::max<int64_t>(
                               4, (k == 0 ? c.integer(global.d_model) : c.integers(inner.d_model)[k - 1]) / units[k]));
                         return e;
                       },
                       .count = inner_count,
                       .size = true};
  Field rope_base = rope_base_field(), norm_eps = norm_eps_field(), vocab = vocab_field();
};
const Fields& fields() {
  static const Fields f;
  return f;
}

void check(const Config& c) {
  const Fields& f = fields();
  const auto units = unit_bytes(c.text(f.patch));
  for (size_t k = 0; k + 1 < units.size(); ++k)
    if (c.integers(f.stage_embed)[k] > (1 << 20) / units[k]) throw Error("stage_embed out of range");
  if (c.integer(f.ctx) % units[0] != 0)
    throw Error("ctx " + std::to_string(c.integer(f.ctx)) + " must be a whole number of " + std::to_string(units[0]) +
                "-byte patches");
}

}  // namespace

const Architecture& patch_architecture() {
  const Fields& f = fields();
  static const Architecture a{
      .name = "patch",
      .help = "MEGABYTE/MBLM: stages over patches, coarse to fine",
      .fields = {f.global.d_model, f.global.layers, f.global.n_heads, f.global.ffn_hidden, f.ctx, f.rope_base,
                 f.norm_eps, f.vocab, f.patch, f.inner.d_model, f.inner.layers, f.inner.ffn_hidden, f.stage_embed},
      .check = check,
      .make = [](const Config& c, bool trainable) -> std::unique_ptr<Model> { return std::make_unique<PatchModel>(c, trainable); },
      // The global stage as the flat model's rungs; the finer ones at half its width or less (64 at least).
      .rungs = {{{{"d_model", "64"}, {"n_layers", "2"}, {"inner_d_model", "64"}, {"inner_layers", "1"}}, 4e-3},
                {{{"d_model", "128"}, {"n_layers", "2"}, {"inner_d_model", "64"}, {"inner_layers", "1"}}, 4e-3},
                {{{"d_model", "192"}, {"n_layers", "3"}, {"inner_d_model", "128"}, {"inner_layers", "1"}}, 3e-3},
                {{{"d_model", "256"}, {"n_layers", "4"}, {"inner_d_model", "128"}, {"inner_layers", "2"}}, 2e-3},
                {{{"d_model", "384"}, {"n_layers", "4"}, {"inner_d_model", "256"}, {"inner_layers", "2"}}, 1.5e-3},
                {{{"d_model", "512"}, {"n_layers", "6"}, {"inner_d_model", "256"}, {"inner_layers", "2"}}, 1e-3},
                {{{"d_model", "768"}, {"n_layers", "8"}, {"inner_d_model", "384"}, {"inner_layers", "2"}}, 6e-4}}};
  return a;
}

PatchModel::PatchModel(const Config& c, bool trainable) : WindowModel(c, c.integer(fields().ctx)) {
  const Fields& f = fields();
  const auto units = unit_bytes(c.text(f.patch));
  const size_t K = units.size();
  stages_.resize(K);
  for (size_t k = 0; k < K; ++k) {
    Stage& st = stages_[k];
    st.d = k == 0 ? c.integer(f.global.d_model) : c.integers(f.inner.d_model)[k - 1];
    st.unit = units[k];
    st.per_parent = k == 0 ? 0 : units[k - 1] / units[k];
    const std::string p = "stages." + std::to_string(k) + ".";
    const int64_t layers = k == 0 ? c.integer(f.global.layers) : c.integers(f.inner.layers)[k - 1];
    const int64_t hidden = k == 0 ? c.integer(f.global.ffn_hidden) : c.integers(f.inner.ffn_hidden)[k - 1];
    if (k + 1 < K) {
      st.e = c.integers(f.stage_embed)[k];
      st.embed = layout_.add(p + "embed.weight", {VOCAB, st.e});
      st.start = layout_.add(p + "start.weight", {1, st.d});
      st.proj = layout_.add(p + "proj.weight", {st.d, st.unit * st.e});
    } else {
      st.embed = layout_.add(p + "embed.weight", {VOCAB, st.d});
    }
    st.stack = Stack({st.d, layers, hidden, true, float(c.real(f.rope_base)), float(c.real(f.norm_eps))}, p, layout_);
    if (k + 1 < K) {
      const int64_t child_d = c.integers(f.inner.d_model)[k], per = units[k] / units[k + 1];
      st.cond = layout_.add(p + "cond.weight", {per * child_d, st.d});
    }
  }
  head_ = Head("head.weight", stages_.back().d, layout_);
  if (trainable) allocate_params();
}

double PatchModel::flops_per_byte() const {
  // Per byte of a full window: each stage's weights once per unit, attention over its segment.
  double f = 6.0 * double(VOCAB * stages_.back().d);
  for (size_t k = 0; k < stages_.size(); ++k) {
    const Stage& st = stages_[k];
    const double per_byte = 1.0 / double(st.unit);
    const double seg = k == 0 ? double(ctx_ / st.unit) : double(st.per_parent);
    f += per_byte * (st.stack.weight_flops() + 6.0 * double(st.stack.shape().layers * st.d) * seg);
    if (k + 1 < stages_.size())
      f += per_byte * 6.0 * double(st.d) * double(st.unit * st.e + stages_[k + 1].per_parent * stages_[k + 1].d);
  }
  return f;
}

// A stage's weights are read once per unit of that stage; the byte embeddings one row at a time.
double PatchModel::weight_bytes_per_byte() const {
  double total = 0;
  for (const auto& t : tensors()) {
    if (t.name.find("embed") != std::string::npos) continue;
    double per = 1;
    if (t.name.rfind("stages.", 0) == 0) per = double(stages_[size_t(std::stoi(t.name.substr(7)))].unit);
    total += double(t.size) * sizeof(float) / per;
  }
  return total;
}

uint64_t PatchModel::activation_bytes(int64_t B, double) const {
  // Logits and losses of every byte; per stage its stack, input and output rows and their
  // gradients, the concatenated embeddings (and their gradient) and the conditioning it hands
  // down (and its gradient).
  const int64_t T = ctx_;
  uint64_t floats = uint64_t(B * T) * uint64_t(VOCAB + 1);
  for (size_t k = 0; k < stages_.size(); ++k) {
    const Stage& st = stages_[k];
    const int64_t N = B * T / st.unit;
    const int64_t cond = k + 1 < stages_.size() ? stages_[k + 1].per_parent * stages_[k + 1].d : 0;
    floats += st.stack.activation_floats(N) + uint64_t(N) * uint64_t(4 * st.d + 2 * st.unit * st.e + 2 * cond);
  }
  return 4 * floats;
}

double PatchModel::forward(const int32_t* tokens, const int32_t* targets, int64_t B, int64_t T_in) {
  if (T_in > ctx_) throw Error("sequence of " + std::to_string(T_in) + " tokens is longer than the model's context");
  const int64_t u0 = stages_[0].unit, T = (T_in + u0 - 1) / u0 * u0;
  const float* W = weights();
  tokens_.assign(size_t(B * T), PAD);
  std::vector<int32_t> padded(static_cast<size_t>(B * T), -1);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T_in; ++t) {
      tokens_[size_t(b * T + t)] = tokens[b * T_in + t];
      if (targets) padded[size_t(b * T + t)] = targets[b * T_in + t];
    }
  last_flops_ = 0;
  for (size_t k = 0; k < stages_.size(); ++k) stage_forward(k, B, T);
  const int64_t N = B * T, d = stages_.back().d;
  head_.forward(W, stages_.back().y.data(), N, precision_);
  last_flops_ += 6.0 * double(N) * double(d * VOCAB);
  B_ = B;
  T_ = T;
  T_in_ = T_in;
  const double total = head_.score(padded.data(), N);
  if (T != T_in) {
    // Back to the caller's B × T_in rows (a padded forward is for scoring only).
    float *losses = head_.losses(), *logits = head_.logits();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T_in; ++t) {
        losses[b * T_in + t] = losses[b * T + t];
        std::memmove(logits + (b * T_in + t) * VOCAB, logits + (b * T + t) * VOCAB, size_t(VOCAB) * sizeof(float));
      }
  }
  return total;
}

// Stage k over the window's B × T tokens: its input rows, its stack over its segments (the whole
// window for the global stage, each parent unit for the others) and the conditioning it hands down.
void PatchModel::stage_forward(size_t k, int64_t B, int64_t T) {
  const float* W = weights();
  const size_t K = stages_.size();
  Stage& st = stages_[k];
  const int64_t n = T / st.unit, N = B * n, d = st.d;
  st.rows = N;
  grow(st.x, N * d), grow(st.y, N * d);
  if (k + 1 < K) {
    // The concatenated embeddings of the previous unit's bytes, projected; the start vector for
    // each row's first unit.
    st.tokens.resize(size_t(N * st.unit));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < n; ++j)
        for (int64_t q = 0; q < st.unit; ++q)
          st.tokens[size_t((b * n + j) * st.unit + q)] = j == 0 ? PAD : tokens_[size_t(b * T + (j - 1) * st.unit + 1 + q)];
    grow(st.c, N * st.unit * st.e);
    k::embedding_forward(st.tokens.data(), N * st.unit, W + st.embed, st.e, st.c.data());
    linear(st.c.data(), W + st.proj, st.x.data(), N, st.unit * st.e, d, false, precision_);
    for (int64_t b = 0; b < B; ++b) std::memcpy(st.x.data() + b * n * d, W + st.start, size_t(d) * sizeof(float));
    last_flops_ += 6.0 * double(N) * double(st.unit * st.e * d);
  } else {
    st.tokens.assign(tokens_.begin(), tokens_.end());
    k::embedding_forward(st.tokens.data(), N, W + st.embed, d, st.x.data());
  }
  // The parent unit's output, one vector per child unit (their rows line up), added to the
  // child's input.
  if (k > 0) add_rows(st.x.data(), stages_[k - 1].cond_out.data(), nullptr, N, d);
  const int64_t seg = k == 0 ? n : st.per_parent;
  st.offsets.resize(size_t(N / seg + 1));
  for (size_t i = 0; i < st.offsets.size(); ++i) st.offsets[i] = int64_t(i) * seg;
  st.stack.forward(W, st.x.data(), st.offsets.data(), N / seg, st.y.data(), precision_);
  last_flops_ += stack_flops(st.stack, st.offsets);
  if (k + 1 < K) {
    const int64_t width = stages_[k + 1].per_parent * stages_[k + 1].d;
    grow(st.cond_out, N * width);
    linear(st.y.data(), W + st.cond, st.cond_out.data(), N, d, width, false, precision_);
    last_flops_ += 6.0 * double(N) * double(d * width);
  }
}

void PatchModel::backward(float grad_scale) {
  if (T_ != T_in_) throw Error("a padded patch forward is for scoring only");
  const int64_t N = B_ * T_;
  Stage& last = stages_.back();
  grow(last.dy, N * last.d);
  head_.backward(weights(), grads.data(), last.y.data(), grad_scale, last.dy.data(), precision_);
  for (size_t k = stages_.size(); k-- > 0;) stage_backward(k);
}

void PatchModel::stage_backward(size_t k) {
  const float* W = weights();
  float* G = grads.data();
  Stage& st = stages_[k];
  const int64_t Nk = st.rows, d = st.d;
  grow(st.dx, Nk * d);
  st.stack.backward(W, G, st.dy.data(), st.dx.data(), precision_);
  if (k > 0) {
    // Each child's input gradient flows to its slice of the parent's conditioning output.
    Stage& parent = stages_[k - 1];
    const int64_t per = st.per_parent, width = per * d, Np = parent.rows;
    grow(parent.dcond, Np * width), grow(parent.dy, Np * parent.d);
    std::memcpy(parent.dcond.data(), st.dx.data(), size_t(Np * width) * sizeof(float));  // rows line up
    linear_backward(parent.dcond.data(), parent.y.data(), W + parent.cond, parent.dy.data(), G + parent.cond, Np,
                    parent.d, width, precision_);
  }
  if (k + 1 < stages_.size()) {
    const int64_t n = T_ / st.unit;
    for (int64_t b = 0; b < B_; ++b) {
      float* dx = st.dx.data() + b * n * d;
      for (int64_t j = 0; j < d; ++j) G[st.start + size_t(j)] += dx[j];
      std::fill(dx, dx + d, 0.0f);  // the start vector replaced the projection there
    }
    grow(st.dcond, Nk * st.unit * st.e);  // scratch: ∂loss/∂ the concatenated embeddings
    linear_backward(st.dx.data(), st.c.data(), W + st.proj, st.dcond.data(), G + st.proj, Nk, st.unit * st.e, d,
                    precision_);
    k::embedding_backward(st.tokens.data(), Nk * st.unit, st.dcond.data(), st.e, G + st.embed);
  } else {
    k::embedding_backward(st.tokens.data(), Nk, st.dx.data(), d, G + st.embed);
  }
}

// ---------------------------------------------------------------------------------------------
// Generation

const float* PatchModel::extend(KVCache& cache, const int32_t* tokens, int64_t n) {
  if (n < 1) throw Error("extend needs at least one token");
  if (cache.len + n > ctx_) throw Error("the generation window outgrew the model's context");
  if (cache.len == 0) {
    cache.tokens.clear();
    cache.stages.resize(stages_.size());
    cache.conds.resize(stages_.size());
  }
  // A prompt on an empty cache runs as one block per stage; after that, one position a step.
  if (cache.len == 0 && n > 1) {
    cache.tokens.assign(tokens, tokens + n);
    cache.len = n;
    return prefill(cache);
  }
  const float* logits = nullptr;
  for (int64_t i = 0; i < n; ++i) {
    cache.tokens.push_back(tokens[i]);
    logits = step(cache);
    cache.len++;
  }
  return logits;
}

// The input row of unit j of stage k, as the training forward builds it: the byte stage embeds
// its byte; a coarse stage projects the concatenated bytes of the unit before (a learned start
// for unit 0); a finer stage adds its parent unit's conditioning for this unit's place.
void PatchModel::input(const KVCache& c, size_t k, int64_t j, float* x) {
  const Stage& st = stages_[k];
  const float* W = weights();
  const int64_t d = st.d;
  if (k + 1 == stages_.size()) {
    k::embedding_forward(&c.tokens[size_t(j)], 1, W + st.embed, d, x);
  } else if (j == 0) {
    std::memcpy(x, W + st.start, size_t(d) * sizeof(float));
  } else {
    grow(cat_, st.unit * st.e);
    k::embedding_forward(&c.tokens[size_t((j - 1) * st.unit + 1)], st.unit, W + st.embed, st.e, cat_.data());
    linear(cat_.data(), W + st.proj, x, 1, st.unit * st.e, d, false, precision_);
  }
  if (k > 0) add_rows(x, c.conds[k - 1].data() + (j % st.per_parent) * d, nullptr, 1, d);
}

// The conditioning stage k hands its children, from its output row y.
void PatchModel::condition(KVCache& c, size_t k, const float* y) {
  const Stage& st = stages_[k];
  const int64_t width = stages_[k + 1].per_parent * stages_[k + 1].d;
  c.conds[k].resize(size_t(width));
  linear(y, weights() + st.cond, c.conds[k].data(), 1, st.d, width, false, precision_);
}

// Window position t = cache.len: every coarse stage whose unit starts at t takes one step (a new
// segment when its parent's unit starts there too), then the byte stage takes one.
const float* PatchModel::step(KVCache& c) {
  const int64_t t = c.len;
  const float* W = weights();
  const size_t K = stages_.size();
  for (size_t k = 0; k < K; ++k) {
    Stage& st = stages_[k];
    if (t % st.unit != 0) continue;
    const int64_t d = st.d;
    grow(x_, d), grow(y_, d);
    if (k == 0 ? t == 0 : t % stages_[k - 1].unit == 0)
      c.stages[k].reset(st.stack.shape().layers, k == 0 ? ctx_ / st.unit : st.per_parent, d);
    input(c, k, t / st.unit, x_.data());
    st.stack.extend(W, c.stages[k], x_.data(), 1, y_.data(), precision_);
    if (k + 1 < K) condition(c, k, y_.data());
  }
  return head_.row(W, y_.data(), precision_);
}

// The state c.len steps leave, in one block per stage: the global stage over every unit so far,
// each finer stage over the units of its current parent unit (all its cache holds).
const float* PatchModel::prefill(KVCache& c) {
  const int64_t n = c.len;
  const float* W = weights();
  const size_t K = stages_.size();
  int64_t rows = 0;
  for (size_t k = 0; k < K; ++k) {
    Stage& st = stages_[k];
    const int64_t d = st.d, last = (n - 1) / st.unit;
    const int64_t first = k == 0 ? 0 : last / st.per_parent * st.per_parent;
    rows = last - first + 1;
    c.stages[k].reset(st.stack.shape().layers, k == 0 ? ctx_ / st.unit : st.per_parent, d);
    grow(x_, rows * d), grow(y_, rows * d);
    for (int64_t j = first; j <= last; ++j) input(c, k, j, x_.data() + (j - first) * d);
    st.stack.extend(W, c.stages[k], x_.data(), rows, y_.data(), precision_);
    if (k + 1 < K) condition(c, k, y_.data() + (rows - 1) * d);
  }
  return head_.row(W, y_.data() + (rows - 1) * stages_.back().d, precision_);
}

}  // namespace bytes
