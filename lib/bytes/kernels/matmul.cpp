#include "bytes/kernels/matmul.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <dnnl.hpp>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "bytes/base/error.hpp"
#include "bytes/base/memory.hpp"
#include "bytes/kernels/bf16.hpp"
#include "bytes/kernels/cpu.hpp"

namespace bytes {
namespace {

using dt = dnnl::memory::data_type;
using dims = dnnl::memory::dims;

dnnl::engine& engine() {
  static dnnl::engine e = [] {
    // oneDNN keeps its own cache of up to 1024 primitives behind ours; with shapes that change
    // every step (the word model) it held hundreds of megabytes ours had let go. Ours decides.
    dnnl::set_primitive_cache_capacity(0);
    return dnnl::engine(dnnl::engine::kind::cpu, 0);
  }();
  return e;
}
dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}

struct Key {
  int64_t m, n, k;
  bool ta, tb, acc, add;
  Precision p;
  bool packed;  // B is weights that may be read packed (PackedWeights)
  auto tie() const { return std::tie(m, n, k, ta, tb, acc, add, p, packed); }
  bool operator<(const Key& o) const { return tie() < o.tie(); }
};

struct Cached {
  dnnl::matmul prim;
  dnnl::memory a, b, c, add;
  bool packed;  // b's descriptor is a blocked layout: the product reads a pack
};

dnnl::memory::desc desc(int64_t rows, int64_t cols, bool trans, dt type) {
  // A row-major rows×cols operand, or the transpose of a row-major cols×rows one.
  return dnnl::memory::desc(dims{rows, cols}, type, trans ? dims{1, rows} : dims{cols, 1});
}

// bf16 products take bf16 operands and write f32.
Cached make(const Key& key) {
  const dt in = key.p == Precision::bf16 ? dt::bf16 : dt::f32;
  auto a = desc(key.m, key.k, key.ta, in), b = desc(key.k, key.n, key.tb, in), c = desc(key.m, key.n, false, dt::f32);
  dnnl::primitive_attr attr;
  dnnl::post_ops ops;
  if (key.acc) ops.append_sum(1.0f);
  if (key.add) ops.append_binary(dnnl::algorithm::binary_add, c);  // a second operand of C's shape
  attr.set_post_ops(ops);
  auto pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, c), attr, engine());
  bool packed = false;
  if (key.packed) {
    // oneDNN picks B's layout for the shape; a row-major one gains nothing from a pack.
    const dnnl::memory::desc any(dims{key.k, key.n}, in, dnnl::memory::format_tag::any);
    auto chosen = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, any, c), attr, engine());
    if (chosen.weights_desc().data.format_desc.blocking.inner_nblks > 0) {
      pd = chosen;
      b = chosen.weights_desc();
      packed = true;
    }
  }
  return {dnnl::matmul(pd), dnnl::memory(a, engine(), nullptr), dnnl::memory(b, engine(), nullptr),
          dnnl::memory(c, engine(), nullptr), dnnl::memory(c, engine(), nullptr), packed};
}

// The primitives of the most recently used shapes, most recent first. A model whose row counts
// change every step (the word model: rows are the bytes of the words drawn) meets new shapes
// without end; keeping them all grew training by megabytes a step.
struct Cache {
  std::mutex mutex;
  std::list<std::pair<Key, std::shared_ptr<Cached>>> recent;
  std::map<Key, decltype(recent)::iterator> where;
};
Cache& cache() {
  static Cache c;
  return c;
}

std::shared_ptr<Cached> lookup(const Key& key) {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  if (auto it = c.where.find(key); it != c.where.end()) {
    c.recent.splice(c.recent.begin(), c.recent, it->second);
    return it->second->second;
  }
  c.recent.emplace_front(key, std::make_shared<Cached>(make(key)));
  c.where[key] = c.recent.begin();
  if (c.recent.size() > matmul_cache_entries) {
    c.where.erase(c.recent.back().first);
    c.recent.pop_back();
  }
  return c.recent.front().second;
}

// One row times wᵀ (generation's products): every weight is read once, so the product is bound by
// memory bandwidth, and oneDNN's blocked kernels (made for many rows) leave much of it unused.
// Each output is one dot product over a contiguous row of w, the rows split among threads: the
// result does not depend on the thread count.
// Weights in f32, or in bf16 (half the bytes to read; widening bf16 to f32 is a shift). bf16 rows
// are asked for 4 KiB ahead: at half the bytes per multiply-add the hardware prefetcher fell behind
// (AMD EPYC, 2 threads, 1.8 GB of weights, alternating in one process: bf16 49-53 -> 54-56 GB/s;
// 1 or 2 KiB ahead no better; f32 rows asked for ahead lost 5%, so they are not).
__attribute__((target("avx2,fma"))) inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
__attribute__((target("avx2,fma"))) inline __m256 load8(const bf16_t* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p)), 16));
}
inline float to_float(float x) { return x; }
inline float to_float(bf16_t x) { return bf16_to_float(x); }

