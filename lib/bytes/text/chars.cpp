#include "bytes/text/chars.hpp"

#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>

#include <cstdlib>

namespace bytes::chars {

uint32_t unicode_upper(uint32_t c) { return uc_toupper(c); }
uint32_t unicode_lower(uint32_t c) { return uc_tolower(c); }
bool unicode_letter(uint32_t c) { return uc_is_alpha(c); }

std::u32string strip_diacritics(uint32_t c) {
  if (c < 0xC0) return std::u32string(1, char32_t(c));
  if (uc_is_general_category(c, UC_CATEGORY_Mn)) return {};
  const uint32_t in[1] = {c};
  size_t n = 0;
  uint32_t* nfd = u32_normalize(UNINORM_NFD, in, 1, nullptr, &n);
  if (!nfd) return std::u32string(1, char32_t(c));
  std::u32string kept;
  for (size_t i = 0; i < n; ++i)
    if (!uc_is_general_category(nfd[i], UC_CATEGORY_Mn)) kept += char32_t(nfd[i]);
  std::free(nfd);
  if (kept.size() == n) return std::u32string(1, char32_t(c));
  size_t m = 0;
  uint32_t* nfc = u32_normalize(UNINORM_NFC, reinterpret_cast<const uint32_t*>(kept.data()), kept.size(), nullptr, &m);
  if (!nfc) return kept;
  std::u32string out(reinterpret_cast<char32_t*>(nfc), m);
  std::free(nfc);
  return out;
}

}  // namespace bytes::chars
