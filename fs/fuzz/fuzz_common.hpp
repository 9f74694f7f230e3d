// Shared by fs/'s libFuzzer targets: the input becomes a file (libewf and TSK open paths), written
// once per run into a private folder and rewritten for every input.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>

namespace safehold::fs::fuzz {

inline std::filesystem::path input_file(const char* name) {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/safehold-fuzz-XXXXXX";
    if (!mkdtemp(templ.data())) std::abort();
    return std::filesystem::path(templ);
  }();
  return dir / name;
}

inline void write_input(const std::filesystem::path& p, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(p.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

// The input as the first bytes of a volume of `volume` bytes whose other bytes are zeros (the
// ReadFn of the LVM and BitLocker readers).
inline std::function<bool(uint64_t, void*, size_t)> zero_padded(const uint8_t* data, size_t size,
                                                                uint64_t volume) {
  return [=](uint64_t off, void* buf, size_t n) {
    if (off > volume || n > volume - off) return false;
    std::memset(buf, 0, n);
    if (off < size) std::memcpy(buf, data + off, std::min<uint64_t>(n, size - off));
    return true;
  };
}

}  // namespace safehold::fs::fuzz
