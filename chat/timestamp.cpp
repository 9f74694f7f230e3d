#include "chat/timestamp.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace safehold::chat {

namespace {

constexpr long double kLow = 631152000.0L;    // 1990-01-01
constexpr long double kHigh = 2208988800.0L;  // 2040-01-01

long double epoch_offset_s(Epoch e) {
  switch (e) {
    case Epoch::Cocoa:
      return 978307200.0L;
    case Epoch::WebKit:
      return -11644473600.0L;
    default:
      return 0;
  }
}

long double unit_div(Unit u) {
  switch (u) {
    case Unit::Ms:
      return 1e3L;
    case Unit::Us:
      return 1e6L;
    case Unit::Ns:
      return 1e9L;
    default:
      return 1;
  }
}

long double unix_seconds(long double v, TimeScale s) {
  return v / unit_div(s.unit) + epoch_offset_s(s.epoch);
}

bool plausible(long double v, TimeScale s) {
  long double t = unix_seconds(v, s);
  return t >= kLow && t < kHigh;
}

// Units each epoch is stored in by real apps (WebKit/Chrome time is microseconds; Cocoa time is
// seconds, nanoseconds in newer iOS); fewer candidates, fewer wrong guesses.
std::vector<Unit> units_of(Epoch e) {
  switch (e) {
    case Epoch::WebKit:
      return {Unit::Us};
    case Epoch::Cocoa:
      return {Unit::S, Unit::Ns};
    default:
      return {Unit::S, Unit::Ms, Unit::Us, Unit::Ns};
  }
}

std::optional<TimeScale> detect_one(long double v, Epoch hint) {
  std::vector<Epoch> epochs;
  if (hint != Epoch::Any && hint != Epoch::None) epochs.push_back(hint);
  for (Epoch e : {Epoch::Unix, Epoch::WebKit, Epoch::Cocoa})
    if (e != hint) epochs.push_back(e);
  for (Epoch e : epochs)
    for (Unit u : units_of(e))
      if (plausible(v, {e, u})) return TimeScale{e, u};
  return std::nullopt;
}

}  // namespace

TimeScale detect_scale(const std::vector<long double>& sample, Epoch hint) {
  std::vector<long double> vals;
  for (long double v : sample)
    if (v != 0 && std::isfinite(static_cast<double>(v))) vals.push_back(std::fabs(v));
  Epoch fallback = (hint == Epoch::Any || hint == Epoch::None) ? Epoch::Unix : hint;
  if (vals.empty()) return {fallback, Unit::S};
  std::nth_element(vals.begin(), vals.begin() + static_cast<long>(vals.size() / 2), vals.end());
  if (auto s = detect_one(vals[vals.size() / 2], hint)) return *s;
  return {fallback, Unit::S};
}

std::optional<int64_t> to_unix_ns(long double value, TimeScale scale) {
  long double s = unix_seconds(value, scale);
  // Nanoseconds in an int64 reach years 1678 to 2262; beyond is no real message time.
  if (!std::isfinite(static_cast<double>(s)) || s < -9.2e9L || s > 9.2e9L) return std::nullopt;
  // Integral values keep their exact sub-second digits.
  long double ns = std::roundl(value * (1e9L / unit_div(scale.unit)));
  return static_cast<int64_t>(ns + epoch_offset_s(scale.epoch) * 1e9L);
}

std::string iso8601_ns(int64_t unix_ns) {
  int64_t secs = unix_ns / 1000000000;
  int64_t frac = unix_ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // Howard Hinnant's civil_from_days.
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  // Written by hand: this runs once a message.
  std::string out;
  out.reserve(32);
  auto put = [&](int64_t v, int width) {
    char tmp[24];
    int k = 0;
    bool neg = v < 0;
    uint64_t u = neg ? static_cast<uint64_t>(-v) : static_cast<uint64_t>(v);
    do {
      tmp[k++] = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u);
    while (k < width) tmp[k++] = '0';
    if (neg) out += '-';
    while (k) out += tmp[--k];
  };
  put(y, 4);
  out += '-';
  put(m, 2);
  out += '-';
  put(d, 2);
  out += 'T';
  put(rem / 3600, 2);
  out += ':';
  put(rem / 60 % 60, 2);
  out += ':';
  put(rem % 60, 2);
  if (frac) {
    out += '.';
    if (frac % 1000000 == 0)
      put(frac / 1000000, 3);
    else if (frac % 1000 == 0)
      put(frac / 1000, 6);
    else
      put(frac, 9);
  }
  return out + "Z";
}

