// The one place that decides threading. oneDNN (built on OpenMP in Debian) and our own kernels
// share one OpenMP pool; programs call set_threads once from --threads.
#pragma once

namespace bytes {

void set_threads(int n);
int threads();

}  // namespace bytes
