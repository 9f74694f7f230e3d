// Blob decoders (NSKeyedArchiver written by Python's plistlib, protobuf built by hand from the
// wire format, base64, JSON, hostile inputs) and the generic reader on message tables, blob
// bodies, NULL bodies and public timelines.
#include <catch2/catch.hpp>

#include "chat/decoders.hpp"
#include "tests/chat/chat_support.hpp"
#include "tests/common/support.hpp"

using namespace safehold::test;
using namespace safehold::test::chat;
using safehold::chat::Node;
namespace fsys = std::filesystem;

namespace {

// An Instagram-Direct-like message archived by NSKeyedArchiver, written by plistlib (binary).
void write_keyed_archive(const fsys::path& out) {
  write_text(out.string() + ".py", R"(import plistlib, sys
U = plistlib.UID
objs = ['$null',
        {'$class': U(5), 'text': U(2), 'senderId': U(3), 'timestamp': 1612345600.5,
         'attachments': U(6)},
        'see you at the park after school \U0001F642',
        '17841400000000001',
        'Media/IMG_0001.jpg',
        {'$classname': 'IGDirectMessage', '$classes': ['IGDirectMessage', 'NSObject']},
        {'$class': U(7), 'NS.objects': [U(4)]},
        {'$classname': 'NSArray', '$classes': ['NSArray', 'NSObject']}]
d = {'$version': 100000, '$archiver': 'NSKeyedArchiver', '$top': {'root': U(1)},
     '$objects': objs}
open(sys.argv[1], 'wb').write(plistlib.dumps(d, fmt=plistlib.FMT_BINARY))
)");
  must_run("python3 " + shell_quote(out.string() + ".py") + " " + shell_quote(out.string()));
  fsys::remove(out.string() + ".py");
}

// field 1: timestamp (varint); 2: text; 3: sender {1: id}; 4: fixed32 flags.
std::string protobuf_message() {
  return varint(1 << 3) + varint(1612345600) + pb_bytes(2, "hello from a protobuf") +
         pb_bytes(3, pb_bytes(1, "user-1001")) + varint(4 << 3 | 5) + std::string("\x07\0\0\0", 4);
}

std::string base64(const std::string& s) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t k = 0; k < s.size(); k += 3) {
    uint32_t v = static_cast<uint8_t>(s[k]) << 16;
    if (k + 1 < s.size()) v |= static_cast<uint8_t>(s[k + 1]) << 8;
    if (k + 2 < s.size()) v |= static_cast<uint8_t>(s[k + 2]);
    out += a[v >> 18];
    out += a[(v >> 12) & 63];
    out += k + 1 < s.size() ? a[(v >> 6) & 63] : '=';
    out += k + 2 < s.size() ? a[v & 63] : '=';
  }
  return out;
}

}  // namespace

TEST_CASE("chat: NSKeyedArchiver blob written by plistlib decodes to its object graph", "[chat]") {
  TempDir tmp("chat-blob");
  write_keyed_archive(tmp / "msg.archive");
  std::string bytes = read_text(tmp / "msg.archive");
  auto root = safehold::chat::parse_keyed_archive(bytes);
  REQUIRE(root);
  REQUIRE(root->type == Node::Type::Dict);
  REQUIRE(root->get("$class"));
  CHECK(root->get("$class")->s == "IGDirectMessage");
  REQUIRE(root->get("text"));
  CHECK(root->get("text")->s == "see you at the park after school \xF0\x9F\x99\x82");
  CHECK(root->get("senderId")->s == "17841400000000001");
  CHECK(root->get("timestamp")->d == 1612345600.5);
  const Node* att = root->get("attachments");
  REQUIRE(att);
  REQUIRE(att->type == Node::Type::Array);
  REQUIRE(att->items.size() == 1);
  CHECK(att->items[0].s == "Media/IMG_0001.jpg");
  auto blob = safehold::chat::decode_blob(bytes);
  REQUIRE(blob);
  CHECK(blob->format == "nskeyedarchiver");
  CHECK(safehold::chat::blob_text(*blob) == "see you at the park after school \xF0\x9F\x99\x82");
  // The same archive in base64 text.
  auto b64 = safehold::chat::decode_blob(base64(bytes));
  REQUIRE(b64);
  CHECK(b64->format == "base64+nskeyedarchiver");
  // Cut short, it is no plist.
  CHECK_FALSE(safehold::chat::parse_bplist(bytes.substr(0, bytes.size() - 5)));
}

