// Shared helpers of the chat tests.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chat/contract.hpp"
#include "tests/common/support.hpp"

namespace safehold::test::chat {

struct Run {
  std::vector<safehold::chat::DatabaseResult> results;
  std::vector<nlohmann::json> messages;
  std::string csv;
};

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& p);

// Copies fixture files into dir (the "evidence copy") and returns their SHA-256 by name.
std::map<std::string, std::string> copy_fixtures(const std::filesystem::path& dir,
                                                 std::initializer_list<const char*> names);
// Every file in dir still has its hash, and nothing (-wal, -shm, -journal) was added.
void check_unchanged(const std::filesystem::path& dir,
                     const std::map<std::string, std::string>& hashes);
std::map<std::string, std::string> hash_dir(const std::filesystem::path& dir);

// Runs one extractor over the databases (each with its -wal sibling when present).
Run extract(const std::filesystem::path& outdir, const std::vector<std::filesystem::path>& dbs,
            std::function<std::optional<std::string>(const std::string&)> resolve = nullptr);

std::vector<nlohmann::json> of_db(const Run& r, const std::string& db, bool recovered = false);

// Runs SQL through the sqlite3 shell on a test-made database.
void sqlite(const std::filesystem::path& db, const std::string& sql);

// Protobuf wire format by hand: a base-128 varint, a length-delimited field, a varint field.
std::string varint(uint64_t v);
std::string pb_bytes(int field, const std::string& s);
std::string pb_varint(int field, uint64_t v);
// Upper-case hex of bytes, and the same as an SQL blob literal X'...'.
std::string hex(const std::string& bytes);
std::string sql_blob(const std::string& bytes);

}  // namespace safehold::test::chat