std::optional<std::string> format_time(long double value, TimeScale scale, bool round_us) {
  if (scale.epoch == Epoch::None || value == 0 || !std::isfinite(static_cast<double>(value)))
    return std::nullopt;
  long double v = value;
  if (!plausible(v, scale)) {
    // Same epoch, another unit (iOS stores seconds in old rows and nanoseconds in new ones).
    for (Unit u : units_of(scale.epoch))
      if (plausible(v, {scale.epoch, u})) {
        scale.unit = u;
        break;
      }
  }
  auto ns = to_unix_ns(value, scale);
  if (!ns) return std::nullopt;
  if (round_us) {
    int64_t r = *ns % 1000;
    *ns -= r;
    if (r >= 500)
      *ns += 1000;
    else if (r <= -500)
      *ns -= 1000;
  }
  return iso8601_ns(*ns);
}

namespace {

// Howard Hinnant's days_from_civil.
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// n decimal digits at text[at]; nullopt when any is not a digit.
std::optional<int64_t> digits(std::string_view text, size_t at, size_t n) {
  if (at + n > text.size()) return std::nullopt;
  int64_t v = 0;
  for (size_t k = at; k < at + n; ++k) {
    if (text[k] < '0' || text[k] > '9') return std::nullopt;
    v = v * 10 + (text[k] - '0');
  }
  return v;
}

// The zone suffix at text[at] ("", "Z", "+HH:MM", "+HHMM") as seconds east of UTC.
std::optional<int64_t> zone_offset(std::string_view text, size_t at) {
  if (at == text.size()) return 0;
  if (text.substr(at) == "Z" || text.substr(at) == "z") return 0;
  if (text[at] != '+' && text[at] != '-') return std::nullopt;
  auto hh = digits(text, at + 1, 2);
  size_t mm_at = at + 3 + (at + 3 < text.size() && text[at + 3] == ':');
  auto mm = digits(text, mm_at, 2);
  if (!hh || !mm || mm_at + 2 != text.size() || *hh > 23 || *mm > 59) return std::nullopt;
  return (text[at] == '-' ? -1 : 1) * (*hh * 3600 + *mm * 60);
}

}  // namespace

std::optional<std::string> iso8601_to_utc(std::string_view t) {
  if (t.size() < 19 || t.size() > 40 || t[4] != '-' || t[7] != '-' ||
      (t[10] != 'T' && t[10] != ' ') || t[13] != ':' || t[16] != ':')
    return std::nullopt;
  auto y = digits(t, 0, 4), mo = digits(t, 5, 2), d = digits(t, 8, 2);
  auto h = digits(t, 11, 2), mi = digits(t, 14, 2), s = digits(t, 17, 2);
  if (!y || !mo || !d || !h || !mi || !s || *mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 ||
      *mi > 59 || *s > 60)
    return std::nullopt;
  size_t at = 19;
  int64_t frac_ns = 0;
  if (at < t.size() && t[at] == '.') {
    int64_t scale = 100000000;
    for (++at; at < t.size() && t[at] >= '0' && t[at] <= '9'; ++at, scale /= 10)
      frac_ns += (t[at] - '0') * scale;  // digits beyond nanoseconds add 0
  }
  auto zone = zone_offset(t, at);
  if (!zone) return std::nullopt;
  int64_t secs = days_from_civil(*y, *mo, *d) * 86400 + *h * 3600 + *mi * 60 + *s - *zone;
  return iso8601_ns(secs * 1000000000 + frac_ns);
}

}  // namespace safehold::chat
