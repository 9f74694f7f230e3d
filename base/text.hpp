// Text from hostile evidence made safe for people, markup and spreadsheets: UTF-8 validation,
// XML/HTML escaping and CSV cells. One implementation for every module that writes such text.
#pragma once

#include <string>
#include <string_view>

namespace safehold::base {

// Decodes one strict UTF-8 sequence at s[i] (no overlongs, surrogates or code points above
// U+10FFFF); returns its length, or 0 when the bytes there are not valid UTF-8.
size_t decode_utf8(std::string_view s, size_t i, char32_t& cp);

// Strict UTF-8 check, fast on ASCII runs.
bool strict_utf8(std::string_view s);
// Appends code point cp as UTF-8; a surrogate or a value beyond U+10FFFF becomes U+FFFD.
void append_utf8(std::string& out, char32_t cp);

// Replaces each invalid UTF-8 byte with U+FFFD.
std::string valid_utf8(std::string_view s);

enum class Markup {
  // DFXML text and attribute values: printable() first (controls, backslash and invalid UTF-8
  // bytes become \xNN), then & < > " as entities.
  xml,
  // HTML text and double-quoted attributes: & < > " ' as entities; invalid UTF-8 becomes U+FFFD;
  // controls (C0 except tab and LF, DEL, C1) become \xNN and the bidirectional controls (which can
  // make "gpj.exe" read as "exe.jpg") \u{NNNN}, visible rather than obeyed.
  html,
};
std::string markup_escape(std::string_view s, Markup m);

enum class Formulas {
  neutralise,  // a cell beginning with = + - @ tab or CR gets a leading ' (OWASP CSV injection)
  keep,        // machine-read exports that are imported again byte for byte
};
// Appends one CSV cell (RFC 4180): quoted when it holds a comma, quote, CR or LF; invalid UTF-8
// becomes U+FFFD.
void append_csv_cell(std::string& out, std::string_view s, Formulas f = Formulas::neutralise);
std::string csv_cell(std::string_view s, Formulas f = Formulas::neutralise);

// The UTF-8 byte order mark, which tells spreadsheets a CSV file's encoding.
inline constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

}  // namespace safehold::base
