// The SQLite file format read by hand: header, write-ahead log frames, b-tree pages and records.
// Used to apply a WAL into a private copy (so that SQLite never checkpoints evidence) and to
// recover deleted rows from free space, freelist pages and superseded WAL frames.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/sqlite_db.hpp"

namespace safehold::chat {

struct DbHeader {
  uint32_t page_size = 0;
  uint32_t page_count = 0;
  uint32_t freelist_trunk = 0;
  uint32_t freelist_count = 0;
  uint32_t reserved = 0;  // bytes reserved at the end of each page
};
// Parses the 100-byte header; nullopt when the bytes are not a SQLite database.
std::optional<DbHeader> parse_header(std::string_view bytes);

struct WalFrame {
  uint32_t pgno = 0;
  uint32_t commit_size = 0;  // database size in pages for a commit frame, else 0
  uint64_t data_offset = 0;  // of the page image inside the WAL file
  bool valid = false;        // salts match and the running checksum holds
  bool applied = false;      // part of a committed transaction that a reader would see
  bool superseded = false;   // applied but a later applied frame holds the same page
};

struct Wal {
  uint32_t page_size = 0;
  std::vector<WalFrame> frames;
  uint32_t db_pages = 0;  // size of the database after the last valid commit (0: none)
  std::string error;      // why the WAL was ignored or cut short
};
Wal read_wal(std::string_view bytes);

// Copies `db` to `out` and writes the WAL's committed frames into the copy, in order.
// Returns the number of frames applied. Throws std::runtime_error on I/O errors.
size_t apply_wal(const std::filesystem::path& db, const std::string& wal_bytes, const Wal& wal,
                 const std::filesystem::path& out);

// Varint as SQLite stores it (1 to 9 bytes, big-endian, 7 bits a byte, 8 in the ninth).
// Returns the bytes consumed, 0 when it runs past `end`.
size_t read_varint(const uint8_t* p, const uint8_t* end, uint64_t& out);

// Payload size of a value of this serial type (-1: reserved type 10/11).
int64_t serial_size(uint64_t serial_type);

// Decodes one value of `serial_type` from p (which must hold serial_size bytes).
Value decode_value(uint64_t serial_type, const uint8_t* p);

std::string read_file_bytes(const std::filesystem::path& p);

}  // namespace safehold::chat
