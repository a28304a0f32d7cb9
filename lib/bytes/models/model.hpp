// The byte models of SPEC.md "Models", built from Stacks of Llama-style blocks: flat
// (embedding → blocks → RMSNorm → head) and word (HAT: byte encoder → word backbone → byte
// decoder). Parameters and gradients each live in one contiguous block with named views into
// it (llm.c's layout). Saved as safetensors (bytes-model(5)).
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bytes/kernels/matmul.hpp"
#include "bytes/blocks/stack.hpp"

namespace bytes {

inline constexpr int32_t BOS = 256, EOW = 257, VOCAB = 258;
// The largest sizes a config may hold, bytes-train's limits: widths (of every stack), blocks per
// stack, context (bytes, or words for the word model).
inline constexpr int64_t max_width = 8192, max_layers = 256, max_ctx = int64_t(1) << 24;

struct Config {
  std::string arch = "flat";  // "flat", "word" or "patch"
  // flat: the model; word: the backbone (ctx counts words there, bytes otherwise); patch: the
  // global (coarsest) stage.
  int64_t d_model = 384, n_layers = 6, n_heads = 6, ffn_hidden = 1024, ctx = 256;
  double rope_base = 10000.0, norm_eps = 1e-5;
  int64_t vocab = VOCAB;
  // word only: the byte encoder and decoder, and the splitter.
  int64_t enc_d_model = 0, enc_layers = 0, enc_heads = 0, enc_ffn_hidden = 0;
  int64_t dec_d_model = 0, dec_layers = 0, dec_heads = 0, dec_ffn_hidden = 0;
  std::string word_rule = "whitespace";
  int64_t word_cap = 32;
  // patch only: units per stage, coarsest first ("16x4": 64-byte patches of 16 four-byte ones,
  // then bytes); each finer stage's sizes, coarsest first; the byte embedding width of each
  // stage but the finest (whose embedding is its width).
  std::string patch = "8";
  std::vector<int64_t> inner_d_model, inner_layers, inner_heads, inner_ffn_hidden, stage_embed;

  // The SPEC's derived sizes: heads of 64, SwiGLU hidden 64·round(8d/3/64).
  static Config flat(int64_t d_model, int64_t n_layers, int64_t ctx);
  static Config word(int64_t d_model, int64_t n_layers, int64_t ctx, int64_t enc_d_model, int64_t enc_layers,
                     int64_t dec_d_model, int64_t dec_layers);
  // A patch model: `patch` sizes, the global stage (d_model, n_layers) and every finer stage at
  // inner_d / inner_layers.
  static Config patch_model(const std::string& patch, int64_t d_model, int64_t n_layers, int64_t ctx, int64_t inner_d,
                            int64_t inner_layers);
  nlohmann::ordered_json to_json() const;
  static Config from_json(const nlohmann::json& j);  // throws Error on missing or bad fields
  void validate() const;                             // throws Error
  bool is_word() const { return arch == "word"; }
  bool is_patch() const { return arch == "patch"; }
  // Patch: units of the next finer stage per unit of each stage, coarsest first (throws Error
  // on a bad spec), and the bytes a unit of each stage holds (the last is 1, the bytes).
  std::vector<int64_t> patch_sizes() const;
  std::vector<int64_t> unit_bytes() const;
};

// SwiGLU hidden size for width d: 64·round(8d/3/64).
int64_t ffn_hidden_for(int64_t d);

class MappedFile;

// Rows of words for the word model. A row is words w₀ … w_m of one stretch of text: the
// backbone reads w₀ … w_{m−1} and predicts each next word's symbols. A word's symbols are its
// bytes, or BOS alone for the word that starts a document; a complete word's bytes are followed
// by EOW (the last word of a document is not: its end is the document's end).
struct WordBatch {
  std::vector<int32_t> symbols;
  std::vector<int64_t> word_start{0};  // word i: symbols [word_start[i], word_start[i + 1])
  std::vector<int64_t> row_start{0};   // row r: words [row_start[r], row_start[r + 1])
  std::vector<uint8_t> complete, scored;
  // Decoder rows of each scored word (its symbols, then EOW if complete), −1 for others.
  std::vector<int64_t> dec_start;
  int64_t dec_rows = 0;

  void add_word(const int32_t* s, int64_t n, bool complete, bool scored);
  void end_row();
  int64_t words() const { return int64_t(word_start.size()) - 1; }
  int64_t rows() const { return int64_t(row_start.size()) - 1; }
  int64_t length(int64_t w) const { return word_start[size_t(w + 1)] - word_start[size_t(w)]; }
  // The bytes the scored words hold (BOS is not a byte).
  uint64_t scored_bytes() const;
  void clear();
};

class Model {
 public:
  // trainable = false leaves params and grads empty (a model whose weights are mapped).
  explicit Model(const Config& config, bool trainable = true);

  const Config& config() const { return cfg_; }
  const std::vector<TensorInfo>& tensors() const { return layout_.tensors; }
  int64_t n_params() const { return int64_t(layout_.size); }
  // Flat: model FLOPs per trained byte, 6 · (params − embedding) + 6 · layers · d · ctx.
  double flops_per_byte() const;
  // Model FLOPs (forward and backward) of the last forward: weights and attention, as counted
  // for flops_per_byte.
  double last_flops() const { return last_flops_; }

  // normal(0, 0.02), wo and w2 scaled by 1/sqrt(2L) of their stack, norms 1; the same seed gives
  // the same weights.
  void init(uint64_t seed);

