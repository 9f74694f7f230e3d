// Shared by the Store API tests (store_test.cpp, store_pg_test.cpp): devices, suspects, the
// error kind a call throws (BACKEND() is helpers.hpp's).
#pragma once

#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include "scheduler/queue.hpp"
#include "tests/scheduler/helpers.hpp"

namespace safehold::test::store {

using namespace safehold::scheduler;

inline std::vector<std::string> exhibits(const std::vector<QueueEntry>& v) {
  std::vector<std::string> out;
  for (auto& e : v) out.push_back(e.device.exhibit);
  return out;
}

inline NewDevice dev(const std::string& ex, const std::string& suspect, DeviceClass c) {
  NewDevice d;
  d.exhibit = ex;
  d.suspect_ref = suspect;
  d.device_class = c;
  d.source = "/dev/null";  // claimable (a device without a source is needs-source)
  return d;
}

inline NewSuspect sus(const std::string& ref, const std::string& case_ref,
                      Answer lives = Answer::unknown, Answer access = Answer::unknown) {
  NewSuspect s;
  s.reference = ref;
  s.case_ref = case_ref;
  s.lives_with_children = lives;
  s.access_to_children = access;
  return s;
}

inline QueueError::Kind error_kind(const std::function<void()>& f) {
  try {
    f();
  } catch (const QueueError& e) {
    return e.kind;
  }
  FAIL("no QueueError thrown");
  return QueueError::Kind::storage;
}

}  // namespace safehold::test::store
