// libFuzzer target for the Telegram iOS Postbox decoders (message keys and records, peer
// objects) and the ISO 8601 text times Discord stores (built with -DSAFEHOLD_FUZZ=ON and clang;
// see .ci/fuzz.sh, seeds from chat/fuzz/seeds.sh).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "chat/postbox.hpp"
#include "chat/timestamp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)safehold::chat::parse_postbox_key(bytes);
  (void)safehold::chat::parse_postbox_message(bytes);
  (void)safehold::chat::postbox_peer_name(bytes);
  (void)safehold::chat::iso8601_to_utc(bytes);
  return 0;
}
