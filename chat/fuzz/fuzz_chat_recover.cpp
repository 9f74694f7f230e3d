// libFuzzer target for the SQLite page decoding and deleted-record recovery: the input is a
// database image, also read as its own WAL and rollback journal (built with -DSAFEHOLD_FUZZ=ON
// and clang; see .ci/fuzz.sh, seeds from chat/fuzz/seeds.sh).
#include <cstddef>
#include <cstdint>
#include <string>

#include "chat/recover.hpp"

namespace {

safehold::chat::Table sms_table(int64_t root) {
  safehold::chat::Table t;
  t.name = "sms";
  t.root_page = root;
  t.columns = {{"_id", "INTEGER", true},   {"thread_id", "INTEGER", false},
               {"address", "TEXT", false}, {"date", "INTEGER", false},
               {"type", "INTEGER", false}, {"body", "TEXT", false}};
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto table = sms_table(1 + data[0] % 8);
  std::vector<std::optional<size_t>> wanted = {0, 1, 2, 3, 4, 5};
  safehold::chat::Wal wal = safehold::chat::read_wal(bytes);
  safehold::chat::RecoveryInput in;
  in.original = in.live = bytes;
  in.wal_applied = wal.db_pages != 0;
  in.wal_bytes = bytes;
  in.wal = &wal;
  in.journal = bytes;
  (void)safehold::chat::recover_records(in, table, wanted);
  return 0;
}
