#include "bytes/base/memory.hpp"

#include <sys/mman.h>

#include <cstdlib>
#include <new>

namespace bytes {

void* allocate_large(size_t bytes) {
  const size_t rounded = (bytes + large_block - 1) / large_block * large_block;
  void* p = std::aligned_alloc(large_block, rounded);
  if (!p) throw std::bad_alloc();
  // A request, not a promise: where the kernel has no huge page to lend, plain pages serve.
  madvise(p, rounded, MADV_HUGEPAGE);
  return p;
}

void release_large(void* p, size_t) { std::free(p); }

}  // namespace bytes
