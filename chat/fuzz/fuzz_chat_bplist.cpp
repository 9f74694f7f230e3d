// libFuzzer target for the binary plist and NSKeyedArchiver decoders (built with
// -DSAFEHOLD_FUZZ=ON and clang; see .ci/fuzz.sh, seeds from chat/fuzz/seeds.sh).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "chat/decoders.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)safehold::chat::parse_bplist(bytes);
  (void)safehold::chat::parse_keyed_archive(bytes);
  return 0;
}