template <typename W>
__attribute__((target("avx2,fma"))) float dot_avx2(const float* a, const W* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    if constexpr (sizeof(W) == 2) _mm_prefetch((const char*)(b + i) + 4096, _MM_HINT_T0);
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load8(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), load8(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), load8(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), load8(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load8(b + i), s0);
  __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  float total = _mm_cvtss_f32(h);
  for (; i < n; ++i) total += a[i] * to_float(b[i]);
  return total;
}

template <typename W>
float dot_plain(const float* a, const W* b, int64_t n) {
  float total = 0;
#pragma omp simd reduction(+ : total)
  for (int64_t i = 0; i < n; ++i) total += a[i] * to_float(b[i]);
  return total;
}

// y = base + x·wᵀ, base being y itself (accumulate), another row (a residual), or none.
template <typename W>
void gemv(const float* x, const W* w, float* y, int64_t out, int64_t in, const float* base) {
  const bool avx2 = kernels::has_avx2_fma();
#pragma omp parallel for schedule(static) if (out * in >= (1 << 16))
  for (int64_t o = 0; o < out; ++o) {
    const float d = avx2 ? dot_avx2(x, w + o * in, in) : dot_plain(x, w + o * in, in);
    y[o] = base ? base[o] + d : d;
  }
}

// An operand in bf16: the live copy of weights, or this call's rounding into `scratch`.
const bf16_t* as_bf16(const float* x, size_t n, std::vector<bf16_t>& scratch) {
  if (const bf16_t* copy = bf16_copy_of(x)) return copy;
  if (scratch.size() < n) scratch.resize(n);
  to_bf16(x, scratch.data(), n);
  return scratch.data();
}

}  // namespace

std::string precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : "f32"; }

size_t matmul_cache_size() {
  std::lock_guard lock(cache().mutex);
  return cache().recent.size();
}

struct PackedWeights::Block {
  const uint8_t* base = nullptr;
  size_t bytes = 0;
  uint64_t generation = 1;  // the weights' version: a pack made at an older one is stale
  struct Pack {
    uint8_t* data;
    uint64_t generation = 0;
  };
  // By the weights' first element and the product's B: rows, columns, transposed, precision.
  std::map<std::tuple<const void*, int64_t, int64_t, bool, Precision>, Pack> packs;
  // Packs live in huge pages, several to a chunk: a pack of 1.8 MB in plain pages took 3–8 ms to
  // write from cold weights inside a training step, 0.2–0.9 ms in a huge page. Chunks of up to
  // 16 MiB (the packs of a small model take one chunk of their own size): a chunk leaves unused at
  // most the pack that did not fit, where a 2 MiB chunk held one 1.57 MB pack (w2 at d 384) and a
  // fifth of it stayed empty.
  std::vector<Buffer<uint8_t>> chunks;
  size_t chunk_used = 0;
  uint8_t* allocate(size_t n) {
    n = (n + 63) / 64 * 64;
    if (chunks.empty() || chunk_used + n > chunks.back().size()) {
      const size_t all = (2 * bytes + large_block - 1) / large_block * large_block;  // two layouts
      chunks.emplace_back(std::max(n, std::min(8 * large_block, all)));
      chunk_used = 0;
    }
    chunk_used += n;
    return chunks.back().data() + chunk_used - n;
  }
};

