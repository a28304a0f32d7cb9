// bytes-prep's subcommands (list, cat, words): their options, and the library call each makes.
#pragma once
#include <string>
#include <vector>

#include "cli.hpp"
#include "bytes/text/prep_commands.hpp"

namespace bytes {

struct PrepSubcommands {
  CLI::App *list = nullptr, *cat = nullptr, *words = nullptr;
  std::string list_path, cat_path, words_path = "-", word_rule = "whitespace";
  bool per_doc = false, no_delimiter = false;
  size_t word_cap = 32;
  prep::CatOptions cat_options;

  void define(CLI::App& app) {
    list = app.add_subcommand("list", "Check a dataset and print its splits (and with --documents, every document)");
    list->add_option("dataset", list_path, "Dataset file")->required();
    list->add_flag("--documents", per_doc, "One line per document: index, split, bytes, source");

    words = app.add_subcommand("words", "Show how the word model cuts a text: offset, length, word per line");
    words->add_option("input", words_path, "Text file, or - for stdin (default)")->type_name("FILE");
    words->add_option("--rule", word_rule,
                      "whitespace: non-space run + its spaces; spacelike: SpaceByte's; hat: HAT's (Unicode words)")
        ->check(CLI::IsMember({"whitespace", "spacelike", "hat"}))->default_str("whitespace");
    words->add_option("--cap", word_cap, "Longest word in bytes (at least 4)")->default_str("32");

    cat = app.add_subcommand("cat", "Write a split's documents (or chosen ones) to stdout byte for byte");
    cat->add_option("dataset", cat_path, "Dataset file")->required();
    cat->add_option("--split", cat_options.split, "train, val, test or all")
        ->check(CLI::IsMember({"train", "val", "test", "all"}))->default_str("all");
    cat->add_option("--doc", cat_options.docs, "Only document N (repeatable)")->type_name("N")->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cat->add_option("--delimiter", cat_options.delimiter, "Write STR after each document (default: what cut them)")
        ->type_name("STR");
    cat->add_flag("-z,--null", cat_options.nul, "End each document with a NUL byte");
    cat->add_flag("--no-delimiter", no_delimiter, "Write documents back to back");
  }

  // Runs the subcommand given, if one was: whether one was.
  bool run(bool json) {
    const auto& out = cli::to_stdout;
    if (list->parsed()) prep::list_dataset(list_path, per_doc, json, out);
    else if (cat->parsed()) {
      cat_options.use_delimiter = !no_delimiter;
      prep::cat_dataset(cat_path, cat_options, out);
    } else if (words->parsed()) prep::show_words(words_path, parse_word_rule(word_rule), word_cap, out);
    else return false;
    return true;
  }
};

}  // namespace bytes
