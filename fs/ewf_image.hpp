// A TSK image backend for EWF that reads chunks through Safehold's own chunk map (every size and
// offset from the evidence checked; fs/internal/ewf_map.hpp), decodes them with libdeflate and
// skips inflating zero chunks. A chunk that cannot be read or decoded fails the read with an error
// naming the image and the chunk: nothing is zero-filled in its place.
#pragma once

#include <tsk/libtsk.h>

#include <memory>
#include <string>

namespace safehold::fs::ewf {

class SharedChunks;
class ChunkMap;

// A TSK image over the set `map` describes; nullptr when TSK cannot make one. Close with
// tsk_img_close(). `shared`, when given, receives the backend's store of decoded chunks other
// readers may fill (SharedChunks).
// `sector_size` 0: the set's own bytes per sector.
TSK_IMG_INFO* open_tsk_image(std::shared_ptr<const ChunkMap> map,
                             std::shared_ptr<SharedChunks>* shared = nullptr,
                             uint32_t sector_size = 0);

}  // namespace safehold::fs::ewf