namespace {

// The live blocks of weights, and the reorders that pack them (by shape and layout).
struct PackRegistry {
  std::mutex mutex;
  std::vector<PackedWeights::Block*> blocks;
  std::map<std::tuple<int64_t, int64_t, bool, Precision>, dnnl::reorder> reorders;
};
PackRegistry& pack_registry() {
  static PackRegistry r;
  return r;
}

PackedWeights::Block* block_of(const void* w) {
  const auto* p = static_cast<const uint8_t*>(w);
  for (auto* b : pack_registry().blocks)
    if (p >= b->base && p < b->base + b->bytes) return b;
  return nullptr;
}

constexpr int64_t pack_min_rows = 64;

// The pack of weights w (in `block`) as the product g's B in layout `packed`, made now if it is stale.
const void* pack_of(PackedWeights::Block* block, const Gemm& g, Precision p, const void* w,
                    const dnnl::memory::desc& packed) {
  PackRegistry& r = pack_registry();
  std::lock_guard lock(r.mutex);
  auto [at, fresh] = block->packs.try_emplace({w, g.k, g.n, g.trans_b, p});
  auto& pack = at->second;
  if (fresh) pack.data = block->allocate(packed.get_size());
  if (pack.generation == block->generation) return pack.data;
  const dt type = p == Precision::bf16 ? dt::bf16 : dt::f32;
  const auto plain = desc(g.k, g.n, g.trans_b, type);
  auto [it, made] = r.reorders.try_emplace({g.k, g.n, g.trans_b, p});
  if (made) it->second = dnnl::reorder(dnnl::memory(plain, engine(), nullptr), dnnl::memory(packed, engine(), nullptr));
  dnnl::memory from(plain, engine(), const_cast<void*>(w)), to(packed, engine(), pack.data);
  it->second.execute(stream(), from, to);
  pack.generation = block->generation;
  return pack.data;
}

// C = op(A)·op(B) on operands already in p's type (f32 or bf16) through the cached primitive.
void run_product(const Gemm& g, Precision p, const void* a, const void* b, float* c) {
  // Packed: B is registered weights read by a product of rows (not a weight gradient, whose B is
  // activations), enough rows for the pack to pay for itself within a step.
  PackedWeights::Block* block = nullptr;
  if (!g.trans_a && g.m >= pack_min_rows) {
    std::lock_guard lock(pack_registry().mutex);
    block = block_of(b);
  }
  const auto held = lookup({g.m, g.n, g.k, g.trans_a, g.trans_b, g.accumulate, g.add != nullptr, p, block != nullptr});
  Cached& cached = *held;
  if (cached.packed) b = pack_of(block, g, p, b, cached.b.get_desc());
  cached.a.set_data_handle(const_cast<void*>(a));
  cached.b.set_data_handle(const_cast<void*>(b));
  cached.c.set_data_handle(c);
  // A tiny product (a small model's one-token step) runs on this thread: oneDNN reads the thread
  // count at execution, and a fork would cost more than the product.
  const int threads = omp_get_max_threads();
  const bool tiny = g.m * g.n * g.k < (1 << 16) && threads > 1;
  if (tiny) omp_set_num_threads(1);
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, cached.a}, {DNNL_ARG_WEIGHTS, cached.b}, {DNNL_ARG_DST, cached.c}};
  if (g.add) {
    cached.add.set_data_handle(const_cast<float*>(g.add));
    const int position = g.accumulate ? 1 : 0;  // after the sum, where there is one (make())
    args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(position) | DNNL_ARG_SRC_1, cached.add);
  }
  cached.prim.execute(stream(), args);
  if (tiny) omp_set_num_threads(threads);
}

// Rows of a product come in blocks of row_block: a model whose row counts change with every batch
// (the word model: rows are the bytes of the words drawn) would otherwise meet a new shape, and
// make a new primitive (0.5 ms each), in nearly every product of every step. The rows past the
// last whole block go through a block of their own in scratch, padded: a product whose rows are
// M (forward, input gradient) pads the rows of A and C; one whose sum runs over the rows (weight
// gradient: op(A) = dYᵀ, B = X, both stored by rows) pads both with zero rows and adds into C.
// The shapes a model meets are then its whole-block counts and one padded block. Only from
// split_rows rows on: the padding computes up to 63 rows for nothing (at most 6% there), and a
// smaller product of one fixed shape (a 257-row prompt) is better off with its own primitive.
constexpr int64_t row_block = 64, split_rows = 16 * row_block;

struct Padded {
  std::vector<uint8_t> a, b;
  std::vector<float> c, add;
};
Padded& padded() {
  thread_local Padded s;
  return s;
}

// Rows [from, from + n) of a row-major matrix of `cols` elements of `size` bytes into `out` as
// row_block rows, the rest zero.
void pad_rows(const void* m, int64_t from, int64_t n, int64_t cols, size_t size, std::vector<uint8_t>& out) {
  const size_t row = size_t(cols) * size;
  out.assign(size_t(row_block) * row, 0);
  std::memcpy(out.data(), static_cast<const uint8_t*>(m) + size_t(from) * row, size_t(n) * row);
}

