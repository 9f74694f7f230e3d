// API tokens: created with a random secret, stored as its SHA-256, verified and revoked.
#include <fmt/core.h>
#include <openssl/rand.h>

#include <algorithm>

#include "base/hash.hpp"
#include "scheduler/sql_store.hpp"

namespace safehold::scheduler::detail {

// ---- tokens ----
NewToken SqlStore::create_token(const std::string& user, Role role, const std::string& name) {
  unsigned char buf[32];
  if (RAND_bytes(buf, sizeof buf) != 1)
    throw QueueError(Kind::storage, "cannot generate a random token");
  std::string secret = "safehold_" + base::to_hex(buf, sizeof buf);
  std::string label = name.empty() ? to_string(role) : name;
  check_id("token name", label);
  return write([&] {
    int64_t t = now();
    auto rows = db_->query(
        "INSERT INTO tokens (name, role, hash, created_at, created_by) VALUES ($1, $2, $3, $4, "
        "$5) RETURNING id",
        {label, to_string(role), base::sha256_hex(secret), t, user});
    NewToken nt;
    nt.secret = secret;
    nt.token.id = rows.at(0).integer(0);
    nt.token.name = label;
    nt.token.role = role;
    nt.token.created_at = t;
    nt.token.created_by = user;
    audit_add(user, "token.create", "token", std::to_string(nt.token.id), "", json(),
              {{"name", label}, {"role", to_string(role)}});
    return nt;
  });
}

Token SqlStore::revoke_token(const std::string& user, const std::string& id_or_name) {
  return write([&] {
    std::vector<Row> rows;
    bool numeric = !id_or_name.empty() && std::all_of(id_or_name.begin(), id_or_name.end(),
                                                      [](char c) { return c >= '0' && c <= '9'; });
    if (numeric)
      rows = db_->query(std::string("SELECT ") + kTokenCols + " FROM tokens WHERE id = $1",
                        {static_cast<int64_t>(std::stoll(id_or_name))});
    if (rows.empty())
      rows = db_->query(
          std::string("SELECT ") + kTokenCols + " FROM tokens WHERE name = $1 AND revoked_at = 0",
          {id_or_name});
    if (rows.empty()) throw QueueError(Kind::not_found, fmt::format("no token {}", id_or_name));
    if (rows.size() > 1)
      throw QueueError(Kind::invalid,
                       fmt::format("several tokens are named {}: revoke by id", id_or_name));
    Token tk = token_from(rows[0]);
    if (tk.revoked_at)
      throw QueueError(Kind::conflict, fmt::format("token {} is already revoked", tk.id));
    tk.revoked_at = now();
    db_->query("UPDATE tokens SET revoked_at = $2 WHERE id = $1", {tk.id, tk.revoked_at});
    audit_add(user, "token.revoke", "token", std::to_string(tk.id), "",
              {{"name", tk.name}, {"role", to_string(tk.role)}, {"revoked", false}},
              {{"name", tk.name}, {"role", to_string(tk.role)}, {"revoked", true}});
    return tk;
  });
}

std::vector<Token> SqlStore::list_tokens() {
  std::vector<Token> out;
  for (auto& r : db_->query(std::string("SELECT ") + kTokenCols + " FROM tokens ORDER BY id"))
    out.push_back(token_from(r));
  return out;
}

std::optional<Token> SqlStore::verify_token(const std::string& secret) {
  if (secret.empty()) return std::nullopt;
  auto rows = db_->query(
      std::string("SELECT ") + kTokenCols + " FROM tokens WHERE hash = $1 AND revoked_at = 0",
      {base::sha256_hex(secret)});
  if (rows.empty()) return std::nullopt;
  return token_from(rows[0]);
}

}  // namespace safehold::scheduler::detail
