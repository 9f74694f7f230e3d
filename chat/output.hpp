// messages.jsonl and messages.csv writers for normalised messages.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "base/json.hpp"
#include "chat/contract.hpp"
#include "chat/reader.hpp"

namespace safehold::chat {

// Replaces invalid UTF-8 sequences with U+FFFD (evidence strings may be anything).
std::string valid_utf8(std::string_view s);
// Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool strict_utf8(std::string_view s);
// Appends s as a JSON string, byte for byte what safehold::base::dump writes for it.
void append_json_string(std::string& out, std::string_view s);
// One RFC 4180 field: quoted when it holds a comma, a quote, CR or LF.
std::string csv_field(std::string_view s);

class MessageWriter {
 public:
  explicit MessageWriter(const std::filesystem::path& outdir);
  // Attachments are resolved through `resolve` (artefact ids) when it knows the path.
  void write(const DatabaseFound& db, const Message& m, const ChatContext& ctx);
  void close();  // throws std::runtime_error when a write failed

 private:
  std::vector<char> jsonl_buf_, csv_buf_;  // declared before the streams that use them
  std::ofstream jsonl_;
  std::ofstream csv_;
  std::filesystem::path outdir_;
  bool closed_ = false;
  std::string line_;  // reused buffer
};

}  // namespace safehold::chat
