// What training, evaluation, generation and the benchmarks need from a model, whatever its
// architecture (SPEC.md "Models"). Each architecture is one room (models/flat, word, patch) behind
// this interface, listed once in models/registry.cpp; nothing outside its room knows how it
// reads its bytes. Parameters and gradients each live in one contiguous block with named views
// into it (llm.c's layout), saved as safetensors (bytes-model(5)).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bytes/blocks/head.hpp"
#include "bytes/blocks/stack.hpp"
#include "bytes/kernels/bf16.hpp"
#include "bytes/kernels/matmul.hpp"
#include "bytes/models/config.hpp"

namespace bytes {

class MappedFile;
class Sampler;

// Training draws micro-batches from a split through its model's Batches: byte windows for most
// models, runs of words for the word model.
struct MicroBatch {
  double loss = 0;     // nats, summed over the scored symbols
  uint64_t bytes = 0;  // bytes scored
  double flops = 0;    // model FLOPs of its forward and backward (Model::last_flops)
};
class Batches {
 public:
  virtual ~Batches() = default;
  // Bytes one unit of the context holds on this split: 1 for a byte model, the mean word length
  // for the word model (how a byte budget becomes steps, and how memory is estimated).
  virtual double bytes_per_unit() const = 0;
  // Draws micro-batch `index` of `rows` rows (the same seed and index always give the same
  // batch), runs it forward and backward, and adds the gradient of its mean loss per scored
  // symbol, divided by accum, into the model's grads.
  virtual MicroBatch train(uint64_t seed, uint64_t index, int64_t rows, int64_t accum) = 0;
};

// One byte of a document, scored by bytes-eval's window protocol: −log2 p of the byte given BOS and
// the bytes before it, and the byte the model found most likely there (ties: the lowest). For a
// word model a complete word's EOW bits are added to the next word's first byte (SPEC.md's rule:
// every symbol the model must emit counts; the byte whose arrival ends the word carries them).
struct ScoredByte {
  uint64_t offset;
  uint8_t byte, top;
  double bits;
};
using ScoreSink = std::function<void(const ScoredByte&)>;

// Scores one document as its bytes arrive: push() them in pieces of any size, then finish();
// the next push() starts a new document. Each byte goes to the sink once, in order, when its bits
// are final; the bits do not depend on how the bytes were cut into pieces, and memory is bounded
// by the model's windows, not the document.
class DocumentScorer {
 public:
  virtual ~DocumentScorer() = default;
  virtual void push(const uint8_t* data, size_t n) = 0;
  virtual void finish() = 0;
  virtual size_t held() const = 0;  // bytes of the document held now
};

// A document being generated: BOS, then the bytes (and, for hierarchical models, the markers)
// fed so far. Each feed returns the logits (VOCAB) of the next symbol, predicted from the window
// bytes-eval would use for it.
class SymbolStream {
 public:
  virtual ~SymbolStream() = default;
  // Starts a new document: BOS followed by the prompt's bytes, processed as one block.
  virtual const float* start(const uint8_t* prompt, size_t n) = 0;
  // Appends one symbol.
  virtual const float* push(int32_t symbol) = 0;
  // Whether the model may emit this symbol next (a byte model: the bytes and BOS, never EOW; a
  // word model: what keeps its words the splitter's words).
  virtual bool emits(int32_t symbol) const = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const Config& config() const { return cfg_; }
  const std::vector<TensorInfo>& tensors() const { return layout_.tensors; }
  int64_t n_params() const { return int64_t(layout_.size); }
  // The weights: params, or the mapped file of a model loaded with map = true.
  const float* weights() const { return mapped_ ? mapped_ : params.data(); }
  // Trainable copies; empty for a mapped model.
  Buffer<float> params, grads;

