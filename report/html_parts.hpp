// Private to report/: the pieces report/html.cpp and report/html_sections.cpp share.
#pragma once

#include <fmt/core.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "base/text.hpp"
#include "report/evidence.hpp"
#include "report/html.hpp"
#include "report/text.hpp"

namespace safehold::report::html {

inline std::string esc(std::string_view s) {
  return base::markup_escape(s, base::Markup::html);
}

// A table; `filter` adds a search box (the page's script hides rows not containing its text).
void table_open(std::string& o, const std::string& id, std::initializer_list<std::string_view> head,
                bool filter);
void table_close(std::string& o, const std::string& id, bool filter);
// Cells are HTML already (escape evidence with esc()).
void row(std::string& o, std::initializer_list<std::string> cells, const std::string& attrs = "");
// A definition list of (label, escaped HTML) pairs, skipping empty values.
void facts(std::string& o, std::initializer_list<std::pair<std::string_view, std::string>> kv);
// A JSON object from evidence as a nested definition list (strings escaped).
std::string object_html(const nlohmann::json& j);
std::string num(const nlohmann::json& j, const char* key);  // integer member as text, "" if none

void section_acquisition(std::string& o, const Evidence& ev);
void section_volumes(std::string& o, const Evidence& ev);
void section_summary(std::string& o, const Evidence& ev);
void section_known(std::string& o, const Evidence& ev);
void section_artefacts(std::string& o, const Evidence& ev, const HtmlOptions& opt);
void section_chats(std::string& o, const Evidence& ev);
void section_timeline(std::string& o, const Evidence& ev);
void section_errors(std::string& o, const Evidence& ev);

}  // namespace safehold::report::html
