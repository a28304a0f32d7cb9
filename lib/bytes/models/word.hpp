// The word model (HAT; SPEC.md "Models"): a byte encoder reads each word's bytes into one vector,
// a backbone runs over the words, and a byte decoder spells the next word from the backbone's
// conditioning vector. Its windows count words, cut by a WordSplitter: word.cpp holds the network,
// word_text.cpp the text protocols (training rows of words, bytes-eval's word windows, the
// generation stream).
#pragma once
#include <cstdint>
#include <vector>

#include "bytes/models/model.hpp"
#include "bytes/text/words.hpp"

namespace bytes {

const Architecture& word_architecture();

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

class WordModel final : public Model {
 public:
  explicit WordModel(const Config& config, bool trainable = true);

  // The sum of the losses (nats) of every scored word's symbols (and EOW); losses() and logits()
  // hold them by decoder row (batch.dec_start).
  double forward(const WordBatch& batch);
  void backward(float grad_scale);

  // Generation, in three steps. encode: a word's symbols → its backbone input (d_model).
  void encode_word(const int32_t* symbols, int64_t n, float* out);
  // The backbone over n more word vectors (cache of ctx words); the conditioning vector
  // (dec_d_model) of the last into cond.
  void backbone_extend(KVCache& cache, const float* words, int64_t n, float* cond);
  // The decoder within a word: appends symbols (the first must be EOW: the start) and returns
  // the logits of the next symbol (valid until the next call).
  const float* decoder_extend(KVCache& cache, const float* cond, const int32_t* symbols, int64_t n);
  void reset_backbone(KVCache& cache) const;
  void reset_decoder(KVCache& cache) const;

  WordSplitter splitter() const;
  int64_t word_cap() const { return cap_; }
  int64_t width() const { return D_; }           // of the backbone
  int64_t decoder_width() const { return dd_; }  // of the conditioning vector

  int64_t context() const override { return ctx_; }  // words
  double flops_per_byte() const override { return 0; }
  double weight_bytes_per_byte() const override { return 0; }
  // Every word of a prompt is encoded; the backbone's window slides over them.
  int64_t prompt_limit() const override { return INT64_MAX; }
  // bytes_per_unit: the mean word length (0: the cap, a bound six times too high for English),
  // with a quarter more for batches of longer words.
  uint64_t activation_bytes(int64_t rows, double bytes_per_unit) const override;
  std::unique_ptr<Batches> batches(Sampler& split) override;
  std::unique_ptr<DocumentScorer> scorer(int64_t stride, int64_t batch, ScoreSink sink) override;
  std::unique_ptr<SymbolStream> stream(int64_t stride) override;

 private:
  int64_t D_, de_, dd_, ctx_, cap_;
  WordRule rule_;
  // enc_embed (+ the word token right after it, row 258) → encoder → proj → backbone → cond →
  // decoder (dec_embed of the previous symbol + cond) → head.
  Stack encoder_, backbone_, decoder_;
  size_t embed_ = 0, proj_ = 0, cond_ = 0, dec_embed_ = 0;

  // Activations of the last forward: encoder rows, word vectors, backbone rows and decoder
  // conditioning per input word (vectors grow and stay).
  std::vector<int32_t> tokens_, enc_tokens_;
  std::vector<int64_t> enc_offsets_, bb_offsets_, dec_offsets_, input_word_, cond_of_row_;
  Buffer<float> x_, y_, dy_, dx_, enc_x_, enc_y_, wv_, bb_x_, bb_y_, conds_, dwv_, dbb_, dcond_;
};

}  // namespace bytes
