#include "chat/output.hpp"

#include <cstring>
#include <stdexcept>

#include "base/json.hpp"
#include "base/text.hpp"

namespace safehold::chat {

namespace {
// Byte classes: 1 needs a JSON escape, 4 is not ASCII.
struct ByteClasses {
  uint8_t c[256];
  ByteClasses() {
    for (int k = 0; k < 256; ++k) {
      c[k] = 0;
      if (k < 0x20 || k == '"' || k == '\\') c[k] |= 1;
      if (k >= 0x80) c[k] |= 4;
    }
  }
};
const ByteClasses kClasses;

unsigned classify(std::string_view s) {
  unsigned f = 0;
  for (unsigned char ch : s) f |= kClasses.c[ch];
  return f;
}
}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  unsigned f = classify(s);
  if (!(f & 5)) {
    out += '"';
    out.append(s);
    out += '"';
    return;
  }
  if ((f & 4) && !base::strict_utf8(s)) {
    // Evidence bytes that are not UTF-8: base::dump's replacement rules, exactly.
    out += safehold::base::dump(nlohmann::json(std::string(s)));
    return;
  }
  static const char* hex = "0123456789abcdef";
  out += '"';
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + start, i - start);
    start = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
  }
  out.append(s.data() + start, s.size() - start);
  out += '"';
}

namespace {
const char* kCsvHeader =
    "app,db,db_path,table,row,conversation,timestamp,direction,sender,recipients,body,"
    "attachments,recovered,location,kind,recovered_from\r\n";

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
  jsonl_buf_.resize(1 << 20);
  csv_buf_.resize(1 << 20);
  jsonl_.rdbuf()->pubsetbuf(jsonl_buf_.data(), static_cast<std::streamsize>(jsonl_buf_.size()));
  csv_.rdbuf()->pubsetbuf(csv_buf_.data(), static_cast<std::streamsize>(csv_buf_.size()));
  jsonl_.open(outdir / "messages.jsonl", std::ios::binary | std::ios::trunc);
  csv_.open(outdir / "messages.csv", std::ios::binary | std::ios::trunc);
  if (!jsonl_ || !csv_)
    throw std::runtime_error("cannot create messages.jsonl/csv in " + outdir.string());
  csv_ << base::kUtf8Bom << kCsvHeader;
}

void MessageWriter::write(const DatabaseFound& db, const Message& m, const ChatContext& ctx) {
  std::vector<std::string> atts;
  atts.reserve(m.attachments.size());
  for (const auto& a : m.attachments) {
    std::optional<std::string> id;
    if (ctx.resolve_media && !a.empty()) id = ctx.resolve_media(a);
    atts.push_back(id ? *id : a);
  }
  // Keys in base::dump's (sorted) order; strings escaped as base::dump does (tested equal).
  std::string& j = line_;
  j.clear();
  auto key = [&](const char* k) {
    j += j.empty() ? "{\"" : ",\"";
    j += k;
    j += "\":";
  };
  auto str_array = [&](const std::vector<std::string>& v) {
    j += '[';
    for (size_t k = 0; k < v.size(); ++k) {
      if (k) j += ',';
      append_json_string(j, v[k]);
    }
    j += ']';
  };
  key("app");
  append_json_string(j, m.app);
  key("attachments");
  str_array(atts);
  key("body");
  if (m.body)
    append_json_string(j, *m.body);
  else
    j += "null";
  key("conversation");
  append_json_string(j, m.conversation);
  key("db");
  append_json_string(j, db.artefact_id);
  key("db_path");
  append_json_string(j, db.db_path);
  key("direction");
  append_json_string(j, m.direction);
  key("kind");
  append_json_string(j, m.kind);
  if (m.recovered) {
    key("location");
    append_json_string(j, m.location);
  }
  key("recipients");
  str_array(m.recipients);
  key("recovered");
  j += m.recovered ? "true" : "false";
  if (m.recovered) {
    key("recovered_from");
    append_json_string(j, m.recovered_from);
  }
  key("row");
  j += m.row ? std::to_string(*m.row) : "null";
  key("sender");
  append_json_string(j, m.sender);
  key("table");
  append_json_string(j, m.table);
  key("timestamp");
  if (m.timestamp)
    append_json_string(j, *m.timestamp);
  else
    j += "null";
  j += "}\n";
  jsonl_ << j;

  std::string& line = line_;
  line.clear();
  bool first = true;
  auto add = [&](std::string_view f) {
    if (!first) line += ',';
    first = false;
    base::append_csv_cell(line, f);
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
  add(m.kind);
  add(m.recovered_from);
  line += "\r\n";
  csv_ << line;
}

void MessageWriter::close() {
  if (closed_) return;
  closed_ = true;
  jsonl_.close();
  csv_.close();
  if (jsonl_.fail() || csv_.fail())
    throw std::runtime_error("writing messages.jsonl/csv in " + outdir_.string() + " failed");
}

}  // namespace safehold::chat
