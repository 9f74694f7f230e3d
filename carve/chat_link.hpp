// carve/: the chat stage. Once every artefact has its final id and file, each SQLite database is
// handed to the chat readers (chat/), which resolve attachments to media artefacts and write
// messages.jsonl and messages.csv; their results go onto the database's record.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "carve/artefact.hpp"
#include "fs/error.hpp"

namespace safehold::carve {

struct ChatTotals {
  uint64_t databases = 0;
  uint64_t messages = 0;   // over every database the readers processed
  uint64_t recovered = 0;  // of which recovered from free pages, WAL or journal
};

// Runs the chat readers on every SQLite artefact; reader errors are appended to `errors`.
ChatTotals read_chats(std::vector<Artefact>& arts, const std::filesystem::path& outdir,
                      std::vector<fs::Problem>& errors);

// The id of the media artefact whose evidence path ends with a path an app stored (the whole of
// it first, then without its leading folders), or nullopt.
std::optional<std::string> resolve_media(const std::vector<Artefact>& arts,
                                         const std::string& stored);

}  // namespace safehold::carve
