#include "bytes/models/flat.hpp"

#include "bytes/base/error.hpp"
#include "bytes/kernels/kernels.hpp"

namespace bytes {

namespace k = kernels;

namespace {

// Function-local, so that a Config made during static initialisation finds them built.
struct Fields {
  StackFields body = stack_fields("", "the model", 384, 6);
  Field ctx = context_field(256, "Context in bytes");
  Field rope_base = rope_base_field(), norm_eps = norm_eps_field(), vocab = vocab_field();
};
const Fields& fields() {
  static const Fields f;
  return f;
}

}  // namespace

const Architecture& flat_architecture() {
  static const Architecture a{
      .name = "flat",
      .help = "one stack of blocks over bytes",
      // SPEC.md's flat config keys, in the order bytes-train has always written them.
      .fields = {fields().body.d_model, fields().body.layers, fields().body.n_heads, fields().body.ffn_hidden,
                 fields().ctx, fields().rope_base, fields().norm_eps, fields().vocab},
      .check = nullptr,
      .make = [](const Config& c, bool trainable) -> std::unique_ptr<Model> { return std::make_unique<FlatModel>(c, trainable); },
      // Width and depth grow together; the learning rate falls with the width (bytes-train(1)).
      .rungs = {{{{"d_model", "64"}, {"n_layers", "2"}}, 4e-3},
                {{{"d_model", "128"}, {"n_layers", "2"}}, 3e-3},
                {{{"d_model", "128"}, {"n_layers", "4"}}, 3e-3},
                {{{"d_model", "192"}, {"n_layers", "4"}}, 2.5e-3},
                {{{"d_model", "256"}, {"n_layers", "4"}}, 2e-3},
                {{{"d_model", "256"}, {"n_layers", "6"}}, 2e-3},
                {{{"d_model", "384"}, {"n_layers", "6"}}, 1.5e-3},
                {{{"d_model", "512"}, {"n_layers", "8"}}, 1e-3},
                {{{"d_model", "768"}, {"n_layers", "12"}}, 6e-4}}};
  return a;
}

FlatModel::FlatModel(const Config& c, bool trainable)
    : WindowModel(c, c.integer(fields().ctx)), d_(c.integer(fields().body.d_model)) {
  const Fields& f = fields();
  embed_ = layout_.add("embed.weight", {VOCAB, d_});
  body_ = Stack({d_, c.integer(f.body.layers), c.integer(f.body.ffn_hidden), true, float(c.real(f.rope_base)),
                 float(c.real(f.norm_eps))},
                "", layout_);
  head_ = Head("head.weight", d_, layout_);
  if (trainable) allocate_params();
}

double FlatModel::flops_per_byte() const {
  return 6.0 * double(n_params() - VOCAB * d_) + 6.0 * double(body_.shape().layers) * double(d_) * double(ctx_);
}

// Every weight but the embedding (one row of it).
double FlatModel::weight_bytes_per_byte() const { return double(n_params() - VOCAB * d_) * sizeof(float); }

uint64_t FlatModel::activation_bytes(int64_t B, double) const {
  const int64_t N = B * ctx_;
  return 4 * (body_.activation_floats(N) + uint64_t(N) * uint64_t(2 * d_ + 2 * VOCAB + 1));
}

double FlatModel::forward(const int32_t* tokens, const int32_t* targets, int64_t B, int64_t T) {
  if (T > ctx_) throw Error("sequence of " + std::to_string(T) + " tokens is longer than the model's context");
  const int64_t N = B * T;
  const float* W = weights();
  tokens_.assign(tokens, tokens + N);
  grow(x_, N * d_), grow(y_, N * d_);
  std::vector<int64_t> offsets(size_t(B + 1));
  for (int64_t b = 0; b <= B; ++b) offsets[size_t(b)] = b * T;
  k::embedding_forward(tokens, N, W + embed_, d_, x_.data());
  body_.forward(W, x_.data(), offsets.data(), B, y_.data(), precision_);
  head_.forward(W, y_.data(), N, precision_);
  last_flops_ = double(N) * flops_per_byte();
  return targets ? head_.score(targets, N) : 0;
}

void FlatModel::backward(float grad_scale) {
  const int64_t N = int64_t(tokens_.size());
  const float* W = weights();
  float* G = grads.data();
  grow(dy_, N * d_), grow(dx_, N * d_);
  head_.backward(W, G, y_.data(), grad_scale, dy_.data(), precision_);
  body_.backward(W, G, dy_.data(), dx_.data(), precision_);
  k::embedding_backward(tokens_.data(), N, dx_.data(), d_, G + embed_);
}

const float* FlatModel::extend(KVCache& cache, const int32_t* tokens, int64_t n) {
  if (n < 1) throw Error("extend needs at least one token");
  if (cache.capacity != ctx_) cache.reset(body_.shape().layers, ctx_, d_);
  const float* W = weights();
  grow(x_, n * d_), grow(y_, n * d_);
  k::embedding_forward(tokens, n, W + embed_, d_, x_.data());
  body_.extend(W, cache, x_.data(), n, y_.data(), precision_);
  return head_.row(W, y_.data() + (n - 1) * d_, precision_);
}

}  // namespace bytes
