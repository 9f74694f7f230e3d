// base/text: escaping and CSV cells for hostile evidence strings.
#include "base/text.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace safehold;

namespace {
std::string html(std::string_view s) {
  return base::markup_escape(s, base::Markup::html);
}
std::string xml(std::string_view s) {
  return base::markup_escape(s, base::Markup::xml);
}
}  // namespace

TEST_CASE("markup_escape html: entities, U+FFFD, visible controls and bidi overrides", "[base]") {
  CHECK(html("<img src=x onerror=\"a('b')\">&") ==
        "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;");
  CHECK(html("a\x01"
             "b\x7f") == "a\\x01b\\x7f");
  CHECK(html("bad \xff\xfe end") == "bad \xEF\xBF\xBD\xEF\xBF\xBD end");
  CHECK(html("evil\xe2\x80\xae"
             "gpj.exe") == "evil\\u{202e}gpj.exe");
  CHECK(html("caf\xc3\xa9 \xf0\x9f\x98\x80") == "caf\xc3\xa9 \xf0\x9f\x98\x80");
  CHECK(html("\xc0\xaf") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  CHECK(html("\xc2\x85") == "\\x85");                     // C1 control
}

TEST_CASE("csv_cell is RFC 4180 and never a formula unless told to keep them", "[base]") {
  CHECK(base::csv_cell("plain") == "plain");
  CHECK(base::csv_cell("a,b") == "\"a,b\"");
  CHECK(base::csv_cell("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(base::csv_cell("line\nbreak") == "\"line\nbreak\"");
  CHECK(base::csv_cell("=HYPERLINK(\"http://x\")") == "\"'=HYPERLINK(\"\"http://x\"\")\"");
  CHECK(base::csv_cell("@SUM(A1)") == "'@SUM(A1)");
  CHECK(base::csv_cell("+447700900001") == "'+447700900001");
  CHECK(base::csv_cell("-1") == "'-1");
  CHECK(base::csv_cell("\tx") == "'\tx");
  CHECK(base::csv_cell("\rx") == "\"'\rx\"");
  CHECK(base::csv_cell("\xff") == "\xEF\xBF\xBD");
  // Machine round-trip exports keep a leading sign (the queue's CSV is imported again).
  CHECK(base::csv_cell("+447700900001", base::Formulas::keep) == "+447700900001");
  CHECK(base::csv_cell("-1,2", base::Formulas::keep) == "\"-1,2\"");
  CHECK(base::csv_cell("", base::Formulas::keep).empty());
  std::string row;
  base::append_csv_cell(row, "a");
  row += ',';
  base::append_csv_cell(row, "=1+1");
  CHECK(row == "a,'=1+1");
}

TEST_CASE("markup_escape xml keeps DFXML's escaping: hex escapes for controls and bad bytes",
          "[base]") {
  CHECK(xml(std::string("a<b\x01&\xff", 6)) == "a&lt;b\\x01&amp;\\xff");
  CHECK(xml("it's \"q\" > \\") == "it's &quot;q&quot; &gt; \\x5c");
  CHECK(xml("caf\xc3\xa9") == "caf\xc3\xa9");
}

TEST_CASE("strict_utf8 and valid_utf8 agree on what is UTF-8", "[base]") {
  for (std::string_view ok :
       {"", "plain ascii text!", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x8a", "\xf4\x8f\xbf\xbf"}) {
    CHECK(base::strict_utf8(ok));
    CHECK(base::valid_utf8(ok) == ok);
  }
  for (std::string_view bad : {"cut \xe2\x82", "overlong \xc0\xaf", "surrogate \xed\xa0\x80",
                               "high \xf4\x90\x80\x80", "\xc3", "abcdefgh\xff"})
    CHECK_FALSE(base::strict_utf8(bad));
  CHECK(base::valid_utf8("ok \xff end") == "ok \xef\xbf\xbd end");
  CHECK(base::valid_utf8("\xed\xa0\x80") == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}
