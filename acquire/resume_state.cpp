#include "acquire/resume_state.hpp"

#include <fstream>

#include "acquire/record.hpp"

namespace safehold::acquire {

using nlohmann::json;

json read_resume_state(const std::filesystem::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

Checkpoint restore_checkpoint(const json& state, uint64_t image_end, uint32_t ss,
                              std::vector<ResumableDigest>& digests) {
  Checkpoint c;
  Snapshot best;
  const json snaps = state.value("snapshots", json::array());
  for (auto& sj : snaps) {
    Snapshot sn;
    sn.offset = sj.value("offset", uint64_t{0});
    const json states = sj.value("states", json::object());
    for (auto& [k, v] : states.items()) sn.states[k] = v.get<std::string>();
    if (sn.offset <= image_end && sn.offset >= best.offset) best = sn;
    if (sn.offset <= image_end) c.snapshots.push_back(sn);
  }
  c.start = best.offset;
  for (auto& d : digests) {
    auto it = best.states.find(hash_name(d.algo()));
    if (c.start != 0 && (it == best.states.end() || !d.restore(it->second)))
      throw AcquireError(AcquireError::Kind::failed,
                         "the resume state has no usable hash checkpoint");
  }
  const json bads = state.value("bad", json::array());
  for (auto& bj : bads) {
    BadRange br{bj.value("sector", uint64_t{0}), bj.value("count", uint64_t{0})};
    if ((br.sector + br.count) * ss <= c.start)
      c.bad.push_back(br);
    else if (br.sector * ss < c.start)
      c.bad.push_back({br.sector, c.start / ss - br.sector});
  }
  return c;
}

std::string state_text(json& state, const std::vector<Snapshot>& snaps,
                       const std::vector<BadRange>& bad) {
  json sj = json::array();
  for (auto& sn : snaps) sj.push_back({{"offset", sn.offset}, {"states", sn.states}});
  state["snapshots"] = sj;
  state["bad"] = bad_json(bad);
  return state.dump() + "\n";
}

}  // namespace safehold::acquire
