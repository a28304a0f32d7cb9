#include "bytes/models/word.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "bytes/base/error.hpp"
#include "bytes/kernels/kernels.hpp"

namespace bytes {

namespace k = kernels;

namespace {

struct Fields {
  StackFields backbone = stack_fields("", "the word backbone", 384, 6);
  Field ctx_words = {.name = "ctx_words", .help = "Context in words", .lo = 2, .hi = double(max_ctx),
                     .fallback = "64",
                     // bytes-model format 1 and bytes-train before it called it ctx.
                     .alias = "ctx"};
  StackFields enc = stack_fields("enc_", "the byte encoder", 256, 1);
  StackFields dec = stack_fields("dec_", "the byte decoder", 256, 2);
  Field word_rule = {.name = "word_rule", .type = Field::Type::text,
                     .help = "How text is cut into words: whitespace, spacelike (SpaceByte's) or hat (HAT's)",
                     .choices = {word_rule_name(WordRule::whitespace), word_rule_name(WordRule::spacelike),
                                 word_rule_name(WordRule::hat)},
                     .fallback = word_rule_name(WordRule::whitespace)};
  Field word_cap = {.name = "word_cap", .help = "Longest word in bytes; longer ones are cut at characters", .lo = 4,
                    .hi = 4096, .fallback = "32"};
  Field rope_base = rope_base_field(), norm_eps = norm_eps_field(), vocab = vocab_field();
};
const Fields& fields() {
  static const Fields f;
  return f;
}

}  // namespace

const Architecture& word_architecture() {
  const Fields& f = fields();
  static const Architecture a{
      .name = "word",
      .help = "HAT: byte encoder, word backbone, byte decoder",
      .fields = {f.backbone.d_model, f.backbone.layers, f.backbone.n_heads, f.backbone.ffn_hidden, f.ctx_words,
                 f.rope_base, f.norm_eps, f.vocab, f.enc.d_model, f.enc.layers, f.enc.ffn_hidden, f.dec.d_model,
                 f.dec.layers, f.dec.ffn_hidden, f.word_rule, f.word_cap},
      .check = nullptr,
      .make = [](const Config& c, bool trainable) -> std::unique_ptr<Model> { return std::make_unique<WordModel>(c, trainable); },
      // The backbone as the flat model's rungs; the byte stacks at half its width or less (64 at least).
      .rungs = {{{{"d_model", "64"}, {"n_layers", "2"}, {"enc_d_model", "64"}, {"dec_d_model", "64"}, {"dec_layers", "1"}}, 4e-3},
                {{{"d_model", "128"}, {"n_layers", "2"}, {"enc_d_model", "64"}, {"dec_d_model", "64"}}, 4e-3},
                {{{"d_model", "192"}, {"n_layers", "3"}, {"enc_d_model", "128"}, {"dec_d_model", "128"}}, 3e-3},
                {{{"d_model", "256"}, {"n_layers", "4"}, {"enc_d_model", "128"}, {"dec_d_model", "128"}}, 2e-3},
                {{{"d_model", "384"}, {"n_layers", "4"}, {"enc_d_model", "256"}, {"dec_d_model", "256"}}, 1.5e-3},
                {{{"d_model", "512"}, {"n_layers", "6"}, {"enc_d_model", "256"}, {"dec_d_model", "256"}}, 1e-3},
                {{{"d_model", "768"}, {"n_layers", "8"}, {"enc_d_model", "384"}, {"dec_d_model", "384"}}, 6e-4}}};
  return a;
}

WordModel::WordModel(const Config& c, bool trainable)
    : Model(c),
      D_(c.integer(fields().backbone.d_model)),
      de_(c.integer(fields().enc.d_model)),
      dd_(c.integer(fields().dec.d_model)),
      ctx_(c.integer(fields().ctx_words)),
      cap_(c.integer(fields().word_cap)),
      rule_(parse_word_rule(c.text(fields().word_rule))) {
  const Fields& f = fields();
  auto shape = [&](const StackFields& s, int64_t d, bool causal) {
    return StackShape{d, c.integer(s.layers), c.integer(s.ffn_hidden), causal, float(c.real(f.rope_base)),
                      float(c.real(f.norm_eps))};
  };
  // The word token follows the byte table directly: one 259-row table for the encoder's input.
  embed_ = layout_.add("encoder.embed.weight", {VOCAB, de_});
  layout_.add("encoder.word.weight", {1, de_});
  encoder_ = Stack(shape(f.enc, de_, false), "encoder.", layout_);
  proj_ = layout_.add("encoder.proj.weight", {D_, de_});
  backbone_ = Stack(shape(f.backbone, D_, true), "backbone.", layout_);
  cond_ = layout_.add("decoder.cond.weight", {dd_, D_});
  dec_embed_ = layout_.add("decoder.embed.weight", {VOCAB, dd_});
  decoder_ = Stack(shape(f.dec, dd_, true), "decoder.", layout_);
  head_ = Head("decoder.head.weight", dd_, layout_);
  if (trainable) allocate_params();
}

WordSplitter WordModel::splitter() const { return WordSplitter(rule_, size_t(cap_)); }

uint64_t WordModel::activation_bytes(int64_t B, double bytes_per_word) const {
  const double per_word = bytes_per_word > 0 ? std::min(1.25 * bytes_per_word, double(cap_)) : double(cap_);
  const int64_t words = B * ctx_, bytes = int64_t(std::ceil(double(words) * per_word)), de = de_, dd = dd_, d = D_,
                V = VOCAB;
  return 4 * (encoder_.activation_floats(words + bytes) + backbone_.activation_floats(words) +
              decoder_.activation_floats(words + bytes) + uint64_t(words + bytes) * uint64_t(2 * de + 2 * dd + 2 * V) +
              uint64_t(words) * uint64_t(de * 2 + d * 4 + dd * 2));
}

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

double WordModel::forward(const WordBatch& batch) {
  const int64_t de = de_, D = D_, dd = dd_;
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
  encoder_.forward(W, enc_x_.data(), enc_offsets_.data(), Nw, enc_y_.data(), precision_);
  for (int64_t u = 0; u < Nw; ++u)
    std::memcpy(wv_.data() + u * de, enc_y_.data() + enc_offsets_[size_t(u)] * de, size_t(de) * sizeof(float));
  linear(wv_.data(), W + proj_, bb_x_.data(), Nw, de, D, false, precision_);
  backbone_.forward(W, bb_x_.data(), bb_offsets_.data(), batch.rows(), bb_y_.data(), precision_);
  linear(bb_y_.data(), W + cond_, conds_.data(), Nw, D, dd, false, precision_);

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
  grow(x_, Nd * dd), grow(y_, Nd * dd);
  k::embedding_forward(tokens_.data(), Nd, W + dec_embed_, dd, x_.data());
  add_rows(x_.data(), conds_.data(), cond_of_row_.data(), Nd, dd);
  decoder_.forward(W, x_.data(), dec_offsets_.data(), S, y_.data(), precision_);
  head_.forward(W, y_.data(), Nd, precision_);
  last_flops_ = stack_flops(encoder_, enc_offsets_) + stack_flops(backbone_, bb_offsets_) +
                stack_flops(decoder_, dec_offsets_) + 6.0 * double(Nw) * double(de * D + D * dd) +
                6.0 * double(Nd) * double(dd * VOCAB);
  return head_.score(targets.data(), Nd);
}

void WordModel::backward(float grad_scale) {
  const int64_t de = de_, D = D_, dd = dd_;
  const int64_t Nd = int64_t(tokens_.size()), Nw = int64_t(bb_offsets_.back()), Ne = int64_t(enc_tokens_.size());
  const float* W = weights();
  float* G = grads.data();
  grow(dy_, std::max(Nd * dd, Ne * de)), grow(dx_, std::max(Nd * dd, Ne * de));
  grow(dcond_, Nw * dd), grow(dbb_, Nw * D), grow(dwv_, Nw * de);
  // Decoder and head.
  head_.backward(W, G, y_.data(), grad_scale, dy_.data(), precision_);
  decoder_.backward(W, G, dy_.data(), dx_.data(), precision_);
  k::embedding_backward(tokens_.data(), Nd, dx_.data(), dd, G + dec_embed_);
  // Each word's conditioning vector was added to every row of the word after it.
  std::fill(dcond_.begin(), dcond_.begin() + Nw * dd, 0.0f);
  add_rows_backward(dx_.data(), cond_of_row_.data(), Nd, dd, dcond_.data());
  // Backbone and the projections around it.
  linear_backward(dcond_.data(), bb_y_.data(), W + cond_, dbb_.data(), G + cond_, Nw, D, dd, precision_);
  backbone_.backward(W, G, dbb_.data(), dbb_.data(), precision_);
  linear_backward(dbb_.data(), wv_.data(), W + proj_, dwv_.data(), G + proj_, Nw, de, D, precision_);
  // Encoder: only each word token's output row was used.
  std::fill(dy_.begin(), dy_.begin() + Ne * de, 0.0f);
  for (int64_t u = 0; u < Nw; ++u)
    std::memcpy(dy_.data() + enc_offsets_[size_t(u)] * de, dwv_.data() + u * de, size_t(de) * sizeof(float));
  encoder_.backward(W, G, dy_.data(), dx_.data(), precision_);
  k::embedding_backward(enc_tokens_.data(), Ne, dx_.data(), de, G + embed_);
}

void WordModel::encode_word(const int32_t* symbols, int64_t n, float* out) {
  const float* W = weights();
  enc_tokens_.assign(1, VOCAB);
  enc_tokens_.insert(enc_tokens_.end(), symbols, symbols + n);
  const int64_t offsets[2] = {0, n + 1};
  grow(enc_x_, (n + 1) * de_), grow(enc_y_, (n + 1) * de_);
  k::embedding_forward(enc_tokens_.data(), n + 1, W + embed_, de_, enc_x_.data());
  encoder_.forward(W, enc_x_.data(), offsets, 1, enc_y_.data(), precision_);
  linear(enc_y_.data(), W + proj_, out, 1, de_, D_, false, precision_);
}

void WordModel::backbone_extend(KVCache& cache, const float* words, int64_t n, float* cond) {
  const float* W = weights();
  grow(bb_y_, n * D_);
  backbone_.extend(W, cache, words, n, bb_y_.data(), precision_);
  linear(bb_y_.data() + (n - 1) * D_, W + cond_, cond, 1, D_, dd_, false, precision_);
}

const float* WordModel::decoder_extend(KVCache& cache, const float* cond, const int32_t* symbols, int64_t n) {
  const float* W = weights();
  grow(x_, n * dd_), grow(y_, n * dd_);
  k::embedding_forward(symbols, n, W + dec_embed_, dd_, x_.data());
  const std::vector<int64_t> same(size_t(n), 0);  // every row takes the one vector
  add_rows(x_.data(), cond, same.data(), n, dd_);
  decoder_.extend(W, cache, x_.data(), n, y_.data(), precision_);
  return head_.row(W, y_.data() + (n - 1) * dd_, precision_);
}

void WordModel::reset_backbone(KVCache& cache) const { cache.reset(backbone_.shape().layers, ctx_, D_); }
void WordModel::reset_decoder(KVCache& cache) const { cache.reset(decoder_.shape().layers, cap_ + 2, dd_); }

}  // namespace bytes
