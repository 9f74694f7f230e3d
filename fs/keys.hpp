// Keys for encrypted volumes: `--key VOLUME=SECRET` options and key files (`--keys FILE`).
// A secret never appears in a message, a log, a report or the audit: messages name the volume
// and where the key came from ("--key 1", "keys.txt line 3"), never the secret.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace safehold::fs {

enum class SecretKind {
  password,           // LUKS passphrase, BitLocker user password, FileVault password
  recovery_password,  // BitLocker recovery password (8 groups of 6 digits)
  key_file,           // a file holding the key (BitLocker startup key .BEK, a LUKS key file)
};
const char* to_string(SecretKind k);

struct VolumeKey {
  // Which volume: its index as `info` lists it ("1"), its byte offset in the image ("@1048576"),
  // or its identifier (a LUKS UUID or BitLocker GUID, any case, braces optional).
  std::string volume;
  SecretKind kind = SecretKind::password;
  std::string secret;  // the password, recovery password, or the key file's path
  std::string origin;  // "--key 1", "keys.txt line 3": for messages (never the secret)

  VolumeKey() = default;
  VolumeKey(const VolumeKey&) = default;
  VolumeKey& operator=(const VolumeKey&) = default;
  ~VolumeKey();  // overwrites the secret

  // Whether this key names the volume of that index, byte offset and identifier.
  bool names(int index, uint64_t offset, const std::string& identifier) const;
};

// Parses "VOLUME=SECRET". SECRET is `password:TEXT`, `recovery:DIGITS`, `keyfile:PATH`, or bare
// text: a recovery password when it is 8 dash-separated groups of 6 digits, else a password.
// Throws std::invalid_argument with one sentence naming `origin` (never the secret).
VolumeKey parse_volume_key(std::string_view text, const std::string& origin);

// Reads a key file: one "VOLUME=SECRET" a line; blank lines and lines starting with '#' are
// ignored; a trailing '\r' is dropped. The file must be a regular file owned by the user running
// Safehold with no permission for group or others (mode 0600 or stricter); otherwise, or when
// it cannot be read, throws std::invalid_argument with one sentence naming the file.
std::vector<VolumeKey> read_key_file(const std::filesystem::path& path);

// Overwrites the SECRET part of every `--key VOLUME=SECRET` and `--key=VOLUME=SECRET` argument in
// place (with 'x'; all of a value without '='), so that the process title and /proc/PID/cmdline no
// longer hold it. Call after the arguments have been copied for parsing.
void scrub_key_arguments(int argc, char** argv);

}  // namespace safehold::fs
