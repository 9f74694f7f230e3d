// fs/: evidence access for every other module. This header: the one exception type that ends an
// operation (an image that cannot be opened at all). Expected damage inside evidence is reported
// as values (see Problem), never thrown.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace safehold::fs {

class EvidenceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A damaged part of the evidence, recorded so the work can go on with the rest.
struct Problem {
  std::string where;    // "image", "volume 2", "fs 1 (ntfs)", a path...
  std::string message;  // one sentence
  std::optional<uint64_t> img_offset;
};

// Image bytes that cannot be read (an EWF chunk that is missing, misplaced or damaged).
struct ChunkError {
  uint64_t img_offset = 0;
  uint64_t len = 0;
  std::string message;  // "chunk 12 (image bytes 393216-425983) cannot be read: ..."
};

// Reads TSK's thread-local error, resets it, and returns it as a sentence ("" when none).
std::string take_tsk_error();

}  // namespace safehold::fs