void execute(const Gemm& g, Precision p, const void* a, const void* b, float* c) {
  const size_t size = p == Precision::bf16 ? sizeof(bf16_t) : sizeof(float);
  Padded& s = padded();
  if (!g.trans_a && g.m >= split_rows && g.m % row_block != 0) {
    const int64_t whole = g.m / row_block * row_block, rest = g.m - whole;
    Gemm bulk = g, tail = g;
    bulk.m = whole;
    tail.m = row_block;
    run_product(bulk, p, a, b, c);
    pad_rows(a, whole, rest, g.k, size, s.a);
    s.c.assign(size_t(row_block * g.n), 0.0f);
    if (g.accumulate) std::copy(c + whole * g.n, c + g.m * g.n, s.c.begin());
    if (g.add) {
      s.add.assign(size_t(row_block * g.n), 0.0f);
      std::copy(g.add + whole * g.n, g.add + g.m * g.n, s.add.begin());
      tail.add = s.add.data();
    }
    run_product(tail, p, s.a.data(), b, s.c.data());
    std::copy(s.c.begin(), s.c.begin() + rest * g.n, c + whole * g.n);
    return;
  }
  if (g.trans_a && !g.trans_b && g.k >= split_rows && g.k % row_block != 0) {
    const int64_t whole = g.k / row_block * row_block, rest = g.k - whole;
    Gemm bulk = g, tail = g;
    bulk.k = whole;
    tail.k = row_block;
    tail.accumulate = true;  // onto the bulk's C (its residual added there, once)
    tail.add = nullptr;
    run_product(bulk, p, a, b, c);
    pad_rows(a, whole, rest, g.m, size, s.a);
    pad_rows(b, whole, rest, g.n, size, s.b);
    run_product(tail, p, s.a.data(), s.b.data(), c);
    return;
  }
  run_product(g, p, a, b, c);
}

// Buffers for operands rounded to bf16 by one call (one per operand a call may round).
struct Scratch16 {
  std::vector<bf16_t> a, b, c;
};
Scratch16& scratch16() {
  thread_local Scratch16 s;
  return s;
}

// An empty product: C untouched, or zeros.
bool empty_product(const Gemm& g, float* c) {
  if (g.m == 0 || g.n == 0) return true;
  if (g.k > 0) return false;
  if (g.add)
    std::copy(g.add, g.add + g.m * g.n, c);
  else if (!g.accumulate)
    std::fill(c, c + g.m * g.n, 0.0f);
  return true;
}

}  // namespace

void matmul(const Gemm& g, const float* a, const float* b, float* c, Precision p) {
  if (g.accumulate && g.add) throw Error("matmul: accumulate into C and add a second matrix are exclusive");
  if (empty_product(g, c)) return;
  const bool one_row = g.m == 1 && !g.trans_a && g.trans_b;
  // One row reads bf16 weights on any CPU; more rows need bf16 matrix kernels.
  const float* base = g.accumulate ? c : g.add;
  if (one_row && p == Precision::bf16)
    if (const bf16_t* w = bf16_copy_of(b)) return gemv(a, w, c, g.n, g.k, base);
  if (p == Precision::bf16 && !bf16_native()) p = Precision::f32;
  if (one_row && p == Precision::f32) return gemv(a, b, c, g.n, g.k, base);
  if (p == Precision::f32) return execute(g, p, a, b, c);
  Scratch16& s = scratch16();
  execute(g, p, as_bf16(a, size_t(g.m * g.k), s.a), as_bf16(b, size_t(g.k * g.n), s.b), c);
}

void linear_backward(const float* dy, const float* x, const float* w, float* dx, float* dw, int64_t rows, int64_t in,
                     int64_t out, Precision p) {
  const Gemm weight{out, in, rows, true, false, true}, input{rows, in, out, false, false, false};
  if (p == Precision::f32 || !bf16_native() || empty_product(weight, dw) || empty_product(input, dx)) {
    linear_backward_weight(dy, x, dw, rows, in, out, p);
    linear_backward_input(dy, w, dx, rows, in, out, false, p);
    return;
  }
  // dy rounded once for both products.
  Scratch16& s = scratch16();
  const bf16_t* dy16 = as_bf16(dy, size_t(rows * out), s.c);
  execute(weight, p, dy16, as_bf16(x, size_t(rows * in), s.a), dw);
  execute(input, p, dy16, as_bf16(w, size_t(out * in), s.b), dx);
}

void linear(const bf16_t* x, const float* w, float* y, int64_t rows, int64_t in, int64_t out, bool accumulate) {
  const Gemm g{rows, out, in, false, true, accumulate};
  if (empty_product(g, y)) return;
  execute(g, Precision::bf16, x, as_bf16(w, size_t(out * in), scratch16().b), y);
}

