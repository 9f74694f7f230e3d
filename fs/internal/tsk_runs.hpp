// Safehold's replacements for two libtsk functions (fs/internal/tsk_runs.cpp).
#pragma once

#include <tsk/libtsk.h>

// libtsk's internal run-list functions (declared in its private tsk_fs_i.h, exported by libtsk19):
// the first two are Safehold's own (fs/internal/tsk_runs.cpp), the others libtsk's.
extern "C" {
TSK_FS_ATTR_RUN* tsk_fs_attr_run_alloc();
void tsk_fs_attr_append_run(TSK_FS_INFO* fs, TSK_FS_ATTR* attr, TSK_FS_ATTR_RUN* run);
TSK_FS_ATTR* tsk_fs_attr_alloc(TSK_FS_ATTR_FLAG_ENUM type);
void tsk_fs_attr_free(TSK_FS_ATTR* attr);
}

namespace safehold::fs::detail {

// Forgets a pending refusal of a run allocation (a hostile block map seen in the previous libtsk
// call): call before and after each libtsk call that may map a file.
void tsk_runs_reset();

// Clears the pending refusal on construction and destruction.
struct TskRunsScope {
  TskRunsScope() { tsk_runs_reset(); }
  ~TskRunsScope() { tsk_runs_reset(); }
  TskRunsScope(const TskRunsScope&) = delete;
  TskRunsScope& operator=(const TskRunsScope&) = delete;
};

}  // namespace safehold::fs::detail