  // The precision of the matrix products. bf16 keeps a bf16 copy of the weights for them; where
  // the CPU has no bf16 matrix kernels only one-row products (generation) read it and the rest run
  // in f32: the precision that runs is returned. Call it once the weights are in.
  Precision set_precision(Precision p);
  Precision precision() const { return precision_; }
  // Training's products read the weights (or their bf16 copy) packed in the kernels' layouts
  // (PackedWeights), remade after each change: up to twice the weights' memory, worth it where
  // every weight is read by two products of many rows per update. Generation and evaluation read
  // each weight once per row or prompt, and do not pack. Call it after set_precision.
  void pack_weights();
  // After the weights changed (an optimizer step, any write to params once set_precision ran):
  // refreshes the bf16 copy and marks the packs stale. Without it the products read old weights.
  void weights_changed();

  // Makes the parameter and gradient blocks (zeros) of a model made with trainable = false.
  void allocate_params();
  // normal(0, 0.02), output projections scaled by 1/sqrt(2L) of their stack, norms 1; the same
  // seed gives the same weights.
  void init(uint64_t seed);

  // The units one window holds (ctx): bytes, or words for the word model.
  virtual int64_t context() const = 0;
  // Model FLOPs per trained byte of a full window (0 where it depends on the text: words).
  virtual double flops_per_byte() const = 0;
  // Model FLOPs (forward and backward: weights and attention) of the last forward.
  double last_flops() const { return last_flops_; }
  // Model FLOPs per byte of a prompt processed as one block (0 where the model does not count
  // them: the patch model runs its byte stage over the last patch only).
  virtual double prompt_flops_per_byte() const { return 0; }
  // The longest prompt a generation stream processes whole: a byte model's window, BOS first.
  virtual int64_t prompt_limit() const { return context() - 1; }
  // Bytes of weights generating one byte reads (0 where it depends on the text).
  virtual double weight_bytes_per_byte() const = 0;
  // Bytes of activation memory a training step of `rows` full windows needs, with bytes_per_unit
  // as Batches gives it (0: the worst case).
  virtual uint64_t activation_bytes(int64_t rows, double bytes_per_unit) const = 0;

  virtual std::unique_ptr<Batches> batches(Sampler& split) = 0;
  virtual std::unique_ptr<DocumentScorer> scorer(int64_t stride, int64_t batch, ScoreSink sink) = 0;
  virtual std::unique_ptr<SymbolStream> stream(int64_t stride) = 0;

  // The logits and losses of the last scored forward, by row.
  const float* logits() { return head_.logits(); }
  const float* losses() { return head_.losses(); }

 protected:
  // A room's constructor lays out its tensors, then calls allocate_params() if trainable (a model
  // that is not leaves them empty: its weights are mapped, or it only tells sizes).
  explicit Model(const Config& config) : cfg_(config) {}

  Config cfg_;
  Layout layout_;
  Head head_;
  double last_flops_ = 0;
  Precision precision_ = Precision::f32;

 private:
  friend std::unique_ptr<Model> load_model(const std::string& path, bool map);
  std::shared_ptr<const MappedFile> mapping_;
  const float* mapped_ = nullptr;
  std::unique_ptr<Bf16Weights> bf16_;
  std::unique_ptr<PackedWeights> packs_, packs16_;  // the weights' packs, and the bf16 copy's
};

// A new model of this config (weights zero until init or a load).
std::unique_ptr<Model> make_model(const Config& config, bool trainable = true);

// The window stride a requested stride gives (0: ctx/2; at most ctx), in the model's units.
// bytes-eval and generation slide their windows by it.
int64_t window_stride(const Model& model, int64_t stride);

// Model FLOPs of a stack over segments of these lengths (offsets): 6 per weight per row, and
// attention's 6 · layers · d per pair of rows of a segment.
double stack_flops(const Stack& s, const std::vector<int64_t>& offsets);

// safetensors with the config in __metadata__ (bytes-model(5)). map = true maps the file
// read-only instead of copying it (for inference); the model then has no params to train. Files in
// another tensor order are copied either way.
void save_model(const Model& model, const std::string& path);
std::unique_ptr<Model> load_model(const std::string& path, bool map = false);
// Reads only the config from a model file's header.
Config read_model_config(const std::string& path);
// The XXH3-64 of a whole file (base/hash.hpp), as 16 hex digits: what a run started from a model
// file (bytes-train --init) records of its parent.
std::string file_checksum(const std::string& path);

}  // namespace bytes
