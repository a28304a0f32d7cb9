// bytes-prep's cutter, the reader of every input file, over arbitrary bytes with a mode, a
// separator and read sizes from the fuzz bytes: the documents are those bytes-prep(1) defines
// (written below the slow and obvious way, as tests/test_prep.cpp does), whatever the read sizes.
#include <fuzzer/FuzzedDataProvider.h>

#include "bytes/base/error.hpp"
#include "bytes/text/prep.hpp"
#include "fuzz.hpp"

using bytes::prep::DocMode;

namespace {

std::vector<std::string> reference(DocMode mode, const std::string& separator, const std::string& input) {
  if (mode == DocMode::file) return {input};
  const std::string sep = mode == DocMode::separator ? separator
                          : mode == DocMode::paragraph ? "\n\n"
                                                       : bytes::prep::doc_delimiter(mode, "");
  std::vector<std::string> docs;
  size_t start = 0;
  for (size_t at; (at = input.find(sep, start)) != std::string::npos; start = at + sep.size())
    docs.push_back(input.substr(start, at - start));
  if (start < input.size()) docs.push_back(input.substr(start));
  if (mode != DocMode::paragraph) return docs;
  std::vector<std::string> paragraphs;  // blank lines around a paragraph are not part of it
  for (const auto& d : docs) {
    const size_t a = d.find_first_not_of('\n');
    if (a != std::string::npos) paragraphs.push_back(d.substr(a, d.find_last_not_of('\n') - a + 1));
  }
  return paragraphs;
}

std::vector<std::string> cut(DocMode mode, const std::string& separator, const std::string& input,
                             const std::vector<size_t>& reads) {
  std::vector<std::string> docs;
  std::string doc;
  bytes::prep::Cutter cutter(
      mode, separator, [&](const uint8_t* p, size_t n) { doc.append(reinterpret_cast<const char*>(p), n); },
      [&] { docs.push_back(std::exchange(doc, {})); });
  const auto* p = reinterpret_cast<const uint8_t*>(input.data());
  for (size_t at = 0, i = 0; at < input.size(); ++i) {
    const size_t n = std::min(reads.empty() ? input.size() : reads[i % reads.size()], input.size() - at);
    cutter.feed(p + at, n);
    at += n;
  }
  cutter.finish();
  FUZZ_CHECK(doc.empty());
  return docs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  const auto mode = DocMode(fdp.ConsumeIntegralInRange(0, int(DocMode::separator)));
  std::string separator = fdp.ConsumeRandomLengthString(8);
  if (separator.empty()) separator = "\n";  // bytes-prep refuses an empty one
  std::vector<size_t> reads(fdp.ConsumeIntegralInRange(0, 4));
  for (auto& n : reads) n = fdp.ConsumeIntegralInRange<size_t>(1, 64);
  const std::string input = fdp.ConsumeRemainingBytesAsString();
  FUZZ_CHECK(cut(mode, separator, input, reads) == reference(mode, separator, input));
  return 0;
}