void linear_residual(const bf16_t* x, const float* w, const float* residual, float* y, int64_t rows, int64_t in,
                     int64_t out) {
  const Gemm g{rows, out, in, false, true, false, residual};
  if (empty_product(g, y)) return;
  execute(g, Precision::bf16, x, as_bf16(w, size_t(out * in), scratch16().b), y);
}

void linear_backward(const bf16_t* dy, const bf16_t* x, const float* w, float* dx, float* dw, int64_t rows,
                     int64_t in, int64_t out) {
  const Gemm weight{out, in, rows, true, false, true}, input{rows, in, out, false, false, false};
  if (!empty_product(weight, dw)) execute(weight, Precision::bf16, dy, x, dw);
  if (!empty_product(input, dx)) execute(input, Precision::bf16, dy, as_bf16(w, size_t(out * in), scratch16().b), dx);
}

void linear_backward(const float* dy, const bf16_t* x, const float* w, float* dx, float* dw, int64_t rows, int64_t in,
                     int64_t out) {
  linear_backward(as_bf16(dy, size_t(rows * out), scratch16().c), x, w, dx, dw, rows, in, out);
}

PackedWeights::PackedWeights(const void* base, size_t bytes) : block_(std::make_unique<Block>()) {
  block_->base = static_cast<const uint8_t*>(base);
  block_->bytes = bytes;
  std::lock_guard lock(pack_registry().mutex);
  pack_registry().blocks.push_back(block_.get());
}

PackedWeights::~PackedWeights() {
  std::lock_guard lock(pack_registry().mutex);
  auto& b = pack_registry().blocks;
  b.erase(std::remove(b.begin(), b.end(), block_.get()), b.end());
}

void PackedWeights::changed() {
  std::lock_guard lock(pack_registry().mutex);
  ++block_->generation;
}

size_t PackedWeights::packs() const {
  std::lock_guard lock(pack_registry().mutex);
  return block_->packs.size();
}

std::string matmul_impl(Precision p) {
  Key key{256, 256, 256, false, true, false, false, p, false};
  Cached made = make(key);  // the query reads the primitive's own descriptor: keep it alive
  auto pd = made.prim.get_primitive_desc();
  const char* info = nullptr;
  dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &info);
  return info ? info : "?";
}

bool kernels::onednn_runs(kernels::IsaLevel level) {
  const auto want = unsigned(level == kernels::IsaLevel::avx512 ? dnnl::cpu_isa::avx512_core : dnnl::cpu_isa::avx2);
  return (unsigned(dnnl::get_effective_cpu_isa()) & want) == want;
}

bool bf16_native() {
  static const bool native = [] {
    // oneDNN's bf16 matrix kernels need the CPU's bf16 dot products (AVX512_BF16 or AMX); on
    // plain AVX-512 it emulates them, slower than f32, and on AVX2 it has none.
    const auto bf16 = unsigned(dnnl::cpu_isa::avx512_core_bf16);
    return (unsigned(dnnl::get_effective_cpu_isa()) & bf16) == bf16;
  }();
  return native;
}

double bf16_speedup() {
  static const double speedup = [] {
    if (!bf16_native()) return 0.0;
    const Gemm g{1024, 1024, 384, false, true, false};
    std::vector<float> a(size_t(g.m * g.k), 0.5f), b(size_t(g.n * g.k), 0.25f), c(size_t(g.m * g.n));
    std::vector<bf16_t> a16(a.size()), b16(b.size());
    to_bf16(a.data(), a16.data(), a.size());
    to_bf16(b.data(), b16.data(), b.size());
    auto seconds = [&](Precision p, const void* x, const void* y) {
      const auto start = std::chrono::steady_clock::now();
      execute(g, p, x, y, c.data());
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    execute(g, Precision::f32, a.data(), b.data(), c.data());  // primitives made, caches warm
    execute(g, Precision::bf16, a16.data(), b16.data(), c.data());
    double f32 = 1e9, bf16 = 1e9;
    for (int i = 0; i < 3; ++i) {  // alternating: a neighbour's burst on this shared machine hits both
      f32 = std::min(f32, seconds(Precision::f32, a.data(), b.data()));
      bf16 = std::min(bf16, seconds(Precision::bf16, a16.data(), b16.data()));
    }
    return f32 / bf16;
  }();
  return speedup;
}

bool bf16_tiles() {
  const auto amx = unsigned(dnnl::cpu_isa::avx512_core_amx);
  return bf16_native() && (unsigned(dnnl::get_effective_cpu_isa()) & amx) == amx;
}

}  // namespace bytes
