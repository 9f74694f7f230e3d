// The EXIF reader lives in base/ (shared with the server's VICS export); this name stays for
// export's users (worker, timelines, the fuzz target).
#pragma once

#include "base/exif.hpp"

namespace safehold::exports {
using base::read_exif;
}  // namespace safehold::exports
