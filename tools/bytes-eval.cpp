// bytes-eval: bits per byte of a model on a dataset split, a file or stdin; per-byte surprisal;
// and the bits of a target text given a context.
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "cli.hpp"
#include "bytes/base/units.hpp"
#include "bytes/formats/dataset.hpp"
#include "bytes/base/error.hpp"
#include "bytes/runs/eval.hpp"
#include "bytes/base/io.hpp"
#include "bytes/base/parallel.hpp"
#include "bytes/base/progress.hpp"

using namespace bytes;

namespace {

std::string fixed4(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

double round6(double v) { return std::round(v * 1e6) / 1e6; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Bits per byte of a byte model on a dataset split, a file or stdin", "bytes-eval"};
  cli::Common common;
  cli::init(app, common);
  cli::add_json(app, common);
  cli::add_threads(app, common);
  std::string model_path, input = "-", dataset, split = "val", max_bytes;
  int64_t stride = 0;
  bool per_byte = false, conditional = false;
  app.add_option("-m,--model", model_path, "Model file (a run's model.safetensors)")->required()->type_name("MODEL");
  app.add_option("input", input, "File to score as one document, or - for stdin (default)")->type_name("FILE");
  app.add_option("--data", dataset, "Score the documents of a dataset split instead")->type_name("DATASET");
  app.add_option("--split", split, "Split of --data: train, val or test")
      ->check(CLI::IsMember({"train", "val", "test"}))->default_str("val");
  app.add_option("--stride", stride, "Window stride in tokens (default ctx/2)")->check(CLI::PositiveNumber);
  app.add_option("--max-bytes", max_bytes, "Score only the first SIZE bytes (e.g. 100K)");
  app.add_flag("--per-byte", per_byte, "Print offset, byte, bits and the most likely byte of every position (TSV, or JSON lines with --json)");
  app.add_flag("--conditional", conditional,
               "Input is JSON lines {\"context\": …, \"target\": …}: print the bits of each target given its context");

  return cli::run(app, common, argc, argv, [&] {
    set_threads(cli::thread_count(common));
    if (conditional && !dataset.empty()) throw UsageError("--conditional reads JSON lines, not --data");
    if (input == "-" && dataset.empty() && isatty(0))
      throw UsageError("no input given and stdin is a terminal (name a file, or --data)");
    uint64_t limit = max_bytes.empty() ? UINT64_MAX : parse_size(max_bytes);
    const auto owned = load_model(model_path);
    Model& model = *owned;
    const int64_t used_stride = window_stride(model, stride);

    if (conditional) {
      Scorer scorer{model, stride, 16};
      LineReader lines(input);  // scored as they arrive: a pipe of pairs need not end first
      double total_bits = 0;
      uint64_t total_bytes = 0, targets = 0;
      for (std::string line; lines.next(line);) {
        const uint64_t line_no = lines.line_number();
        std::optional<ConditionalPair> pair;
        try {
          pair = parse_conditional(line);
        } catch (const Error& e) {
          throw Error("line " + std::to_string(line_no) + " of " + lines.name() + " " + e.what());
        }
        if (!pair) continue;  // a blank line
        const auto& [context, target] = *pair;
        std::string doc = context + target;
        auto bits = scorer.bits(reinterpret_cast<const uint8_t*>(doc.data()), doc.size());
        double sum = 0;
        for (size_t i = context.size(); i < doc.size(); ++i) sum += bits[i];
        total_bits += sum;
        total_bytes += target.size();
        ++targets;
        nlohmann::ordered_json out = {{"line", line_no}, {"context_bytes", context.size()}, {"target_bytes", target.size()},
                                      {"bits", round6(sum)}, {"bpb", round6(target.empty() ? 0 : sum / double(target.size()))}};
        write_stdout(out.dump() + "\n");
      }
      spdlog::info("{} targets, {} bytes, {} bits per byte given their contexts", targets, total_bytes,
                   fixed4(total_bytes ? total_bits / double(total_bytes) : 0));
      return int(cli::ok);
    }

    // Documents are scored as they are read, a chunk at a time: memory is bounded by the model
    // and its windows, not the input.
    double bits = 0;
    uint64_t total = 0, docs = 0;
    StreamScorer scorer(model, stride, 16, [&](const ScoredByte& s) {
      bits += s.bits;
      if (!per_byte) return;
      if (common.json)
        write_stdout(nlohmann::ordered_json{{"offset", total + s.offset}, {"byte", s.byte}, {"bits", round6(s.bits)},
                                            {"top", s.top}}.dump() + "\n");
      else
        write_stdout(std::to_string(total + s.offset) + "\t" + std::to_string(s.byte) + "\t" + fixed4(s.bits) + "\t" +
                     std::to_string(s.top) + "\n");
    });
    ZstdCounter floor(19);
    Progress bar("eval", 0);
    std::vector<uint8_t> buf(1 << 16);
    uint64_t in_doc = 0;  // bytes of the current document read so far
    auto score = [&](size_t n) {
      scorer.push(buf.data(), n);
      floor.push(buf.data(), n);
      in_doc += n;
      bar.update(total + in_doc);
      if (per_byte) flush_stdout();  // lines as their bytes become final, for a reader at the other end
    };
    auto end_doc = [&] {
      scorer.finish();
      total += in_doc;
      in_doc = 0;
      ++docs;
    };
    if (!dataset.empty()) {
      Dataset ds(dataset);
      Split s = parse_split(split);
      bar.set_total(std::min(ds.stats(s).bytes, limit));
      for (uint64_t i = 0; i < ds.docs() && total < limit; ++i) {
        const Dataset::Doc d = ds.doc(i);
        if (d.split != s) continue;
        const uint64_t length = std::min(d.length, limit - total);
        for (uint64_t at = 0; at < length;) {
          const size_t n = size_t(std::min<uint64_t>(buf.size(), length - at));
          ds.read(s, d.offset + at, n, buf.data());
          score(n);
          at += n;
        }
        end_doc();
      }
      if (docs == 0) throw Error("the " + split + " split of " + dataset + " has no documents");
    } else {
      InputFile in(input);
      if (in.regular()) bar.set_total(std::min(in.size(), limit));
      while (in_doc < limit) {
        const size_t n = in.read(buf.data(), size_t(std::min<uint64_t>(buf.size(), limit - in_doc)));
        if (n == 0) break;
        score(n);
      }
      end_doc();
    }
    bar.finish();
    if (total == 0) throw Error("nothing to score: the input is empty");

    const double bpb = bits / double(total), zstd = floor.bpb();
    if (common.json && !per_byte) {
      nlohmann::ordered_json j = {{"bpb", round6(bpb)}, {"bits", round6(bits)}, {"bytes", total},
                                  {"docs", docs}, {"zstd_bpb", round6(zstd)}, {"stride", used_stride},
                                  {"ctx", model.context()}};
      write_stdout(j.dump() + "\n");
    } else if (!per_byte) {
      write_stdout("bpb " + fixed4(bpb) + "  zstd-" + std::to_string(floor.level()) + " " + fixed4(zstd) + "  bytes " +
                   std::to_string(total) + "  docs " + std::to_string(docs) + "  stride " + std::to_string(used_stride) +
                   "\n");
    } else {
      spdlog::info("bpb {}  zstd-{} {}  bytes {}", fixed4(bpb), floor.level(), fixed4(zstd), total);
    }
    return int(cli::ok);
  });
}
