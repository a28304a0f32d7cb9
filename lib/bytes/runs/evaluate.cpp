#include "bytes/runs/evaluate.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

#include "bytes/base/error.hpp"
#include "bytes/base/io.hpp"
#include "bytes/base/progress.hpp"

namespace bytes {

std::string per_byte_line(uint64_t offset, const ScoredByte& s, bool json) {
  if (json)
    return nlohmann::ordered_json{{"offset", offset}, {"byte", s.byte}, {"bits", round6(s.bits)}, {"top", s.top}}.dump() +
           "\n";
  return std::to_string(offset) + "\t" + std::to_string(s.byte) + "\t" + fixed4(s.bits) + "\t" + std::to_string(s.top) +
         "\n";
}

EvalResult evaluate(Model& model, const EvalOptions& o, const std::function<void(std::string_view)>& out) {
  EvalResult r;
  r.stride = window_stride(model, o.stride);
  r.ctx = model.context();
  const bool per_byte = o.per_byte != EvalOptions::PerByte::none;
  std::string lines;  // the per-byte lines of the piece being scored
  StreamScorer scorer(model, o.stride, 16, [&](const ScoredByte& s) {
    r.bits += s.bits;
    if (per_byte) lines += per_byte_line(r.bytes + s.offset, s, o.per_byte == EvalOptions::PerByte::json);
  });
  auto send = [&] {
    if (!lines.empty()) out(lines);
    lines.clear();
  };
  ZstdCounter floor(19);
  Progress bar("eval", 0);
  std::vector<uint8_t> buf(1 << 16);
  uint64_t in_doc = 0;  // bytes of the current document read so far
  auto score = [&](size_t n) {
    scorer.push(buf.data(), n);
    floor.push(buf.data(), n);
    in_doc += n;
    bar.update(r.bytes + in_doc);
    send();
  };
  auto end_doc = [&] {
    scorer.finish();
    r.bytes += in_doc;
    in_doc = 0;
    ++r.docs;
  };
  const uint64_t limit = o.max_bytes;
  if (!o.dataset.empty()) {
    Dataset ds(o.dataset);
    bar.set_total(std::min(ds.stats(o.split).bytes, limit));
    for (uint64_t i = 0; i < ds.docs() && r.bytes < limit; ++i) {
      const Dataset::Doc d = ds.doc(i);
      if (d.split != o.split) continue;
      const uint64_t length = std::min(d.length, limit - r.bytes);
      for (uint64_t at = 0; at < length;) {
        const size_t n = size_t(std::min<uint64_t>(buf.size(), length - at));
        ds.read(o.split, d.offset + at, n, buf.data());
        score(n);
        at += n;
      }
      end_doc();
    }
    if (r.docs == 0)
      throw Error(std::string("the ") + split_name(o.split) + " split of " + o.dataset + " has no documents");
  } else {
    InputFile in(o.input);
    if (in.regular()) bar.set_total(std::min(in.size(), limit));
    while (in_doc < limit) {
      const size_t n = in.read(buf.data(), size_t(std::min<uint64_t>(buf.size(), limit - in_doc)));
      if (n == 0) break;
      score(n);
    }
    end_doc();
  }
  send();
  bar.finish();
  if (r.bytes == 0) throw Error("nothing to score: the input is empty");
  r.zstd_bpb = floor.bpb();
  r.zstd_level = floor.level();
  return r;
}

std::string eval_report(const EvalResult& r, bool json) {
  if (json)
    return nlohmann::ordered_json{{"bpb", round6(r.bpb())}, {"bits", round6(r.bits)}, {"bytes", r.bytes},
                                  {"docs", r.docs},         {"zstd_bpb", round6(r.zstd_bpb)}, {"stride", r.stride},
                                  {"ctx", r.ctx}}.dump() +
           "\n";
  return "bpb " + fixed4(r.bpb()) + "  zstd-" + std::to_string(r.zstd_level) + " " + fixed4(r.zstd_bpb) + "  bytes " +
         std::to_string(r.bytes) + "  docs " + std::to_string(r.docs) + "  stride " + std::to_string(r.stride) + "\n";
}

std::string eval_summary(const EvalResult& r) {
  return "bpb " + fixed4(r.bpb()) + "  zstd-" + std::to_string(r.zstd_level) + " " + fixed4(r.zstd_bpb) + "  bytes " +
         std::to_string(r.bytes);
}

}  // namespace bytes
