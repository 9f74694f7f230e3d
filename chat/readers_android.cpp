// Android SMS/MMS (telephony provider's mmssms.db): sms, pdu, part, addr.
#include <map>

#include "chat/reader.hpp"

namespace safehold::chat {

namespace {

class AndroidSmsReader : public Reader {
 public:
  std::string name() const override { return "android_sms"; }
  std::string app() const override { return "sms"; }
  int match(const Schema& s) const override {
    const Table* sms = s.table("sms");
    if (!sms || !sms->has("address") || !sms->has("body") || !sms->has("type") || !sms->has("date"))
      return 0;
    return has_all(s, {"pdu", "part", "addr"}) ? 100 : 80;
  }

  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    std::vector<Source> out;
    Source sms;
    sms.table = "sms";
    sms.columns = {"_id", "thread_id", "address", "date", "type", "body"};
    sms.times = {{3, Epoch::Unix}};
    sms.map = [](const Row& r, Message& m) {
      m.conversation = r.text(1);
      m.timestamp = r.time(3);
      auto type = r.integer(4).value_or(0);
      std::string addr = r.text(2);
      if (type == 1) {
        m.direction = "received";
        m.sender = addr;
      } else if (type >= 2 && type <= 6) {
        m.direction = "sent";
        if (!addr.empty()) m.recipients.push_back(addr);
      } else if (!addr.empty()) {
        m.recipients.push_back(addr);
      }
      if (!r[5].null()) m.body = r.text(5);
      return true;
    };
    out.push_back(std::move(sms));

    const Schema& s = db.schema();
    const Table* pdu = s.table("pdu");
    if (pdu && pdu->has("msg_box") && pdu->has("date")) {
      load_mms(db, errors);
      Source mms;
      mms.table = "pdu";
      mms.columns = {"_id", "thread_id", "date", "msg_box"};
      mms.times = {{2, Epoch::Unix}};
      auto* self = this;
      mms.map = [self](const Row& r, Message& m) {
        auto id = r.integer(0);
        if (!id && r.rowid()) id = r.rowid();
        m.conversation = r.text(1);
        m.timestamp = r.time(2);
        auto box = r.integer(3).value_or(0);
        m.direction = box == 1 ? "received" : (box == 2 || box == 4) ? "sent" : "unknown";
        if (id) {
          if (auto it = self->addrs_.find(*id); it != self->addrs_.end())
            for (auto& [type, address] : it->second) {
              if (type == 137)
                m.sender = address;
              else if (type == 151 || type == 130 || type == 129)
                m.recipients.push_back(address);
            }
          if (auto it = self->parts_.find(*id); it != self->parts_.end())
            for (auto& p : it->second) {
              if (p.ct == "text/plain") {
                m.body = m.body ? *m.body + "\n" + p.text : p.text;
              } else if (p.ct != "application/smil" && !p.data.empty()) {
                m.attachments.push_back(p.data);
              }
            }
        }
        if (m.direction == "sent" && m.sender == "insert-address-token") m.sender.clear();
        return true;
      };
      out.push_back(std::move(mms));
    }
    return out;
  }

 private:
  struct Part {
    std::string ct, text, data;
  };
  std::map<int64_t, std::vector<std::pair<int64_t, std::string>>> addrs_;
  std::map<int64_t, std::vector<Part>> parts_;

  // The MMS lookups, from whichever of their columns this telephony provider's schema has
  // (vendors and Android versions differ: a `part` without `seq`, an `addr` without `_id`).
  void load_mms(const Db& db, std::vector<std::string>& errors) {
    try {
      const Table* addr = db.schema().table("addr");
      if (addr && addr->has("msg_id") && addr->has("address")) {
        Stmt st = db.prepare("SELECT msg_id, " + coalesce_of(addr, {"type"}) +
                             ", address FROM addr ORDER BY " + order_of(addr, {"_id"}));
        while (st.step())
          if (auto id = st.int_at(0))
            addrs_[*id].emplace_back(st.int_at(1).value_or(0), st.text_at(2));
      }
      const Table* part = db.schema().table("part");
      if (part && part->has("mid")) {
        Stmt st = db.prepare("SELECT mid, " + coalesce_of(part, {"ct"}) + ", " +
                             coalesce_of(part, {"text"}) + ", " + coalesce_of(part, {"_data"}) +
                             " FROM part ORDER BY " + order_of(part, {"seq", "_id"}));
        while (st.step())
          if (auto id = st.int_at(0))
            parts_[*id].push_back({st.text_at(1), st.text_at(2), st.text_at(3)});
      }
    } catch (const std::exception& e) {
      errors.push_back(std::string("mms lookups: ") + e.what());
    }
  }

  // "a, b, rowid" over the columns the table has.
  static std::string order_of(const Table* t, std::initializer_list<const char*> columns) {
    std::string out;
    for (auto c : columns)
      if (t->has(c)) out += quote_ident(c) + ", ";
    return out + (t->without_rowid ? "1" : "rowid");
  }
};

}  // namespace

std::unique_ptr<Reader> make_android_sms_reader() {
  return std::make_unique<AndroidSmsReader>();
}

}  // namespace safehold::chat