  // Flat: runs B sequences of T tokens (T <= ctx), each starting at position 0. With targets,
  // returns the sum of the per-token losses in nats (targets < 0 are not scored) and keeps what
  // backward needs; losses() then holds each token's loss. logits() holds the logits.
  double forward(const int32_t* tokens, const int32_t* targets, int64_t B, int64_t T);
  // Word: the sum of the losses (nats) of every scored word's symbols (and EOW); losses() and
  // logits() hold them by decoder row (batch.dec_start).
  double forward(const WordBatch& batch);
  // Adds grad_scale · ∂(sum of losses)/∂params into grads. Call after forward with targets.
  void backward(float grad_scale);

  // Bytes of activation memory a training forward/backward needs: flat and patch, B rows of T
  // tokens; word, B rows of T words of bytes_per_word bytes on average (0: the cap, a bound six
  // times too high for English) with a quarter more for batches of longer words.
  uint64_t activation_bytes(int64_t B, int64_t T, double bytes_per_word = 0) const;

  const float* logits() const { return logits_.data(); }
  const float* losses() const { return losses_.data(); }
  Precision precision = Precision::f32;

  // Flat and patch generation: appends tokens [0, n) to the cache (window positions cache.len,
  // …) and returns the logits that follow the last one (valid until the next call). The patch
  // model runs each stage once per unit of that stage, over its own cache.
  const float* extend(KVCache& cache, const int32_t* tokens, int64_t n);

  // Word generation, in three steps. encode: a word's symbols → its backbone input (d_model).
  void encode_word(const int32_t* symbols, int64_t n, float* out);
  // The backbone over n more word vectors (cache of ctx words); the conditioning vector
  // (dec_d_model) of the last into cond.
  void backbone_extend(KVCache& cache, const float* words, int64_t n, float* cond);
  // The decoder within a word: appends symbols (the first must be EOW: the start) and returns
  // the logits of the next symbol (valid until the next call).
  const float* decoder_extend(KVCache& cache, const float* cond, const int32_t* symbols, int64_t n);
  void reset_backbone(KVCache& cache) const { cache.reset(cfg_.n_layers, cfg_.ctx, cfg_.d_model); }
  void reset_decoder(KVCache& cache) const { cache.reset(cfg_.dec_layers, cfg_.word_cap + 2, cfg_.dec_d_model); }

  // The weights: params, or the mapped file of a model loaded with map = true.
  const float* weights() const { return mapped_ ? mapped_ : params.data(); }
  // Trainable copies; params is empty for a mapped model.
  std::vector<float> params, grads;

 private:
  double forward_flat(const int32_t* tokens, const int32_t* targets, int64_t B, int64_t T);
  void backward_flat(float grad_scale);
  void backward_word(float grad_scale);
  const float* patch_step(KVCache& cache);
  const float* patch_prefill(KVCache& cache);
  void patch_input(const KVCache& cache, size_t k, int64_t j, float* x);
  void patch_cond(KVCache& cache, size_t k, const float* y);
  double forward_patch(const int32_t* tokens, const int32_t* targets, int64_t B, int64_t T);
  void backward_patch(float grad_scale);
  double score(int64_t rows, const int32_t* targets, int64_t V);
  friend Model load_model(const std::string& path, bool map);

  Config cfg_;
  Layout layout_;
  std::shared_ptr<const MappedFile> mapping_;
  const float* mapped_ = nullptr;
  double last_flops_ = 0;

  // flat: embed → body → head. word: enc_embed (+ the word token right after it, row 258) →
  // encoder → proj → backbone → cond → decoder (dec_embed of the previous symbol + cond) → head.
  Stack body_, encoder_, backbone_, decoder_;
  size_t embed_ = 0, head_ = 0, proj_ = 0, cond_ = 0, dec_embed_ = 0;

  // Activations of the last forward and their gradients (vectors grow and stay).
  std::vector<int32_t> tokens_, targets_;
  std::vector<float> x_, y_, logits_, losses_, dy_, dx_;
  // word: encoder rows, word vectors, backbone rows and decoder conditioning per input word.
  std::vector<int32_t> enc_tokens_;
  std::vector<int64_t> enc_offsets_, bb_offsets_, dec_offsets_, input_word_, cond_of_row_;
  std::vector<float> enc_x_, enc_y_, wv_, bb_x_, bb_y_, conds_, dwv_, dbb_, dcond_;
  std::vector<float> gen_logits_, gen_cat_;

  // patch: stage k (0 the global stage, the last the bytes) and its tensors; the finest stage's
  // embedding is embed_ and its head head_.
  struct Stage {
    Stack stack;
    int64_t d = 0, unit = 1, per_parent = 1;  // width, bytes a unit, units per parent unit
    int64_t e = 0;                            // byte embedding width (coarse stages)
    size_t embed = 0, start = 0, proj = 0, cond = 0;
    int64_t rows = 0;                         // of the last forward
    std::vector<int64_t> offsets;
    std::vector<int32_t> tokens;              // the bytes each unit's input concatenates
    std::vector<float> c, x, y, cond_out, dy, dx, dcond;
  };
  std::vector<Stage> stages_;
  int64_t patch_T_ = 0, patch_B_ = 0, patch_T_in_ = 0;
};

// safetensors with the config in __metadata__ (bytes-model(5)).
void save_model(const Model& model, const std::string& path);
// map = true maps the file read-only instead of copying it (for inference); the model then has
// no params to train. Files in another tensor order are copied either way.
Model load_model(const std::string& path, bool map = false);
// Reads only the config from a model file's header.
Config read_model_config(const std::string& path);

}  // namespace bytes