TEST_CASE("chat: protobuf without a schema gives its field tree and text candidates", "[chat]") {
  auto root = safehold::chat::parse_protobuf(protobuf_message());
  REQUIRE(root);
  REQUIRE(root->fields.size() == 4);
  CHECK(root->fields[0].first == "1");
  CHECK(root->fields[0].second.i == 1612345600);
  CHECK(root->fields[1].first == "2");
  CHECK(root->fields[1].second.type == Node::Type::String);
  CHECK(root->fields[1].second.s == "hello from a protobuf");
  const Node* sender = root->get("3");
  REQUIRE(sender);
  REQUIRE(sender->get("1"));
  CHECK(sender->get("1")->s == "user-1001");
  CHECK(root->get("4")->i == 7);
  auto blob = safehold::chat::decode_blob(protobuf_message());
  REQUIRE(blob);
  CHECK(blob->format == "protobuf");
  CHECK(blob->strings == std::vector<std::string>{"hello from a protobuf", "user-1001"});
  CHECK(safehold::chat::blob_text(*blob) == "hello from a protobuf");
  auto b64 = safehold::chat::decode_blob(base64(protobuf_message()));
  REQUIRE(b64);
  CHECK(b64->format == "base64+protobuf");
  // A length running past the end, a field number 0 and a group are no message.
  CHECK_FALSE(safehold::chat::parse_protobuf(std::string("\x12\x30hi", 4)));
  CHECK_FALSE(safehold::chat::parse_protobuf(std::string("\x00\x01", 2)));
  CHECK_FALSE(safehold::chat::parse_protobuf(std::string("\x0b\x0c", 2)));
}

TEST_CASE("chat: JSON and base64 decoders, and their bounds", "[chat]") {
  auto blob = safehold::chat::decode_blob(R"({"id": 7, "message": {"text": "json body"}})");
  REQUIRE(blob);
  CHECK(blob->format == "json");
  CHECK(safehold::chat::blob_text(*blob) == "json body");
  CHECK(safehold::chat::base64_decode("aGVsbG8=") == "hello");
  CHECK(safehold::chat::base64_decode("aGVsbG8") == "hello");
  CHECK_FALSE(safehold::chat::base64_decode("aGV*bG8="));
  CHECK_FALSE(safehold::chat::base64_decode("a"));
  // Nesting deeper than the limit is refused before parsing.
  std::string deep(100000, '[');
  CHECK_FALSE(safehold::chat::parse_json(deep));
  std::string nested = "x";
  for (int k = 0; k < 200; ++k) nested = pb_bytes(1, nested);
  auto deep_pb = safehold::chat::parse_protobuf(nested);  // read, but only 64 levels down
  REQUIRE(deep_pb);
  size_t levels = 0;
  for (const Node* n = &*deep_pb; n && !n->fields.empty(); n = &n->fields[0].second) ++levels;
  CHECK(levels == 65);
  safehold::chat::DecodeLimits wide;
  wide.max_depth = 1000;
  wide.max_nodes = 50;
  std::string many;
  for (int k = 0; k < 100; ++k) many += varint(8) + varint(1);
  CHECK_FALSE(safehold::chat::parse_protobuf(many, wide));
}

