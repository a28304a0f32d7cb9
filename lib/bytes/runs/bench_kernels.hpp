// bytes-bench's own pieces, shared by its source files and not part of the library's interface:
// the kernel tests, which measure the ceilings (matmul peak, copy bandwidth) the program tests
// are set against, and the timing and number formatting of every test.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "bytes/models/flat.hpp"
#include "bytes/runs/bench.hpp"

namespace bytes::bench {

using Emit = std::function<void(const Row&)>;

// The matmuls of a flat training step at the options' size (forward, backward to the input,
// backward to the weights of each linear layer, the head included); the peak is the best.
// Returns the peak GFLOP/s of each precision.
std::map<Precision, double> measure_matmul(const Options& o, const FlatModel& flat,
                                           const std::vector<Precision>& precisions, const Emit& emit);
// Copy bandwidth of buffers far larger than the last cache level (llc bytes), all threads,
// counted as STREAM counts a copy: bytes read plus bytes written. Returns bytes/s.
double measure_bandwidth(const Options& o, uint64_t llc, const Emit& emit);
// The attention kernel over segments of each context length (rows: at least 4096), heads of
// the flat model's width, against the peak of its precision where it was measured: f32 rows, and
// bf16 rows where bf16 is among the precisions and attention runs a bf16 build for it.
void measure_attention(const Options& o, const FlatModel& flat, const std::vector<Precision>& precisions,
                       const std::map<Precision, double>& peak, const Emit& emit);
// RMSNorm forward and backward over a training step's rows: memory-bound, so GB/s of the
// arrays each reads and writes.
void measure_norm(const Options& o, const FlatModel& flat, const Emit& emit);

// Seconds per call of fn: warm-up calls, then repetitions of enough calls each to last
// min_seconds (one call of a slow test is one repetition).
std::vector<double> time_calls(const Options& o, const std::function<void()>& fn);
// rate = amount / seconds for each sample.
std::vector<double> rates(double amount, const std::vector<double>& seconds);

// In bench_format.cpp:
std::string fixed(double v, int decimals);  // printf's %.*f
uint64_t llc_bytes();                       // the last cache level's size, 0 if unknown

}  // namespace bytes::bench
