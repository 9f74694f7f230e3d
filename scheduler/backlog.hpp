// The backlog as a history (docs/scheduler.md "Backlog history and forecast"): each device's states
// over time as the audit chain recorded them, the aggregates the dashboard's charts draw (devices
// waiting by tier and band, weekly intake against examinations, waiting times, deadline breaches by
// band), and the forecast of when today's backlog clears at the stations' measured rate, run on
// the discrete-event simulator that bench/backlog_sim.cpp also uses. Pure functions of the history
// and an explicit `now`: no clock, no database.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scheduler/queue.hpp"

namespace safehold::scheduler {

// DeviceStep and DeviceHistory (Store::device_history()) are declared in queue.hpp.

// A device counts as waiting from its intake until it is first examined (review or done) or
// withdrawn; a withdrawn device that is queued again waits again.
bool waiting_state(DeviceState s);
// When the device was first examined (entered review or done), 0 when never.
int64_t examined_at(const DeviceHistory& h);

// ---- the discrete-event core of the backlog simulator (bench/backlog_sim.cpp, the forecast) ----
// A job: it becomes available at `arrive`, is taken in (tier, key, index) order by the first free
// station, and holds it for `service` seconds.
struct SimJob {
  int64_t arrive = 0;
  int tier = 0;
  int64_t key = 0;
  int64_t service = 0;
};
struct SimRun {
  std::vector<int64_t> start, end;  // per job; -1 when it did not start before the horizon
};
// Jobs must be sorted by arrival. `stations` start free at t0; nothing starts at or after horizon.
SimRun simulate_backlog(const std::vector<SimJob>& jobs, int stations, int64_t t0, int64_t horizon);

// ---- aggregates for the dashboard (GET /api/history) ----
struct HistoryQuery {
  int64_t now = 0;
  int days = 90;   // the waiting series and the windows of waiting times and breaches
  int weeks = 12;  // intake against examinations, breaches by week (Monday 00:00 UTC)
};
nlohmann::json backlog_history(const std::vector<DeviceHistory>& history, const HistoryQuery& q);

// ---- forecast (GET /api/forecast) ----
struct ForecastQuery {
  int64_t now = 0;
  int window_days = 28;        // the measured rate: devices examined in this many days
  int min_history_days = 7;    // less history than this: no forecast
  int horizon_days = 5 * 365;  // not cleared by then: said so, no date
  Policy policy;               // for the keys of replayed arrivals
};
nlohmann::json backlog_forecast(const std::vector<DeviceHistory>& history, const ForecastQuery& q);

}  // namespace safehold::scheduler
