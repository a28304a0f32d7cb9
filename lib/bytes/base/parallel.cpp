#include "bytes/base/parallel.hpp"

#include <omp.h>

namespace bytes {

void set_threads(int n) {
  omp_set_dynamic(0);
  omp_set_num_threads(n > 0 ? n : omp_get_num_procs());
}

int threads() { return omp_get_max_threads(); }

}  // namespace bytes
