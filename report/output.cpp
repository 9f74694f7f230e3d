#include "report/output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace safehold::report {

void write_file(const std::filesystem::path& path, std::string_view content, bool force) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !force)
    throw OutputExists(path.string() + ": exists (use --force to replace it)");
  const std::filesystem::path tmp = path.string() + ".part";
  auto failed = [&](int err) {
    ::unlink(tmp.c_str());
    return ReportError(path.string() + ": cannot be written: " + std::strerror(err));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw ReportError(path.string() + ": cannot be written: " + std::strerror(errno));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      ::close(fd);
      throw failed(err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    throw failed(err);
  }
  if (::close(fd) != 0) throw failed(errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw failed(errno);
}

}  // namespace safehold::report
