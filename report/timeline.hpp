// Timelines of an exhibit: a TSK bodyfile (the 3.x format `fls -m` writes and `mactime -b`
// reads) of filesystem times, and a merged, sorted timeline (CSV, JSONL) of filesystem times,
// carved artefacts' times, EXIF dates and chat messages. Takes plain records: the caller walks
// the filesystems (through fs/) or reads a carve's outputs (report::Evidence).
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "report/evidence.hpp"
#include "report/text.hpp"

namespace safehold::report {

// One file's bodyfile fields: MD5|name|inode|mode|UID|GID|size|atime|mtime|ctime|crtime.
struct FileRecord {
  std::string md5 = "0";
  std::string name;           // path as shown (deleted names end in " (deleted)", as fls -m)
  std::string inode = "0";    // metadata address
  std::string mode;           // "r/r---------": type only when permissions are not known
  uint64_t uid = 0, gid = 0;  // 0 when not known
  uint64_t size = 0;
  std::optional<UtcTime> atime, mtime, ctime, crtime;
  // For the merged timeline (not in the bodyfile).
  std::string state;       // allocated, deleted, orphan, carved
  std::string filesystem;  // "0 (ext4)", "" when none
  std::string artefact;    // Safehold's artefact id, when the record is an artefact
};

// The TSK mode string for a type from `safehold ls --json` ("file", "dir", "link", "virtual").
std::string mode_for_type(const std::string& type);
// One bodyfile line, ending in '\n'. '|' and control characters in the name become '^' (TSK's
// own replacement for control characters), so that every line has exactly 11 fields.
std::string bodyfile_line(const FileRecord& r);

struct Event {
  UtcTime time;
  std::string macb;    // which of a file's times fall here ("m.cb"), "" for other events
  std::string source;  // "filesystem", "artefact", "exif", "message"
  std::string what;  // "file times", "jpeg", "EXIF DateTimeOriginal (camera clock)", "message sent"
  std::string path;  // evidence path, or the chat's database path
  std::string state;  // allocated, deleted, orphan, carved; "recovered" for recovered messages
  std::string filesystem;
  std::string inode;
  std::string artefact;  // artefact id (the database's for messages)
  std::string app;       // chat app
  std::string detail;    // sender, recipients and body of a message; file size otherwise
};

// The events of one file: one per distinct time among m, a, c, b, each with its macb string.
void add_file_events(std::vector<Event>& out, const FileRecord& r, const std::string& source);

// Bodyfile records of a carve's artefacts (pass 1 files with their times; carved ones without).
std::vector<FileRecord> artefact_records(const Evidence& ev);
// Events of the artefacts' filesystem times and of every message with a timestamp.
std::vector<Event> artefact_events(const Evidence& ev);
std::vector<Event> message_events(const Evidence& ev);
// An EXIF date ("YYYY:MM:DD HH:MM:SS", camera clock without zone, read as UTC) as an event of
// the artefact `a` (a report.jsonl line); nullopt when it does not parse.
std::optional<Event> exif_event(const nlohmann::json& a, const std::string& tag,
                                const std::string& value);

// Time order; ties by source, path and what, so the output is deterministic.
void sort_events(std::vector<Event>& events);

// CSV (UTF-8 BOM, CRLF, RFC 4180, formula-safe cells) with a header line.
void write_csv(std::ostream& out, const std::vector<Event>& events);
// One JSON object a line: time (ISO 8601 UTC), unix, and the fields of Event.
void write_jsonl(std::ostream& out, const std::vector<Event>& events);

}  // namespace safehold::report
