#include "tools/key_options.hpp"

#include <iostream>
#include <stdexcept>

#include "base/json.hpp"
#include "tools/command.hpp"

namespace safehold::tools {

std::vector<fs::VolumeKey> KeyArgs::gather() const {
  std::vector<fs::VolumeKey> out;
  try {
    for (const std::string& k : keys) {
      // Named by its volume only; a value without '=' may be nothing but the secret.
      const size_t eq = k.find('=');
      const std::string origin = eq == std::string::npos
                                     ? "--key"
                                     : "--key " + k.substr(0, std::min(eq, size_t{64})) + "=…";
      out.push_back(fs::parse_volume_key(k, origin));
    }
    if (!keys_file.empty())
      for (auto& k : fs::read_key_file(keys_file)) out.push_back(k);
  } catch (const std::invalid_argument& e) {
    fail(Exit::usage, e.what());
  }
  return out;
}

void add_key_options(CLI::App* cmd, KeyArgs& a) {
  cmd->add_option("--key", a.keys,
                  "Key of an encrypted volume (LUKS1/2, BitLocker) as VOLUME=SECRET: VOLUME is "
                  "its number as `info` lists it, @BYTE-OFFSET or its UUID/GUID; SECRET is the "
                  "passphrase or password, recovery:DIGITS (a BitLocker recovery password), or "
                  "keyfile:PATH (a LUKS key file, a BitLocker .BEK) (repeatable; hidden from the "
                  "process title, never logged)")
      ->allow_extra_args(false);  // one value per --key: the image that follows is not a key
  cmd->add_option("--keys", a.keys_file,
                  "File of VOLUME=SECRET lines ('#' comments), owned by you with mode 0600 or "
                  "stricter");
}

size_t locked_volumes(const fs::Evidence& ev, const std::string& path) {
  size_t n = 0;
  for (const fs::Volume& v : ev.volumes()) {
    if (!v.unreadable.empty()) {  // recognised (LVM) but not readable
      std::cerr << "safehold: " << base::printable(path) << ": volume " << v.index << " ("
                << base::printable(v.description) << ") " << base::printable(v.unreadable)
                << ": its files were not examined\n";
      ++n;
      continue;
    }
    if (!v.encryption || v.encryption->unlocked) continue;
    const auto& e = *v.encryption;
    std::cerr << "safehold: " << base::printable(path) << ": volume " << v.index
              << " is an encrypted " << e.scheme << " volume";
    if (e.cipher == "not read")  // recognised, not decrypted yet (fs/internal/crypt_volume.hpp)
      std::cerr << ", which Safehold cannot decrypt yet: its files were not examined\n";
    else
      std::cerr << " (" << e.cipher
                << ") and no key was given: its files were not examined (unlock it with a "
                << e.unlock << ": --key " << v.index << "=…)\n";
    ++n;
  }
  return n;
}

}  // namespace safehold::tools
