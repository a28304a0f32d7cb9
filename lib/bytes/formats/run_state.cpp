#include "bytes/formats/run_state.hpp"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "bytes/base/error.hpp"
#include "bytes/base/hash.hpp"
#include "bytes/base/io.hpp"

namespace bytes {

namespace {

// Everything a resumed run needs, self-contained (weights included) so that a crash between
// writing two files can never pair weights with the wrong optimizer state.
constexpr char state_magic[8] = {'\x89', 'B', 'Y', 'T', 'R', 'U', 'N', '\n'};
constexpr uint32_t state_version = 1;
// magic, version, config length; then the config; then step … parameter count; then p, m, v.
constexpr uint64_t state_head = 16, state_counters = 48;

}  // namespace

void save_run_state(const std::string& path, std::string_view config, std::span<const float> params,
                    const TrainState& st) {
  AtomicFile out(path);
  Xxh3 h;
  auto put = [&](const void* p, size_t n) {
    out.write(p, n);
    h.update(p, n);
  };
  uint64_t n = params.size();
  uint32_t config_len = uint32_t(config.size());
  put(state_magic, 8);
  put(&state_version, 4);
  put(&config_len, 4);
  put(config.data(), config.size());
  put(&st.step, 8);
  put(&st.total_steps, 8);
  put(&st.bytes, 8);
  put(&st.seconds, 8);
  put(&st.train_seconds, 8);
  put(&n, 8);
  put(params.data(), n * 4);
  put(st.m.data(), n * 4);
  put(st.v.data(), n * 4);
  uint64_t sum = h.digest();
  out.write(&sum, 8);
  out.commit(true);
}

void load_run_state(const std::string& path, std::span<float> params, TrainState& st,
                    const std::function<void(const std::string& config)>& check_config) {
  InputFile in(path);
  auto bad = [&](const std::string& what) { throw Error("bad training state (" + what + "): " + path); };
  if (!in.regular()) bad("not a regular file");
  const uint64_t size = in.size();
  // Every size is checked against the file and the model before anything is read by it: the
  // file's length must be exactly what the model's config and parameter count make it.
  uint8_t head[state_head];
  if (size < state_head + 8) bad("not a bytes training state");
  in.pread_exact(head, sizeof head, 0);
  if (std::memcmp(head, state_magic, 8) != 0) bad("not a bytes training state");
  uint32_t version, config_len;
  std::memcpy(&version, head + 8, 4);
  std::memcpy(&config_len, head + 12, 4);
  if (version != state_version)
    throw Error("unsupported training state version " + std::to_string(version) + ": " + path);
  const uint64_t n = params.size(), want = state_head + config_len + state_counters + 12 * n + 8;
  if (config_len > size || size != want) bad("its size does not fit this model: truncated or corrupt");
  Xxh3 h;
  h.update(head, sizeof head);
  uint64_t at = state_head;
  auto get = [&](void* p, size_t k) {
    // In slices, so the checksum and the copy read each slice while it is in cache.
    for (size_t done = 0; done < k;) {
      const size_t take = std::min<size_t>(k - done, 16 << 20);
      in.pread_exact(static_cast<uint8_t*>(p) + done, take, at);
      h.update(static_cast<uint8_t*>(p) + done, take);
      at += take;
      done += take;
    }
  };
  std::string config(config_len, '\0');
  get(config.data(), config_len);
  uint64_t count;
  get(&st.step, 8);
  get(&st.total_steps, 8);
  get(&st.bytes, 8);
  get(&st.seconds, 8);
  get(&st.train_seconds, 8);
  get(&count, 8);
  if (count != n) bad("parameter count");
  st.m.resize(n);
  st.v.resize(n);
  get(params.data(), n * 4);
  get(st.m.data(), n * 4);
  get(st.v.data(), n * 4);
  uint64_t sum;
  in.pread_exact(&sum, 8, at);
  if (h.digest() != sum) bad("checksum mismatch: truncated or corrupt");
  // Checked after the checksum: an accident is reported as one, not as another model.
  if (!nlohmann::json::accept(config)) bad("its config is not JSON");
  check_config(config);
  if (st.step < 0 || st.total_steps < 0 || !(st.seconds >= 0) || !(st.train_seconds >= 0)) bad("counters");
}

}  // namespace bytes
