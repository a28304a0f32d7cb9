#include "bytes/runs/bench.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <dnnl.hpp>
#include <fstream>

#include "bytes/base/error.hpp"
#include "bytes/base/parallel.hpp"
#include "bytes/base/units.hpp"
#include "bytes/kernels/kernels.hpp"
#include "bytes/runs/bench_kernels.hpp"
#include "bytes_version.hpp"

// The machine bytes-bench runs on, and its rows as markdown, CSV and JSON lines.
namespace bytes::bench {

namespace {

std::string isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  return "unknown CPU";
}

int decimals_for(double v) {
  v = std::fabs(v);
  return v >= 100 ? 0 : v >= 10 ? 1 : v >= 1 ? 2 : 3;
}
std::string percent(double fraction) { return fixed(100 * fraction, 1) + "%"; }

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}

}  // namespace

uint64_t llc_bytes() {
  // The highest cache index of cpu0 is the last level; sizes read like "32768K". Some VMs have no
  // cache folder: unknown then (their CPUID leaves are no better: one such AMD EPYC reports no
  // cache in leaf 0x8000001D and a 508 MiB L3 in 0x80000006, the whole socket's, not a core's).
  uint64_t best = 0;
  for (int i = 0; i < 8; ++i) {
    std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/size");
    std::string s;
    if (!(in >> s)) break;
    try {
      best = std::max<uint64_t>(best, parse_size(s));
    } catch (...) {
    }
  }
  return best;
}


std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

void Row::set(std::vector<double> values) {
  samples = std::move(values);
  mean = sd = 0;
  if (samples.empty()) return;
  for (double v : samples) mean += v;
  mean /= double(samples.size());
  if (samples.size() > 1) {
    for (double v : samples) sd += (v - mean) * (v - mean);
    sd = std::sqrt(sd / double(samples.size() - 1));
  }
}

Machine machine() {
  Machine m;
  m.cpu = cpu_model();
  m.isa = isa_name(dnnl::get_effective_cpu_isa());
  m.f32_impl = matmul_impl(Precision::f32);
  m.bf16_native = bf16_native();
  m.bf16_impl = m.bf16_native ? matmul_impl(Precision::bf16) : "";
  m.attention_impl = kernels::attention_impl();
  m.attention_bf16_impl = m.bf16_native ? kernels::attention_impl(Precision::bf16) : "";
  m.threads = threads();
  m.llc_bytes = llc_bytes();
  m.version = BYTES_VERSION;
  const dnnl_version_t* v = dnnl_version();
  m.dnnl_version = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  return m;
}

nlohmann::ordered_json Machine::json() const {
  return {{"cpu", cpu},           {"isa", isa},       {"f32_impl", f32_impl},         {"bf16_native", bf16_native},
          {"bf16_impl", bf16_impl}, {"attention_impl", attention_impl},
          {"attention_bf16_impl", attention_bf16_impl}, {"threads", threads}, {"llc_bytes", llc_bytes}, {"bytes_version", version},
          {"onednn_version", dnnl_version}};
}

Format parse_format(const std::string& name) {
  if (name == "md") return Format::md;
  if (name == "csv") return Format::csv;
  if (name == "json") return Format::json;
  throw UsageError("unknown output format '" + name + "' (md, csv or json)");
}

std::string header(Format f, const Machine& m) {
  if (f == Format::json) return "";
  if (f == Format::csv)
    return "test,size,precision,unit,mean,sd,repetitions,ceiling,fraction,model_gflop_s,limit_bytes_per_s,cpu,isa,"
           "threads\n";
  std::string h = "bytes-bench " + m.version + " · " + m.cpu + " · " + std::to_string(m.threads) + " threads · oneDNN " +
                  m.dnnl_version + " " + m.isa + " (f32 " + m.f32_impl + ", bf16 " +
                  (m.bf16_native ? m.bf16_impl : std::string("not native: bf16 rows only for tg, which reads bf16 weights")) +
                  ") · attention " + m.attention_impl;
  if (m.bf16_native)
    h += m.attention_bf16_impl == m.attention_impl ? " (also for bf16)" : " (bf16 " + m.attention_bf16_impl + ")";
  h += " · last-level cache " + (m.llc_bytes ? std::to_string(m.llc_bytes >> 20) + " MiB" : std::string("unknown"));
  return h + "\n\n| test | size | precision | mean ± sd | unit | against |\n|---|---|---|---:|---|---|\n";
}

std::string format_row(Format f, const Machine& m, const Row& r) {
  if (f == Format::json) {
    nlohmann::ordered_json j = {{"test", r.test}, {"size", r.size}, {"precision", r.precision}, {"unit", r.unit},
                                {"mean", r.mean}, {"sd", r.sd},     {"samples", r.samples}};
    if (r.fraction >= 0) j["ceiling"] = r.ceiling, j["fraction"] = r.fraction;
    for (auto& [k, v] : r.extra.items()) j[k] = v;
    j["machine"] = m.json();
    return j.dump() + "\n";
  }
  const int dec = decimals_for(r.mean);
  if (f == Format::csv) {
    std::string s;
    for (const auto& field : {r.test, r.size, r.precision, r.unit}) s += csv_field(field) + ",";
    s += fixed(r.mean, dec + 2) + "," + fixed(r.sd, dec + 2) + "," + std::to_string(r.samples.size()) + ",";
    s += csv_field(r.fraction >= 0 ? r.ceiling : "") + "," + (r.fraction >= 0 ? fixed(r.fraction, 4) : "") + ",";
    for (const char* key : {"model_gflop_s", "limit_bytes_per_s"})
      s += (r.extra.contains(key) ? fixed(r.extra[key].get<double>(), 2) : "") + ",";
    return s + csv_field(m.cpu) + "," + m.isa + "," + std::to_string(m.threads) + "\n";
  }
  std::string against;
  if (r.extra.contains("model_gflop_s"))
    against = fixed(r.extra["model_gflop_s"].get<double>(), 1) + " model GFLOP/s";
  if (r.fraction >= 0) against += (against.empty() ? "" : " = ") + percent(r.fraction) + " of " + r.ceiling;
  if (r.extra.contains("limit_bytes_per_s"))
    against += " (" + fixed(r.extra["limit_bytes_per_s"].get<double>(), 0) + " B/s" +
               (r.extra["weights_exceed_llc"].get<bool>() || !m.llc_bytes ? "" : "; the weights fit in the last-level cache") + ")";
  if (r.extra.contains("zstd3_mb_s"))
    against += ", " + fixed(r.mean / r.extra["zstd3_mb_s"].get<double>(), 2) + "× zstd -3";
  return "| " + r.test + " | " + r.size + " | " + r.precision + " | " + fixed(r.mean, dec) + " ± " + fixed(r.sd, dec) +
         " | " + r.unit + " | " + against + " |\n";
}

}  // namespace bytes::bench
