// The contract between the carving pass (carve/, media) and the chat readers (chat/).
// The carving pass finds every SQLite database by content (allocated, deleted, orphan files and
// carved from unallocated space), copies it and its -wal/-journal companions out of the evidence
// into OUTDIR, and hands each copy to a ChatExtractor once all media artefacts are known, so that
// attachments can be resolved to carved media artefact ids.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace safehold::chat {

struct DatabaseFound {
  std::string artefact_id;                   // the database's artefact id in report.jsonl
  std::string db_path;                       // path inside the evidence; "" when carved
  std::string state;                         // allocated, deleted, orphan or carved
  std::filesystem::path file;                // Safehold's copy under OUTDIR (never the evidence)
  std::optional<std::filesystem::path> wal;  // copy of the -wal companion, when found
  std::optional<std::filesystem::path> journal;  // copy of the -journal companion, when found
};

struct DatabaseResult {
  std::string app;        // "sms", "imessage", "whatsapp", ..., "generic", or "" when not a chat db
  std::string reader;     // plug-in name, e.g. "android_sms"
  uint64_t messages = 0;  // rows written to messages.jsonl (live and recovered)
  uint64_t recovered = 0;  // of which recovered from free space, freelists or superseded WAL frames
  bool encrypted = false;  // an encrypted store recognised (Signal, ...)
  std::vector<std::string> errors;  // damage met in this database; the others go on
  // Not damage, but what an examiner must know: why a recognised database gave 0 messages.
  // carve/ copies these into the database artefact's `warnings` in report.jsonl.
  std::vector<std::string> warnings;
};

struct ChatContext {
  std::filesystem::path outdir;  // messages.jsonl and messages.csv are written here
  // Artefact id of the carved media file whose path inside the evidence ends with stored_path
  // (an attachment path as the chat app stored it), or nullopt.
  std::function<std::optional<std::string>(const std::string& stored_path)> resolve_media;
};

// Implemented in chat/. Used from one thread.
class ChatExtractor {
 public:
  explicit ChatExtractor(ChatContext ctx);
  ~ChatExtractor();
  ChatExtractor(const ChatExtractor&) = delete;
  ChatExtractor& operator=(const ChatExtractor&) = delete;
  DatabaseResult process(const DatabaseFound& db);  // never throws for damaged databases
  void finish();  // flushes and closes messages.jsonl and messages.csv

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace safehold::chat
