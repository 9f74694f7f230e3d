// `safehold export --vics`: the VICS document (base/vics.hpp) written atomically.
#include <fmt/chrono.h>
#include <fmt/core.h>

#include <chrono>
#include <fstream>

#include "base/json.hpp"
#include "export/export.hpp"

namespace safehold::exports {

namespace {

void check_output(const std::vector<std::filesystem::path>& carve_dirs,
                  const std::filesystem::path& out, bool force) {
  std::error_code ec;
  if (std::filesystem::exists(out, ec) && !force)
    throw ExportError(fmt::format("{}: exists (use --force to replace it)", out.string()));
  auto o = std::filesystem::weakly_canonical(out).string();
  for (auto& d : carve_dirs) {
    auto dir = std::filesystem::weakly_canonical(d).string() + "/";
    if (o.compare(0, dir.size(), dir) == 0)
      throw ExportError(fmt::format("{}: inside the input directory {}; write it elsewhere",
                                    out.string(), d.string()));
  }
}

}  // namespace

VicsStats write_vics(const std::vector<std::filesystem::path>& carve_dirs,
                     const std::filesystem::path& out, const VicsOptions& opts) {
  auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  std::string date = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", now);
  VicsStats st;
  auto doc = build_vics(carve_dirs, date, &st, opts);  // input errors first
  check_output(carve_dirs, out, opts.force);
  auto tmp = out;
  tmp += ".partial";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw ExportError(fmt::format("{}: cannot create", out.string()));
    f << base::dump(doc, 2) << "\n";
    if (!f.flush()) throw ExportError(fmt::format("{}: write failed", out.string()));
  }
  std::filesystem::rename(tmp, out);
  return st;
}

}  // namespace safehold::exports
