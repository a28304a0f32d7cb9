// bytes-prep: text in, one dataset file out; and the way back out of a dataset.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "cli.hpp"
#include "bytes/base/interrupt.hpp"
#include "bytes/base/units.hpp"
#include "bytes/text/escape.hpp"
#include "bytes/base/error.hpp"
#include "bytes/base/io.hpp"
#include "bytes/text/prep.hpp"
#include "bytes/base/progress.hpp"
#include "bytes/text/words.hpp"

using namespace bytes;

namespace {

const char* dataset_meta_mode(const Dataset& ds) {
  return ds.meta().contains("doc_mode") && ds.meta()["doc_mode"].is_string()
             ? ds.meta()["doc_mode"].get_ref<const std::string&>().c_str()
             : "?";
}

int list(const std::string& path, bool per_doc, const cli::Common& common) {
  Dataset ds(path);
  ds.verify();
  if (common.json) {
    nlohmann::json j = {{"dataset", path}, {"file_size", ds.file_size()}, {"docs", ds.docs()},
                        {"sources", ds.sources()}, {"meta", ds.meta()}};
    for (int s = 0; s < n_splits; ++s) j["splits"][split_name(Split(s))] = prep::split_json(ds.stats(Split(s)));
    write_stdout(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  } else {
    SplitStats splits[n_splits];
    for (int s = 0; s < n_splits; ++s) splits[s] = ds.stats(Split(s));
    write_stdout(path + ": " + std::to_string(ds.docs()) + " documents from " + std::to_string(ds.sources()) +
                 " sources, cut by " + dataset_meta_mode(ds) + ", " + std::to_string(ds.file_size()) + " bytes\n");
    write_stdout(prep::split_table(splits));
  }
  if (per_doc) {
    ds.for_each_doc([&](uint64_t i, Dataset::Doc d) {
      if (common.json) {
        nlohmann::json j = {{"doc", i}, {"split", split_name(d.split)}, {"bytes", d.length}, {"source", ds.source(d.source)}};
        write_stdout(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
      } else {
        write_stdout(std::to_string(i) + "\t" + split_name(d.split) + "\t" + std::to_string(d.length) + "\t" +
                     ds.source(d.source) + "\n");
      }
    });
  }
  return cli::ok;
}

int cat(const std::string& path, const std::string& split, const std::vector<uint64_t>& docs, bool use_delimiter,
        const std::string& delimiter_flag, bool nul) {
  Dataset ds(path);
  std::string delimiter;
  if (nul) delimiter = std::string(1, '\0');
  else if (!delimiter_flag.empty()) delimiter = unescape(delimiter_flag);
  else if (use_delimiter && ds.meta().contains("delimiter"))
    for (int c : ds.meta()["delimiter"]) delimiter += char(c);
  std::vector<uint8_t> buf(1 << 20);
  auto put_doc = [&](const Dataset::Doc& d) {
    for (uint64_t off = 0; off < d.length; off += buf.size()) {
      size_t n = size_t(std::min<uint64_t>(buf.size(), d.length - off));
      ds.read(d.split, d.offset + off, n, buf.data());
      write_stdout(buf.data(), n);
      check_interrupt();
    }
    write_stdout(delimiter);
  };
  if (!docs.empty()) {
    for (uint64_t i : docs) put_doc(ds.doc(i));
    return cli::ok;
  }
  const bool all = split == "all";
  const Split only = all ? Split::train : parse_split(split);
  ds.for_each_doc([&](uint64_t, Dataset::Doc d) {
    if (all || d.split == only) put_doc(d);
  });
  return cli::ok;
}

// One line per word: its offset, its length in bytes and its bytes, escaped (bytes-gen --escape's
// form, and \n and \t too) so that a word holding a newline is still one line.
int show_words(const std::string& path, WordRule rule, size_t cap) {
  WordSplitter splitter(rule, cap);  // checks the cap before anything is read
  if (path == "-" && isatty(0)) throw UsageError("stdin is a terminal (pipe text in, or name a file)");
  InputFile in(path);
  std::string word;
  uint64_t offset = 0, start = 0;
  auto flush = [&] {
    if (word.empty()) return;
    Escaper escaper;
    std::string line = std::to_string(start) + "\t" + std::to_string(word.size()) + "\t";
    for (char c : escaper.put(word) + escaper.finish()) line += c == '\n' ? "\\n" : c == '\t' ? "\\t" : std::string(1, c);
    write_stdout(line + "\n");
    word.clear();
  };
  std::vector<char> buf(1 << 16);
  for (size_t got; (got = in.read(buf.data(), buf.size())) > 0;) {
    for (size_t i = 0; i < got; ++i, ++offset) {
      if (splitter.starts_word(uint8_t(buf[i]))) {
        flush();
        start = offset;
      }
      word += buf[i];
    }
    check_interrupt();
  }
  flush();
  return int(cli::ok);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Prepare text as a bytes dataset: files, folders or stdin in; one dataset file out", "bytes-prep"};
  cli::Common common;
  cli::init(app, common);
  cli::add_json(app, common);
  cli::add_threads(app, common);
  app.require_subcommand(0, 1);
  app.fallthrough();  // the shared flags (--json, -q, ...) also work after a subcommand

  std::vector<std::string> inputs, train_inputs, val_inputs, test_inputs;
  std::string output, mode = "file", separator, binary = "skip", block_size = "4M";
  prep::Options opt;
  app.add_option("-o,--output", output, "Dataset file to write")->type_name("FILE");
  app.add_option("-d,--docs", mode, "How to cut input into documents: file, line, paragraph, nul")
      ->check(CLI::IsMember({"file", "line", "paragraph", "nul"}))->default_str("file");
  app.add_option("-s,--separator", separator, "Cut documents at this string (escapes: \\n \\t \\0 \\xHH)")
      ->type_name("STR");
  app.add_option("--val", opt.val, "Fraction of documents for val, by content hash")->check(CLI::Range(0.0, 1.0))
      ->default_str("0.1");
  app.add_option("--test", opt.test, "Fraction of documents for test, by content hash")->check(CLI::Range(0.0, 1.0))
      ->default_str("0");
  for (auto [flag, list, what] : {std::tuple{"--train-input", &train_inputs, "train"},
                                  std::tuple{"--val-input", &val_inputs, "val"},
                                  std::tuple{"--test-input", &test_inputs, "test"}})
    app.add_option(flag, *list, std::string("Put this file or folder wholly in ") + what + " (repeatable)")
        ->type_name("PATH")->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_flag("--dedup", opt.dedup, "Drop documents whose exact bytes came before");
  app.add_option("--binary", binary, "Files holding NUL bytes: skip or keep")
      ->check(CLI::IsMember({"skip", "keep"}))->default_str("skip");
  app.add_option("-L,--level", opt.level, "zstd compression level")->default_str("3");
  app.add_option("--block-size", block_size, "Uncompressed bytes per zstd frame (4K to 64M)")->default_str("4M");
  app.add_option("inputs", inputs, "Files, folders, or - for stdin (default: stdin)")->type_name("INPUT");

  auto* list_cmd = app.add_subcommand("list", "Check a dataset and print its splits (and with --documents, every document)");
  std::string list_path;
  bool per_doc = false;
  list_cmd->add_option("dataset", list_path, "Dataset file")->required();
  list_cmd->add_flag("--documents", per_doc, "One line per document: index, split, bytes, source");

  auto* words_cmd = app.add_subcommand("words", "Show how the word model cuts a text: offset, length, word per line");
  std::string words_path = "-", word_rule = "whitespace";
  size_t word_cap = 32;
  words_cmd->add_option("input", words_path, "Text file, or - for stdin (default)")->type_name("FILE");
  words_cmd->add_option("--rule", word_rule, "whitespace: non-space run + its spaces; spacelike: SpaceByte's")
      ->check(CLI::IsMember({"whitespace", "spacelike"}))->default_str("whitespace");
  words_cmd->add_option("--cap", word_cap, "Longest word in bytes (at least 4)")->default_str("32");

  auto* cat_cmd = app.add_subcommand("cat", "Write a split's documents (or chosen ones) to stdout byte for byte");
  std::string cat_path, cat_split = "all", delimiter;
  std::vector<uint64_t> cat_docs;
  bool nul = false, no_delimiter = false;
  cat_cmd->add_option("dataset", cat_path, "Dataset file")->required();
  cat_cmd->add_option("--split", cat_split, "train, val, test or all")
      ->check(CLI::IsMember({"train", "val", "test", "all"}))->default_str("all");
  cat_cmd->add_option("--doc", cat_docs, "Only document N (repeatable)")->type_name("N")->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cat_cmd->add_option("--delimiter", delimiter, "Write STR after each document (default: what cut them)")->type_name("STR");
  cat_cmd->add_flag("-z,--null", nul, "End each document with a NUL byte");
  cat_cmd->add_flag("--no-delimiter", no_delimiter, "Write documents back to back");

  return cli::run(app, common, argc, argv, [&] {
    if (list_cmd->parsed()) return list(list_path, per_doc, common);
    if (cat_cmd->parsed()) return cat(cat_path, cat_split, cat_docs, !no_delimiter, delimiter, nul);
    if (words_cmd->parsed()) return show_words(words_path, parse_word_rule(word_rule), word_cap);

    if (output.empty()) throw UsageError("missing -o/--output: the dataset file to write");
    if (!separator.empty() && app.count("--docs")) throw UsageError("--separator and --docs exclude each other");
    opt.mode = separator.empty() ? prep::parse_doc_mode(mode) : prep::DocMode::separator;
    opt.separator = unescape(separator);
    if (app.count("--separator") && opt.separator.empty()) throw UsageError("--separator must not be empty");
    opt.skip_binary = binary == "skip";
    opt.threads = cli::thread_count(common);
    uint64_t block = parse_size(block_size);
    if (block < 4096 || block > (64u << 20)) throw UsageError("--block-size must be between 4K and 64M");
    opt.block_size = uint32_t(block);

    std::vector<prep::Input> all;
    for (auto& p : inputs) all.push_back({p, std::nullopt});
    for (auto& p : train_inputs) all.push_back({p, Split::train});
    for (auto& p : val_inputs) all.push_back({p, Split::val});
    for (auto& p : test_inputs) all.push_back({p, Split::test});
    if (all.empty()) {
      if (isatty(0)) throw UsageError("no input given and stdin is a terminal");
      all.push_back({"-", std::nullopt});
    }
    Progress bar("prep", 0);
    auto stats = prep::prepare(all, output, opt, [&](uint64_t done, uint64_t total) {
      bar.set_total(total);
      bar.update(done);
    });
    bar.finish();
    if (common.json) write_stdout(prep::stats_json(stats, output).dump() + "\n");
    spdlog::info("wrote {}: {} files, {} in, {} out, {:.1f} MB/s{}{}", output, stats.files,
                 human_bytes(double(stats.input_bytes)), human_bytes(double(stats.file_size)),
                 stats.seconds > 0 ? double(stats.input_bytes) / stats.seconds / 1e6 : 0.0,
                 stats.skipped_binary ? ", " + std::to_string(stats.skipped_binary) + " binary files skipped" : "",
                 stats.duplicates ? ", " + std::to_string(stats.duplicates) + " duplicates dropped" : "");
    if (!common.json && spdlog::default_logger()->should_log(spdlog::level::info))
      std::fputs(prep::split_table(stats.split).c_str(), stderr);
    for (int s = 1; s < n_splits; ++s) {
      double want = s == 1 ? opt.val : opt.test;
      if (want > 0 && stats.split[s].docs == 0 && !(s == 1 ? val_inputs : test_inputs).size())
        spdlog::warn("the {} split is empty: too few documents for a fraction of {}", split_name(Split(s)), want);
    }
    return int(cli::ok);
  });
}
