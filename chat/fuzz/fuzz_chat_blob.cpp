// libFuzzer target for decode_blob (base64 around bplist/NSKeyedArchiver/protobuf, JSON) and
// blob_text (built with -DSAFEHOLD_FUZZ=ON and clang; see .ci/fuzz.sh, seeds from
// chat/fuzz/seeds.sh).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "chat/decoders.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto d = safehold::chat::decode_blob(bytes)) (void)safehold::chat::blob_text(*d);
  (void)safehold::chat::base64_decode(bytes);
  (void)safehold::chat::parse_json(bytes);
  return 0;
}
