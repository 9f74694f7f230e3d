#include "carve/artefact.hpp"

#include <fmt/core.h>

#include <fstream>
#include <stdexcept>

#include "base/json.hpp"
#include "base/text.hpp"
#include "carve/video_hash.hpp"
#include "fs/json.hpp"

namespace safehold::carve {

namespace {
nlohmann::json opt(const std::optional<std::string>& s) {
  return s ? nlohmann::json(*s) : nlohmann::json(nullptr);
}
}  // namespace

nlohmann::json to_json(const Artefact& a) {
  nlohmann::json j;
  j["id"] = a.id;
  j["type"] = a.type;
  j["mime"] = a.mime;
  j["size"] = a.size;
  j["md5"] = a.md5;
  j["sha1"] = a.sha1;
  j["sha256"] = a.sha256;
  j["file"] = a.file.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.file);  // empty: skipped
  j["state"] = a.state;
  j["path"] = opt(a.path);
  if (a.source) j["source"] = *a.source;  // extractions only
  j["volume"] = a.volume ? nlohmann::json(*a.volume) : nlohmann::json(nullptr);
  j["fs"] = opt(a.fs);
  j["inode"] = a.inode ? nlohmann::json(*a.inode) : nlohmann::json(nullptr);
  auto runs = nlohmann::json::array();
  for (auto& r : a.byte_runs) runs.push_back({{"img_offset", r.img_offset}, {"len", r.len}});
  j["byte_runs"] = runs;
  j["mtime"] = opt(a.mtime);
  j["atime"] = opt(a.atime);
  j["ctime"] = opt(a.ctime);
  j["crtime"] = opt(a.crtime);
  j["valid"] = a.valid;
  j["extension_mismatch"] = a.extension_mismatch;
  j["parent"] = opt(a.parent);
  j["warnings"] = a.warnings;
  j["known"] = a.known ? nlohmann::json{{"set", a.known->set},
                                        {"category", opt(a.known->category)},
                                        {"ignorable", a.known->ignorable}}
                       : nlohmann::json(nullptr);
  if (a.known && a.known->video) {
    j["known"]["video"] = *a.known->video;
    j["known"]["video_percent"] = a.known->video_percent.value_or(0);
  }
  if (a.type == "jpeg" || a.type == "png") {
    j["pdq"] = opt(a.pdq);
    j["pdq_quality"] = a.pdq_quality ? nlohmann::json(*a.pdq_quality) : nlohmann::json(nullptr);
  }
  if (a.vpdq_file || video_type(a.type)) {
    j["vpdq"] = opt(a.vpdq_file);
    j["vpdq_frames"] = a.vpdq_frames ? nlohmann::json(*a.vpdq_frames) : nlohmann::json(nullptr);
  }
  if (a.type == "sqlite") {
    j["wal"] = opt(a.wal_file);
    j["journal"] = opt(a.journal_file);
    if (a.chat) {
      j["app"] = a.chat->app.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.chat->app);
      j["reader"] =
          a.chat->reader.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.chat->reader);
      j["messages"] = a.chat->messages;
      j["recovered"] = a.chat->recovered;
      j["encrypted"] = a.chat->encrypted;
      j["errors"] = a.chat->errors;
    }
  }
  return j;
}

namespace {
std::string xml(const std::string& s) {
  return base::markup_escape(s, base::Markup::xml);
}
}  // namespace

void write_dfxml(const std::filesystem::path& path, const DfxmlSource& src,
                 const std::vector<Artefact>& arts) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::runtime_error("cannot write " + path.string());
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<dfxml xmlns=\"http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML\"\n"
         "       xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
         "       xmlns:safehold=\"https://safehold.invalid/dfxml\" version=\"2.0.0\">\n"
         "  <metadata>\n    <dc:type>Carve Report</dc:type>\n  </metadata>\n"
         "  <creator version=\"1.0\">\n    <program>safehold carve</program>\n    "
         "<version>0.1.0</version>\n    <execution_environment>\n";
  if (!src.command_line.empty())
    out << "      <command_line>" << xml(src.command_line) << "</command_line>\n";
  if (!src.start_time.empty()) out << "      <start_time>" << src.start_time << "</start_time>\n";
  out << "    </execution_environment>\n  </creator>\n  <source>\n    <image_filename>"
      << xml(src.image) << "</image_filename>\n  </source>\n";
  for (const Artefact& a : arts) {
    out << "  <fileobject>\n";
    out << "    <filename>" << xml(a.path ? *a.path : a.file) << "</filename>\n";
    if (a.volume) out << "    <partition>" << (*a.volume + 1) << "</partition>\n";
    out << "    <id>" << xml(a.id) << "</id>\n";
    out << "    <filesize>" << a.size << "</filesize>\n";
    if (a.state == "carved")
      out << "    <unalloc>1</unalloc>\n";
    else
      out << "    <alloc>" << (a.state == "allocated" ? 1 : 0) << "</alloc>\n";
    if (a.state == "orphan") out << "    <orphan>1</orphan>\n";
    if (a.inode) out << "    <inode>" << *a.inode << "</inode>\n";
    if (a.mtime) out << "    <mtime>" << *a.mtime << "</mtime>\n";
    if (a.ctime) out << "    <ctime>" << *a.ctime << "</ctime>\n";
    if (a.atime) out << "    <atime>" << *a.atime << "</atime>\n";
    if (a.crtime) out << "    <crtime>" << *a.crtime << "</crtime>\n";
    out << "    <libmagic>" << xml(a.mime) << "</libmagic>\n";
    out << "    <byte_runs>\n";
    uint64_t file_off = 0;
    for (auto& r : a.byte_runs) {
      out << "      <byte_run file_offset=\"" << file_off << "\" img_offset=\"" << r.img_offset
          << "\" len=\"" << r.len << "\"/>\n";
      file_off += r.len;
    }
    out << "    </byte_runs>\n";
    out << "    <hashdigest type=\"md5\">" << a.md5 << "</hashdigest>\n";
    out << "    <hashdigest type=\"sha1\">" << a.sha1 << "</hashdigest>\n";
    out << "    <hashdigest type=\"sha256\">" << a.sha256 << "</hashdigest>\n";
    out << "    <safehold:artefact type=\"" << xml(a.type) << "\" state=\"" << a.state
        << "\" valid=\"" << (a.valid ? 1 : 0) << "\" file=\"" << xml(a.file) << "\"";
    if (a.parent) out << " parent=\"" << xml(*a.parent) << "\"";
    out << "/>\n";
    out << "  </fileobject>\n";
  }
  out << "</dfxml>\n";
  out.flush();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace safehold::carve
