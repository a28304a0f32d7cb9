#include "bytes/runs/eval.hpp"

#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_getCParams: the level's window
#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bytes/base/interrupt.hpp"
#include "bytes/base/error.hpp"
#include "bytes/base/io.hpp"

namespace bytes {

std::vector<double> Scorer::bits(const uint8_t* doc, size_t n, std::vector<uint8_t>* top) {
  std::vector<double> out(n, 0.0);
  if (top) top->assign(n, 0);
  StreamScorer stream(model, stride, batch, [&](const ScoredByte& s) {
    out[size_t(s.offset)] = s.bits;
    if (top) (*top)[size_t(s.offset)] = s.top;
  });
  stream.push(doc, n);
  stream.finish();
  return out;
}

namespace {

size_t zstd_check(size_t r) {
  if (ZSTD_isError(r)) throw Error(std::string("zstd failed: ") + ZSTD_getErrorName(r));
  return r;
}

}  // namespace

ZstdCounter::ZstdCounter(int level)
    : cctx_(ZSTD_createCCtx()),
      level_(level),
      window_(size_t(1) << ZSTD_getCParams(level, ZSTD_CONTENTSIZE_UNKNOWN, 0).windowLog) {
  if (!cctx_) throw Error("zstd failed: out of memory");
  zstd_check(ZSTD_CCtx_setParameter(static_cast<ZSTD_CCtx*>(cctx_), ZSTD_c_compressionLevel, level));
}

ZstdCounter::~ZstdCounter() { ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(cctx_)); }

void ZstdCounter::compress(const uint8_t* data, size_t n, bool end) {
  ZSTD_inBuffer in{data, n, 0};
  for (;;) {
    ZSTD_outBuffer out{buf_.data(), buf_.size(), 0};
    const size_t left =
        zstd_check(ZSTD_compressStream2(static_cast<ZSTD_CCtx*>(cctx_), &out, &in, end ? ZSTD_e_end : ZSTD_e_continue));
    out_ += out.pos;
    if (end ? left == 0 : in.pos == in.size) break;
  }
}

void ZstdCounter::push(const uint8_t* data, size_t n) {
  in_ += n;
  if (!streaming_) {
    if (held_.size() + n <= window_) {
      held_.insert(held_.end(), data, data + n);
      return;
    }
    // Longer than the window: the length no longer changes zstd's parameters, so stream it.
    streaming_ = true;
    buf_.resize(ZSTD_CStreamOutSize());
    compress(held_.data(), held_.size(), false);
    std::vector<uint8_t>().swap(held_);
  }
  compress(data, n, false);
}

double ZstdCounter::bpb() {
  if (in_ == 0) return 0;
  if (!ended_ && streaming_) {
    compress(nullptr, 0, true);
  } else if (!ended_) {
    buf_.resize(ZSTD_compressBound(held_.size()));
    out_ = zstd_check(ZSTD_compressCCtx(static_cast<ZSTD_CCtx*>(cctx_), buf_.data(), buf_.size(), held_.data(),
                                        held_.size(), level_));
  }
  ended_ = true;
  return 8.0 * double(out_) / double(in_);
}

std::optional<ConditionalPair> parse_conditional(std::string_view line) {
  if (blank_line(line)) return std::nullopt;
  const auto j = parse_json_line(line);
  auto string_field = [&](const char* name) -> const std::string* {
    const auto it = j.find(name);  // end() for a value that is not an object
    return it != j.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
  };
  const std::string *context = string_field("context"), *target = string_field("target");
  if (!context || !target) throw Error("needs string fields \"context\" and \"target\"");
  return ConditionalPair{*context, *target};
}

double round6(double v) { return std::round(v * 1e6) / 1e6; }

std::string fixed4(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

double zstd_bpb(const uint8_t* data, size_t n, int level) {
  ZstdCounter z(level);
  z.push(data, n);
  return z.bpb();
}

}  // namespace bytes
