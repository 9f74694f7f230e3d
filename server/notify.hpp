// Notifications that leave the building: alerts and links from the queue's outbox
// (Store::due_notifications) pushed to webhooks (JSON POST with an HMAC-SHA256 signature header)
// and to email through the host's sendmail, retried with back-off, every attempt recorded in the
// audit. Payloads carry references, counts and a link to the dashboard, never personal details,
// file names or images. docs/scheduler.md "Notifications".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scheduler/queue.hpp"

namespace safehold::server {

struct NotifyOptions {
  std::vector<std::string> webhooks;  // http:// or https:// URLs
  std::string secret;                 // HMAC-SHA256 key of the X-Safehold-Signature header
  std::vector<std::string> email_to;  // addresses for sendmail
  std::string sendmail = "/usr/sbin/sendmail";
  std::string dashboard;  // base URL of the dashboard, added to every payload ("" none)
  int timeout_seconds = 10;
  int64_t max_backoff_seconds = 3600;  // retry after 30 s, 60 s, 120 s… at most this
};

struct NotifyReport {
  int64_t delivered = 0, failed = 0;
};

// "sha256=" + lowercase hex HMAC-SHA256 of body under secret (the header's value).
std::string signature(const std::string& secret, const std::string& body);

// The JSON body sent for a notification: its payload plus "notification" (id) and "dashboard".
std::string notification_body(const scheduler::Notification& n, const std::string& dashboard);

// Throws std::runtime_error (one sentence) for a webhook URL that is not http(s)://HOST[:PORT]/…,
// an email address that is not one address on one line, or webhooks without a secret.
void check(const NotifyOptions& o);

// Delivers every due notification to every target once; failures are retried at a later call.
NotifyReport deliver_due(scheduler::Store& store, const NotifyOptions& o, const std::string& user);

}  // namespace safehold::server
