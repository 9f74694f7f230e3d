/* Test-only LD_PRELOAD shim: interposes pread/pread64 on the file named by SAFEHOLD_SHIM_PATH.
 * SAFEHOLD_SHIM_BAD="100,2000-2003" makes any read touching those 512-byte sectors fail with EIO;
 * SAFEHOLD_SHIM_DELAY_US slows every read of that file down (to hold an acquisition open);
 * SAFEHOLD_SHIM_EINVAL_DIRECT=1 fails every read through an O_DIRECT descriptor with EINVAL (a
 * device that refuses O_DIRECT). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static long long bad_first[64], bad_last[64];
static int nbad = -1;
static const char* target;
static long delay_us;

static void init(void) {
  if (nbad >= 0) return;
  nbad = 0;
  target = getenv("SAFEHOLD_SHIM_PATH");
  const char* d = getenv("SAFEHOLD_SHIM_DELAY_US");
  delay_us = d ? atol(d) : 0;
  const char* b = getenv("SAFEHOLD_SHIM_BAD");
  while (b && *b && nbad < 64) {
    char* end;
    long long f = strtoll(b, &end, 10), l = f;
    if (*end == '-') l = strtoll(end + 1, &end, 10);
    bad_first[nbad] = f;
    bad_last[nbad] = l;
    ++nbad;
    b = (*end == ',') ? end + 1 : end;
    if (end == b && *b) break;
  }
}

static int is_target(int fd) {
  if (!target) return 0;
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return 0;
  path[n] = 0;
  return strcmp(path, target) == 0;
}

static int touches_bad(off_t off, size_t len) {
  if (len == 0) return 0;
  long long first = off / 512, last = (off + (off_t)len - 1) / 512;
  for (int i = 0; i < nbad; ++i)
    if (first <= bad_last[i] && last >= bad_first[i]) return 1;
  return 0;
}

typedef ssize_t (*pread_fn)(int, void*, size_t, off_t);

static ssize_t shim(const char* name, int fd, void* buf, size_t len, off_t off) {
  static pread_fn real_pread, real_pread64;
  pread_fn* slot = strcmp(name, "pread") == 0 ? &real_pread : &real_pread64;
  if (!*slot) *slot = (pread_fn)dlsym(RTLD_NEXT, name);
  init();
  if (is_target(fd)) {
    if (delay_us) usleep((useconds_t)delay_us);
    const char* einval = getenv("SAFEHOLD_SHIM_EINVAL_DIRECT");
    if (einval && *einval == '1' && (fcntl(fd, F_GETFL) & O_DIRECT)) {
      errno = EINVAL;
      return -1;
    }
    if (touches_bad(off, len)) {
      errno = EIO;
      return -1;
    }
  }
  return (*slot)(fd, buf, len, off);
}

ssize_t pread(int fd, void* buf, size_t len, off_t off) {
  return shim("pread", fd, buf, len, off);
}
ssize_t pread64(int fd, void* buf, size_t len, off_t off) {
  return shim("pread64", fd, buf, len, off);
}
