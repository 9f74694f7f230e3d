// libFuzzer target for the schema-less protobuf decoder (built with -DSAFEHOLD_FUZZ=ON and
// clang; see .ci/fuzz.sh, seeds from chat/fuzz/seeds.sh).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "chat/decoders.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)safehold::chat::parse_protobuf(bytes);
  return 0;
}
