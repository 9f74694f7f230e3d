#include "tests/chat/chat_support.hpp"

#include <catch2/catch.hpp>
#include <fstream>

namespace safehold::test::chat {

namespace fsys = std::filesystem;
using namespace safehold::chat;

std::vector<nlohmann::json> read_jsonl(const fsys::path& p) {
  std::vector<nlohmann::json> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::map<std::string, std::string> copy_fixtures(const fsys::path& dir,
                                                 std::initializer_list<const char*> names) {
  std::map<std::string, std::string> hashes;
  for (auto n : names) {
    fsys::copy_file(*fixtures() / "chat" / n, dir / n);
    hashes[n] = sha256_file(dir / n);
  }
  return hashes;
}

std::map<std::string, std::string> hash_dir(const fsys::path& dir) {
  std::map<std::string, std::string> hashes;
  for (auto& e : fsys::directory_iterator(dir))
    hashes[e.path().filename().string()] = sha256_file(e.path());
  return hashes;
}

void check_unchanged(const fsys::path& dir, const std::map<std::string, std::string>& hashes) {
  for (auto& [n, h] : hashes) {
    INFO(n);
    CHECK(sha256_file(dir / n) == h);
  }
  for (auto& e : fsys::directory_iterator(dir)) {
    INFO(e.path());
    CHECK(hashes.count(e.path().filename().string()) == 1);
  }
}

Run extract(const fsys::path& outdir, const std::vector<fsys::path>& dbs,
            std::function<std::optional<std::string>(const std::string&)> resolve) {
  ChatContext ctx;
  ctx.outdir = outdir;
  ctx.resolve_media = std::move(resolve);
  Run run;
  {
    ChatExtractor ex(ctx);
    int k = 0;
    for (auto& p : dbs) {
      DatabaseFound d;
      d.artefact_id = "db" + std::to_string(++k);
      d.db_path = "/data/" + p.filename().string();
      d.state = "allocated";
      d.file = p;
      if (fsys::exists(p.string() + "-wal")) d.wal = p.string() + "-wal";
      if (fsys::exists(p.string() + "-journal")) d.journal = p.string() + "-journal";
      run.results.push_back(ex.process(d));
    }
    ex.finish();
  }
  run.messages = read_jsonl(outdir / "messages.jsonl");
  run.csv = read_text(outdir / "messages.csv");
  return run;
}

std::vector<nlohmann::json> of_db(const Run& r, const std::string& db, bool recovered) {
  std::vector<nlohmann::json> out;
  for (auto& m : r.messages)
    if (m["db"] == db && m["recovered"] == recovered) out.push_back(m);
  return out;
}

void sqlite(const fsys::path& db, const std::string& sql) {
  must_run("sqlite3 -batch -bail " + shell_quote(db.string()) + " <<'SAFEHOLD_SQL'\n" + sql +
           "\nSAFEHOLD_SQL");
}

std::string varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  return out + static_cast<char>(v);
}

std::string pb_bytes(int field, const std::string& s) {
  return varint(static_cast<uint64_t>(field) << 3 | 2) + varint(s.size()) + s;
}

std::string pb_varint(int field, uint64_t v) {
  return varint(static_cast<uint64_t>(field) << 3) + varint(v);
}

std::string hex(const std::string& bytes) {
  static const char* d = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) out += {d[c >> 4], d[c & 15]};
  return out;
}

std::string sql_blob(const std::string& bytes) {
  return "X'" + hex(bytes) + "'";
}

}  // namespace safehold::test::chat