TEST_CASE("chat: generic reader decodes blob bodies in a message table", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out"), tmp("chat-blob");
  write_keyed_archive(tmp / "msg.archive");
  sqlite(ev / "direct.db", R"(
CREATE TABLE direct_messages (id INTEGER PRIMARY KEY, thread_id TEXT, sender TEXT,
  timestamp REAL, message BLOB);
INSERT INTO direct_messages VALUES (1, 'thread-1', '17841400000000001', 1612345600.5,
  readfile()" + shell_quote((tmp / "msg.archive").string()) +
                               R"());
INSERT INTO direct_messages VALUES (2, 'thread-1', 'user-1001', 1612345700,
  X')" + hex(protobuf_message()) +
                               R"(');
INSERT INTO direct_messages VALUES (3, 'thread-1', 'user-1001', 1612345800,
  ')" + base64(protobuf_message()) +
                               R"(');
)");
  auto run = extract(out.path(), {ev / "direct.db"});
  CHECK(run.results[0].reader == "generic");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 3);
  CHECK(live[0]["body"] == "see you at the park after school \xF0\x9F\x99\x82");
  CHECK(live[0]["timestamp"] == "2021-02-03T09:46:40.500Z");
  CHECK(live[0]["sender"] == "17841400000000001");
  CHECK(live[1]["body"] == "hello from a protobuf");
  CHECK(live[2]["body"] == "hello from a protobuf");
  for (auto& m : live) CHECK(m["conversation"] == "thread-1");
}

TEST_CASE("chat: generic reader keeps NULL bodies, infers direction, leaves timelines out",
          "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  sqlite(ev / "app.db", R"(
CREATE TABLE chat_messages (id INTEGER PRIMARY KEY, conversation_id TEXT, sender TEXT,
  recipient TEXT, created_at INTEGER, body TEXT, type TEXT, attachment TEXT);
INSERT INTO chat_messages VALUES
  (1, 'c1', 'alex99', 'owner', 1612345600, 'hey, how old are you?', 'incoming', NULL),
  (2, 'c1', 'owner', 'alex99', 1612345660, '13', 'outgoing', NULL),
  (3, 'c1', 'owner', 'alex99', 1612345720, NULL, 'outgoing_image', '/sdcard/DCIM/a.jpg'),
  (4, 'c1', 'alex99', 'owner', 1612345780, NULL, 'incoming_call', NULL),
  (5, 'c1', NULL, NULL, 1612345840, NULL, 'incoming_sticker', 'stickers/42.webp');
CREATE TABLE timeline (id INTEGER PRIMARY KEY, author TEXT, text TEXT, created_at INTEGER);
INSERT INTO timeline VALUES (1, 'newsdesk', 'public post about the weather', 1612345600);
)");
  sqlite(ev / "tweets.db", R"(
CREATE TABLE tweets (id INTEGER PRIMARY KEY, author TEXT, text TEXT, created_at INTEGER);
INSERT INTO tweets VALUES (1, 'newsdesk', 'public post about the weather', 1612345600);
)");
  auto run = extract(out.path(), {ev / "app.db", ev / "tweets.db"});
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 5);
  for (auto& m : live) CHECK(m["table"] == "chat_messages");
  CHECK(live[0]["direction"] == "received");
  CHECK(live[0]["sender"] == "alex99");
  CHECK(live[0]["kind"] == "text");
  CHECK(live[1]["direction"] == "sent");
  CHECK(live[1]["sender"] == "");
  CHECK(live[1]["body"] == "13");
  CHECK(live[2]["body"].is_null());
  CHECK(live[2]["kind"] == "media");
  CHECK(live[2]["direction"] == "sent");
  CHECK(live[2]["attachments"] == nlohmann::json::array({"/sdcard/DCIM/a.jpg"}));
  CHECK(live[3]["kind"] == "call");
  CHECK(live[3]["direction"] == "received");
  CHECK(live[3]["sender"] == "alex99");
  CHECK(live[4]["kind"] == "sticker");
  CHECK(live[4]["sender"] == "c1");  // no sender nor recipient: the conversation's other party
  auto posts = of_db(run, "db2");
  REQUIRE(posts.size() == 1);
  CHECK(posts[0]["kind"] == "post");
  CHECK(posts[0]["sender"] == "newsdesk");
  CHECK(posts[0]["body"] == "public post about the weather");
}
