// --key VOLUME=SECRET and --keys FILE, for the commands that open filesystems (info, ls, carve).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "fs/evidence.hpp"
#include "fs/keys.hpp"

namespace safehold::tools {

struct KeyArgs {
  std::vector<std::string> keys;  // each "VOLUME=SECRET"
  std::string keys_file;
  // The keys, from the options then the file; a usage error (one sentence, no secret) when one
  // is malformed or the file is refused.
  std::vector<fs::VolumeKey> gather() const;
};

void add_key_options(CLI::App* cmd, KeyArgs& a);

// Prints on stderr one sentence for each encrypted volume left locked and each volume Safehold
// recognised but could not read (LVM: damaged metadata, a missing physical volume); returns how
// many.
size_t locked_volumes(const fs::Evidence& ev, const std::string& path);

}  // namespace safehold::tools
