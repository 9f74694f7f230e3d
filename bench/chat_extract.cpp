// Test- and bench-only driver of the chat readers (`safehold carve` is the real entry point):
//   safehold_chat_extract OUTDIR DB...
// Each DB's DB-wal and DB-journal siblings are used when present. Prints one JSON line a
// database (the DatabaseResult) and writes OUTDIR/messages.jsonl and messages.csv.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "base/json.hpp"
#include "chat/contract.hpp"
#include "fs/json.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUTDIR DB...\n", argv[0]);
    return 2;
  }
  namespace fsys = std::filesystem;
  try {
    safehold::chat::ChatContext ctx;
    ctx.outdir = argv[1];
    safehold::chat::ChatExtractor ex(ctx);
    for (int k = 2; k < argc; ++k) {
      safehold::chat::DatabaseFound db;
      db.file = argv[k];
      db.artefact_id = "db-" + std::to_string(k - 1);
      db.db_path = db.file.string();
      db.state = "allocated";
      if (fsys::exists(db.file.string() + "-wal")) db.wal = db.file.string() + "-wal";
      if (fsys::exists(db.file.string() + "-journal")) db.journal = db.file.string() + "-journal";
      auto r = ex.process(db);
      nlohmann::json j = {
          {"db", db.artefact_id},     {"db_path", db.db_path},  {"app", r.app},
          {"reader", r.reader},       {"messages", r.messages}, {"recovered", r.recovered},
          {"encrypted", r.encrypted}, {"errors", r.errors},     {"warnings", r.warnings}};
      std::cout << safehold::base::dump(j) << "\n";
    }
    ex.finish();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
