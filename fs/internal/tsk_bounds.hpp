// Safehold's replacements for five libtsk functions (fs/internal/tsk_bounds.cpp).
#pragma once

#include <tsk/libtsk.h>

#include <optional>
#include <string>
#include <vector>

// libtsk's internal run-list functions (declared in its private tsk_fs_i.h, exported by libtsk19):
// the first two are Safehold's own (fs/internal/tsk_bounds.cpp), the next two libtsk's. tsk_malloc
// and tsk_realloc (tsk_base_i.h) are Safehold's too.
extern "C" {
TSK_FS_ATTR_RUN* tsk_fs_attr_run_alloc();
void tsk_fs_attr_append_run(TSK_FS_INFO* fs, TSK_FS_ATTR* attr, TSK_FS_ATTR_RUN* run);
TSK_FS_ATTR* tsk_fs_attr_alloc(TSK_FS_ATTR_FLAG_ENUM type);
void tsk_fs_attr_free(TSK_FS_ATTR* attr);
void* tsk_malloc(size_t len);
void* tsk_realloc(void* ptr, size_t len);
}

namespace safehold::fs::detail {

// Forgets a pending refusal of a run allocation (a hostile block map seen in the previous libtsk
// call): call before and after each libtsk call that may map a file.
void tsk_runs_reset();

// What Safehold refused libtsk since the last tsk_runs_reset on this thread (a block map or an
// allocation from a hostile size), to report instead of the error libtsk ends with.
std::optional<std::string> tsk_refusal();

// Why each directory libtsk could not read (or was refused) on this thread since the last call:
// libtsk skips a subdirectory it cannot read without a word, so the walk reports these.
std::vector<std::string> take_directory_failures();

// Clears the pending refusal on construction and destruction.
struct TskRunsScope {
  TskRunsScope() { tsk_runs_reset(); }
  ~TskRunsScope() { tsk_runs_reset(); }
  TskRunsScope(const TskRunsScope&) = delete;
  TskRunsScope& operator=(const TskRunsScope&) = delete;
};

}  // namespace safehold::fs::detail
