// What models that read windows of bytes share (flat, patch, and the byte-level architectures to
// come): a token is BOS or a byte, a window is up to ctx tokens, target t is token t + 1. Training
// samples such windows, bytes-eval slides them over a document, generation extends a cache over
// them; each room only says how its network runs forward, backward and one step at a time.
#pragma once
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "bytes/models/model.hpp"

namespace bytes {

// The bookkeeping every DocumentScorer shares: the document's bytes still read by a later window,
// the windows waiting to run as one batch, and where the next window starts.
class WindowScorer : public DocumentScorer {
 public:
  WindowScorer(Model& model, int64_t stride, int64_t batch, ScoreSink sink);
  // In slices, so that a whole document pushed at once is held no more than a slice at a time.
  void push(const uint8_t* data, size_t n) final;
  size_t held() const final { return bytes_.size(); }

 protected:
  // A window reads inputs [lo, end) and scores targets [pos, end), in the model's units.
  struct Window {
    int64_t lo, pos, end;
  };
  virtual void push_slice(const uint8_t* data, size_t n) = 0;
  void keep_from(uint64_t offset);  // bytes before offset are read by no later window
  uint8_t byte_at(uint64_t offset) const { return bytes_[size_t(offset - base_)]; }
  void reset();  // a new document

  Model& model_;
  const int64_t ctx_, step_, batch_;
  ScoreSink sink_;
  // The document's bytes [base_, received_).
  std::vector<uint8_t> bytes_;
  uint64_t base_ = 0, received_ = 0;
  int64_t next_pos_ = 0;         // the first target no window holds yet
  std::vector<Window> pending_;  // windows waiting to be run as one batch
};

// Bits per nat, and the most likely byte of a row of logits (ties: the lowest).
inline const double inv_ln2 = 1.0 / std::log(2.0);
uint8_t argmax_byte(const float* logits);

class WindowModel : public Model {
 public:
  // B windows of T tokens (T ≤ ctx), each starting at position 0. With targets, returns the sum
  // of the per-token losses in nats (targets < 0 are not scored) and keeps what backward needs;
  // losses() then holds each token's loss, logits() the logits.
  virtual double forward(const int32_t* tokens, const int32_t* targets, int64_t B, int64_t T) = 0;
  // Adds grad_scale · ∂(sum of losses)/∂params into grads. Call after forward with targets.
  virtual void backward(float grad_scale) = 0;
  // Generation: appends tokens [0, n) to the cache (window positions cache.len, …) and returns
  // the logits that follow the last one (valid until the next call).
  virtual const float* extend(KVCache& cache, const int32_t* tokens, int64_t n) = 0;

  int64_t context() const override { return ctx_; }
  std::unique_ptr<Batches> batches(Sampler& split) override;
  std::unique_ptr<DocumentScorer> scorer(int64_t stride, int64_t batch, ScoreSink sink) override;
  std::unique_ptr<SymbolStream> stream(int64_t stride) override;

 protected:
  WindowModel(const Config& config, int64_t ctx) : Model(config), ctx_(ctx) {}
  const int64_t ctx_;
};

}  // namespace bytes
