#include "chat/reader.hpp"

namespace safehold::chat {

std::vector<ReaderFactory>& reader_registry() {
  static std::vector<ReaderFactory> registry = {
      make_android_sms_reader,  make_imessage_reader,       make_whatsapp_android_reader,
      make_whatsapp_ios_reader, make_telegram_reader,       make_skype_reader,
      make_kik_reader,          make_messenger_reader,      make_google_messages_reader,
      make_viber_reader,        make_signal_desktop_reader, make_snapchat_reader,
      make_discord_reader,      make_kik_android_reader,    make_line_reader,
      make_textnow_reader,      make_telegram_ios_reader,   make_instagram_reader,
      make_google_voice_reader, make_truth_social_reader,   make_tango_reader,
      make_badoo_reader,        make_tinder_reader,         make_threema_reader,
      make_wickr_reader,        make_generic_reader};
  return registry;
}

std::unique_ptr<Reader> pick_reader(const Schema& schema) {
  std::unique_ptr<Reader> best;
  int best_score = 0;
  for (auto& make : reader_registry()) {
    auto r = make();
    int score = r->match(schema);
    if (score > best_score) {
      best_score = score;
      best = std::move(r);
    }
  }
  return best;
}

bool has_all(const Schema& s, std::initializer_list<const char*> tables) {
  for (auto t : tables)
    if (!s.has(t)) return false;
  return true;
}

std::optional<std::string> Row::time(size_t k) const {
  const Value& v = (*this)[k];
  if (k >= scales_.size()) return std::nullopt;
  if (v.type == Value::Type::Real) {
    // A double carries about 16 digits: keep microseconds, drop the binary noise below.
    auto t = format_time(v.d, scales_[k], true);
    return t;
  }
  auto i = v.as_int();  // integers stay exact (nanoseconds do not fit a double)
  if (!i) return std::nullopt;
  return format_time(static_cast<long double>(*i), scales_[k]);
}

}  // namespace safehold::chat
