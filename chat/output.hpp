// messages.jsonl and messages.csv writers for normalised messages. messages.csv begins with a
// UTF-8 BOM and its cells are base::append_csv_cell's: quoted per RFC 4180, formulas neutralised.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "base/json.hpp"
#include "chat/contract.hpp"
#include "chat/reader.hpp"

namespace safehold::chat {

// Appends s as a JSON string, byte for byte what safehold::base::dump writes for it.
void append_json_string(std::string& out, std::string_view s);

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
