#include "carve/chat/output.hpp"

#include "fs/json.hpp"

#include <stdexcept>

namespace vigil::carve::chat {

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto u = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = u(i);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    bool ok = i + n < s.size();
    for (size_t k = 1; ok && k <= n; ++k) {
      if ((u(i + k) & 0xC0) != 0x80) ok = false;
      else cp = (cp << 6) | (u(i + k) & 0x3F);
    }
    if (ok) {
      static const uint32_t min_cp[] = {0, 0x80, 0x800, 0x10000};
      if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) ok = false;
    }
    if (ok) {
      out.append(s.substr(i, n + 1));
      i += n + 1;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

namespace {
const char* kCsvHeader =
    "app,db,db_path,table,row,conversation,timestamp,direction,sender,recipients,body,"
    "attachments,recovered,location\r\n";

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (size_t k = 0; k < v.size(); ++k) {
    if (k) out += ';';
    out += v[k];
  }
  return out;
}
}  // namespace

MessageWriter::MessageWriter(const std::filesystem::path& outdir) : outdir_(outdir) {
  std::filesystem::create_directories(outdir);
  jsonl_.open(outdir / "messages.jsonl", std::ios::binary | std::ios::trunc);
  csv_.open(outdir / "messages.csv", std::ios::binary | std::ios::trunc);
  if (!jsonl_ || !csv_) throw std::runtime_error("cannot create messages.jsonl/csv in " + outdir.string());
  csv_ << kCsvHeader;
}

void MessageWriter::write(const DatabaseFound& db, const Message& m, const ChatContext& ctx) {
  std::vector<std::string> atts;
  atts.reserve(m.attachments.size());
  for (const auto& a : m.attachments) {
    std::optional<std::string> id;
    if (ctx.resolve_media && !a.empty()) id = ctx.resolve_media(a);
    atts.push_back(id ? *id : a);
  }
  nlohmann::json j = {
      {"app", m.app},
      {"db", db.artefact_id},
      {"db_path", db.db_path},
      {"table", m.table},
      {"row", m.row ? nlohmann::json(*m.row) : nlohmann::json(nullptr)},
      {"conversation", m.conversation},
      {"timestamp", m.timestamp ? nlohmann::json(*m.timestamp) : nlohmann::json(nullptr)},
      {"direction", m.direction},
      {"sender", m.sender},
      {"recipients", m.recipients},
      {"body", m.body ? nlohmann::json(*m.body) : nlohmann::json(nullptr)},
      {"attachments", atts},
      {"recovered", m.recovered},
  };
  if (m.recovered) j["location"] = m.location;
  jsonl_ << vigil::fs::dump(j) << '\n';

  std::string line;
  auto add = [&](std::string_view f) {
    if (!line.empty()) line += ',';
    line += csv_field(valid_utf8(f));
  };
  add(m.app);
  add(db.artefact_id);
  add(db.db_path);
  add(m.table);
  line += ',';
  if (m.row) line += std::to_string(*m.row);
  add(m.conversation);
  add(m.timestamp.value_or(""));
  add(m.direction);
  add(m.sender);
  add(join(m.recipients));
  add(m.body.value_or(""));
  add(join(atts));
  add(m.recovered ? "true" : "false");
  add(m.location);
  csv_ << line << "\r\n";
}

void MessageWriter::close() {
  if (closed_) return;
  closed_ = true;
  jsonl_.close();
  csv_.close();
  if (jsonl_.fail() || csv_.fail())
    throw std::runtime_error("writing messages.jsonl/csv in " + outdir_.string() + " failed");
}

}  // namespace vigil::carve::chat
