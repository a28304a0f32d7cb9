#include "bytes/text/prep_commands.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "bytes/base/error.hpp"
#include "bytes/base/interrupt.hpp"
#include "bytes/base/io.hpp"
#include "bytes/base/progress.hpp"
#include "bytes/text/escape.hpp"
#include "bytes/text/escape.hpp"

namespace bytes::prep {

namespace {

const char* dataset_meta_mode(const Dataset& ds) {
  return ds.meta().contains("doc_mode") && ds.meta()["doc_mode"].is_string()
             ? ds.meta()["doc_mode"].get_ref<const std::string&>().c_str()
             : "?";
}

// Sources are paths, which need not be UTF-8: JSON gets U+FFFD for what is not.
std::string json_line(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

Stats prepare_and_report(std::vector<Input> inputs, const std::string& output, const Options& options, bool json,
                         const Out& out) {
  if (inputs.empty()) {
    if (isatty(0)) throw UsageError("no input given and stdin is a terminal");
    inputs.push_back({"-", std::nullopt});
  }
  Progress bar("prep", 0);
  const Stats stats = prepare(inputs, output, options, [&](uint64_t done, uint64_t total) {
    bar.set_total(total);
    bar.update(done);
  });
  bar.finish();
  if (json) out(stats_json(stats, output).dump() + "\n");
  spdlog::info("wrote {}: {} files, {} in, {} out, {:.1f} MB/s{}{}", output, stats.files,
               human_bytes(double(stats.input_bytes)), human_bytes(double(stats.file_size)),
               stats.seconds > 0 ? double(stats.input_bytes) / stats.seconds / 1e6 : 0.0,
               stats.skipped_binary ? ", " + std::to_string(stats.skipped_binary) + " binary files skipped" : "",
               stats.duplicates ? ", " + std::to_string(stats.duplicates) + " duplicates dropped" : "");
  if (!json && spdlog::default_logger()->should_log(spdlog::level::info))
    std::fputs(split_table(stats.split).c_str(), stderr);
  for (Split s : {Split::val, Split::test}) {
    const double want = s == Split::val ? options.val : options.test;
    const bool assigned = std::any_of(inputs.begin(), inputs.end(), [&](const Input& in) { return in.split == s; });
    if (want > 0 && stats.split[int(s)].docs == 0 && !assigned)
      spdlog::warn("the {} split is empty: too few documents for a fraction of {}", split_name(s), want);
  }
  return stats;
}

void list_dataset(const std::string& path, bool per_doc, bool json, const Out& out) {
  Dataset ds(path);
  ds.verify();
  if (json) {
    nlohmann::json j = {{"dataset", path}, {"file_size", ds.file_size()}, {"docs", ds.docs()},
                        {"sources", ds.sources()}, {"meta", ds.meta()}};
    for (int s = 0; s < n_splits; ++s) j["splits"][split_name(Split(s))] = split_json(ds.stats(Split(s)));
    out(json_line(j));
  } else {
    SplitStats splits[n_splits];
    for (int s = 0; s < n_splits; ++s) splits[s] = ds.stats(Split(s));
    out(path + ": " + std::to_string(ds.docs()) + " documents from " + std::to_string(ds.sources()) + " sources, cut by " +
        dataset_meta_mode(ds) + ", " + std::to_string(ds.file_size()) + " bytes\n");
    out(split_table(splits));
  }
  if (!per_doc) return;
  ds.for_each_doc([&](uint64_t i, Dataset::Doc d) {
    if (json)
      out(json_line({{"doc", i}, {"split", split_name(d.split)}, {"bytes", d.length}, {"source", ds.source(d.source)}}));
    else
      out(std::to_string(i) + "\t" + split_name(d.split) + "\t" + std::to_string(d.length) + "\t" +
          ds.source(d.source) + "\n");
  });
}

void cat_dataset(const std::string& path, const CatOptions& o, const Out& out) {
  Dataset ds(path);
  std::string delimiter;
  if (o.nul) delimiter = std::string(1, '\0');
  else if (!o.delimiter.empty()) delimiter = unescape(o.delimiter);
  else if (o.use_delimiter && ds.meta().contains("delimiter"))
    for (int c : ds.meta()["delimiter"]) delimiter += char(c);
  std::vector<uint8_t> buf(1 << 20);
  auto put_doc = [&](const Dataset::Doc& d) {
    for (uint64_t off = 0; off < d.length; off += buf.size()) {
      const size_t n = size_t(std::min<uint64_t>(buf.size(), d.length - off));
      ds.read(d.split, d.offset + off, n, buf.data());
      out(std::string_view(reinterpret_cast<const char*>(buf.data()), n));
      check_interrupt();
    }
    out(delimiter);
  };
  if (!o.docs.empty()) {
    for (uint64_t i : o.docs) put_doc(ds.doc(i));
    return;
  }
  const bool all = o.split == "all";
  const Split only = all ? Split::train : parse_split(o.split);
  ds.for_each_doc([&](uint64_t, Dataset::Doc d) {
    if (all || d.split == only) put_doc(d);
  });
}

void show_words(const std::string& path, WordRule rule, size_t cap, const Out& out) {
  WordSplitter splitter(rule, cap);  // checks the cap before anything is read
  if (path == "-" && isatty(0)) throw UsageError("stdin is a terminal (pipe text in, or name a file)");
  InputFile in(path);
  std::string held;  // the bytes from offset `start` on: the word in progress and undecided bytes
  uint64_t start = 0;
  // Writes the word before `next` (a word start, or the end).
  auto put = [&](uint64_t next) {
    if (next == start) return;
    const size_t n = size_t(next - start);
    Escaper escaper;
    std::string line = std::to_string(start) + "\t" + std::to_string(n) + "\t";
    for (char c : escaper.put(std::string_view(held).substr(0, n)) + escaper.finish())
      line += c == '\n' ? "\\n" : c == '\t' ? "\\t" : std::string(1, c);
    out(line + "\n");
    held.erase(0, n);
    start = next;
  };
  std::vector<char> buf(1 << 16);
  for (size_t got; (got = in.read(buf.data(), buf.size())) > 0;) {
    for (size_t i = 0; i < got; ++i) {
      held += buf[i];
      splitter.feed(uint8_t(buf[i])).each_start(put);
    }
    check_interrupt();
  }
  splitter.finish().each_start(put);
  put(start + held.size());
}

}  // namespace bytes::prep
