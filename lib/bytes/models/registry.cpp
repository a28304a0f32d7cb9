// Every architecture, by name. A new one is a file pair in models/ and one line here.
#include "bytes/models/flat.hpp"
#include "bytes/models/patch.hpp"
#include "bytes/models/word.hpp"

namespace bytes {

const std::vector<const Architecture*>& architectures() {
  static const std::vector<const Architecture*> all = {
      &flat_architecture(),
      &word_architecture(),
      &patch_architecture(),
  };
  return all;
}

}  // namespace bytes
