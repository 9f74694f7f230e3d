#include "fs/keys.hpp"

#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace safehold::fs {

const char* to_string(SecretKind k) {
  switch (k) {
    case SecretKind::password:
      return "password";
    case SecretKind::recovery_password:
      return "recovery password";
    case SecretKind::key_file:
      return "key file";
  }
  return "unknown";
}

VolumeKey::~VolumeKey() {
  if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
}

namespace {

// Lowercase, without braces: "{ABCD-...}" and "abcd-..." name the same volume.
std::string normal_id(std::string s) {
  if (s.size() >= 2 && s.front() == '{' && s.back() == '}') s = s.substr(1, s.size() - 2);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool recovery_shape(std::string_view s) {
  if (s.size() != 55) return false;
  for (size_t g = 0; g < 8; ++g) {
    if (!digits(s.substr(g * 7, 6))) return false;
    if (g < 7 && s[g * 7 + 6] != '-') return false;
  }
  return true;
}

}  // namespace

bool VolumeKey::names(int index, uint64_t offset, const std::string& identifier) const {
  if (digits(volume)) return volume.size() < 10 && std::stoi(volume) == index;
  if (volume.size() > 1 && volume[0] == '@')
    return digits(volume.substr(1)) && volume.size() < 21 &&
           std::stoull(volume.substr(1)) == offset;
  return !identifier.empty() && normal_id(volume) == normal_id(identifier);
}

VolumeKey parse_volume_key(std::string_view text, const std::string& origin) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0)
    throw std::invalid_argument(origin +
                                ": a key is given as VOLUME=SECRET (VOLUME: the volume's number "
                                "as `info` lists it, @BYTE-OFFSET, or its UUID/GUID)");
  VolumeKey k;
  k.origin = origin;
  k.volume = std::string(text.substr(0, eq));
  if (k.volume[0] == '@' &&
      !(k.volume.size() > 1 && digits(k.volume.substr(1)) && k.volume.size() < 21))
    throw std::invalid_argument(origin + ": the volume '" + k.volume +
                                "' is not @ followed by a byte offset");
  if (digits(k.volume) && k.volume.size() >= 10)
    throw std::invalid_argument(origin + ": the volume number is too large");
  std::string_view s = text.substr(eq + 1);
  auto take = [&](std::string_view prefix, SecretKind kind) {
    if (s.substr(0, prefix.size()) != prefix) return false;
    k.kind = kind;
    k.secret = std::string(s.substr(prefix.size()));
    return true;
  };
  if (!take("password:", SecretKind::password) &&
      !take("recovery:", SecretKind::recovery_password) &&
      !take("keyfile:", SecretKind::key_file)) {
    k.kind = recovery_shape(s) ? SecretKind::recovery_password : SecretKind::password;
    k.secret = std::string(s);
  }
  if (k.secret.empty()) throw std::invalid_argument(origin + ": the secret is empty");
  if (k.kind == SecretKind::recovery_password && !recovery_shape(k.secret))
    throw std::invalid_argument(
        origin + ": a recovery password is 8 groups of 6 digits separated by dashes");
  return k;
}

std::vector<VolumeKey> read_key_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw std::invalid_argument(name + ": key file cannot be read: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw std::invalid_argument(name + ": key file is not a regular file");
  if (st.st_uid != ::geteuid() || (st.st_mode & 077)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw std::invalid_argument(name +
                                ": key file refused: it must be owned by you with mode 0600 "
                                "or stricter (it is mode " +
                                mode + (st.st_uid != ::geteuid() ? ", owned by another user" : "") +
                                ")");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument(name + ": key file cannot be read");
  std::vector<VolumeKey> keys;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t first = line.find_first_not_of(" \t");
    if (first != std::string::npos && line[first] != '#')
      keys.push_back(parse_volume_key(line, name + " line " + std::to_string(n)));
    OPENSSL_cleanse(line.data(), line.size());
  }
  if (in.bad()) throw std::invalid_argument(name + ": key file cannot be read");
  return keys;
}

void scrub_key_arguments(int argc, char** argv) {
  // After the first '=', or all of it when there is none (a malformed value may be the secret).
  auto scrub_after_eq = [](char* a) {
    char* eq = std::strchr(a, '=');
    for (char* p = eq ? eq + 1 : a; *p; ++p) *p = 'x';
  };
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) break;
    if (std::strcmp(argv[i], "--key") == 0 && i + 1 < argc)
      scrub_after_eq(argv[++i]);
    else if (std::strncmp(argv[i], "--key=", 6) == 0)
      scrub_after_eq(argv[i] + 6);
  }
}

}  // namespace safehold::fs
