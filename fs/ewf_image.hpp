// A TSK image backend for EWF that decodes chunks with libdeflate (several times faster than the
// zlib libewf inflates with) and skips inflating zero chunks; whatever it cannot decode itself
// (damaged or missing chunks) it reads through libewf exactly as TSK's own EWF backend does.
#pragma once

#include <tsk/libtsk.h>

#include <memory>
#include <string>

namespace safehold::fs::ewf {

class SharedChunks;

// Opens the EWF set whose first segment is `first`; nullptr when libewf cannot open it (the
// caller then lets TSK try, to get TSK's own error). Close with tsk_img_close(). `shared`, when
// given, receives the backend's store of decoded chunks other readers may fill (SharedChunks).
TSK_IMG_INFO* open_tsk_image(const std::string& first,
                             std::shared_ptr<SharedChunks>* shared = nullptr);

}  // namespace safehold::fs::ewf
