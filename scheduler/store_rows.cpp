// Rows as model values and the input checks of every store operation (store_rows.hpp).
#include "scheduler/store_rows.hpp"

#include <algorithm>

namespace safehold::scheduler::detail {

namespace {

// The next code point of UTF-8 text at i (advancing i), or -1 when the bytes are not UTF-8.
int32_t next_code_point(const std::string& s, size_t& i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t n = c < 0x80             ? 1
             : (c & 0xE0) == 0xC0 ? 2
             : (c & 0xF0) == 0xE0 ? 3
             : (c & 0xF8) == 0xF0 ? 4
                                  : 0;
  if (n == 0 || i + n > s.size()) return -1;
  int32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static const int32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;  // overlong
  i += n;
  return cp;
}

// Controls that reorder text in a terminal: the id would read differently from what is stored
// (U+202E makes "EX1<RLO>gpj.exe" print as "EX1exe.jpg").
bool bidi_control(int32_t cp) {
  return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

}  // namespace

void check_id(const char* what, const std::string& s) {
  if (s.empty()) throw QueueError(Kind::invalid, fmt::format("{} must not be empty", what));
  if (s.size() > 200)
    throw QueueError(Kind::invalid, fmt::format("{} is longer than 200 characters", what));
  size_t i = 0;
  while (i < s.size()) {
    int32_t cp = next_code_point(s, i);
    if (cp < 0) throw QueueError(Kind::invalid, fmt::format("{} is not valid UTF-8", what));
    if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029)
      throw QueueError(Kind::invalid, fmt::format("{} contains a control character", what));
    if (bidi_control(cp))
      throw QueueError(Kind::invalid,
                       fmt::format("{} contains a bidirectional control character (U+{:04X}): "
                                   "identifiers are limited to printable characters that read "
                                   "the same everywhere",
                                   what, cp));
  }
  if (s.find_first_not_of(' ') == std::string::npos)
    throw QueueError(Kind::invalid, fmt::format("{} must not be blank", what));
  if (s.front() == ' ' || s.back() == ' ')
    throw QueueError(Kind::invalid, fmt::format("{} must not begin or end with a space", what));
}

void check_reason(const std::string& reason) {
  bool blank =
      std::all_of(reason.begin(), reason.end(), [](char c) { return c == ' ' || c == '\t'; });
  if (reason.empty() || blank)
    throw QueueError(Kind::invalid, "a reason is required for this change (--reason)");
}

void check_date(const std::string& d) {
  if (d.empty()) return;
  bool ok = d.size() == 10 && d[4] == '-' && d[7] == '-';
  for (size_t i = 0; ok && i < 10; ++i)
    if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9')) ok = false;
  if (ok) {
    int m = std::stoi(d.substr(5, 2)), day = std::stoi(d.substr(8, 2));
    ok = m >= 1 && m <= 12 && day >= 1 && day <= 31;
  }
  if (!ok) throw QueueError(Kind::invalid, fmt::format("seized date '{}' is not YYYY-MM-DD", d));
}

DeviceRow device_from(const Row& r) {
  DeviceRow x;
  x.id = r.integer(0);
  auto& d = x.d;
  d.exhibit = r.text(1);
  d.case_ref = r.text(2);
  d.suspect_ref = r.text(3);
  d.device_class = parse_or<DeviceClass>(r.text(4), parse_class, "device class");
  d.capacity = static_cast<uint64_t>(r.integer(5));
  d.seized = r.text(6);
  d.source = r.text(7);
  d.notes = r.text(8);
  d.state = parse_or<DeviceState>(r.text(9), parse_state, "device state");
  d.station = r.text(10);
  d.intake_at = r.integer(11);
  d.deadline_at = r.integer(12);
  d.lease_expires = r.integer(13);
  d.attempts = static_cast<int>(r.integer(14));
  d.last_error = r.text(15);
  d.tier = static_cast<int>(r.integer(16));
  d.level = static_cast<int>(r.integer(17));
  d.priority_key = r.integer(18);
  x.risk = parse_or<Risk>(r.text(19), parse_risk, "risk band");
  d.image = r.text(20);
  d.examiner = r.text(21);
  return x;
}

Case case_from(const Row& r) {
  Case c;
  c.reference = r.text(0);
  c.risk = parse_or<Risk>(r.text(1), parse_risk, "risk band");
  c.offence = r.text(2);
  c.officer = r.text(3);
  c.notes = r.text(4);
  c.created_at = r.integer(5);
  return c;
}
Suspect suspect_from(const Row& r) {
  Suspect s;
  s.reference = r.text(0);
  s.case_ref = r.text(1);
  s.lives_with_children = parse_or<Answer>(r.text(2), parse_answer, "answer");
  s.access_to_children = parse_or<Answer>(r.text(3), parse_answer, "answer");
  s.children_count = static_cast<int>(r.integer(4));
  s.age_bands = r.text(5);
  s.access_notes = r.text(6);
  s.created_at = r.integer(7);
  return s;
}
Alert alert_from(const Row& r) {
  Alert a;
  a.id = r.integer(0);
  a.case_ref = r.text(1);
  a.suspect_ref = r.text(2);
  a.reason = r.text(3);
  a.raised_at = r.integer(4);
  a.raised_by = r.text(5);
  a.due_at = r.integer(6);
  a.acknowledged_at = r.integer(7);
  a.acknowledged = a.acknowledged_at != 0;
  a.acknowledged_by = r.text(8);
  a.reference = r.text(9);
  a.kind = r.text(10);
  a.exhibit = r.text(11);
  return a;
}

Token token_from(const Row& r) {
  Token t;
  t.id = r.integer(0);
  t.name = r.text(1);
  t.role = parse_or<Role>(r.text(2), parse_role, "role");
  t.created_at = r.integer(3);
  t.created_by = r.text(4);
  t.revoked_at = r.integer(5);
  return t;
}

bool active(DeviceState s) {
  return s != DeviceState::done && s != DeviceState::withdrawn && s != DeviceState::failed &&
         s != DeviceState::review;
}
bool ready(DeviceState s) {
  return s == DeviceState::queued || s == DeviceState::acquired;
}

}  // namespace safehold::scheduler::detail
