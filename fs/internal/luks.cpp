#include "fs/internal/luks.hpp"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "fs/error.hpp"

namespace safehold::fs::luks {
namespace {

constexpr uint8_t kMagic[6] = {'L', 'U', 'K', 'S', 0xba, 0xbe};
constexpr uint64_t kMaxJson = 4u << 20;     // LUKS2's largest header area
constexpr uint32_t kMaxStripes = 1u << 16;  // cryptsetup writes 4000
constexpr uint32_t kMaxKey = 128;           // bytes
constexpr uint64_t kMaxArgonTime = 1000;    // cryptsetup's benchmark picks 4-20 or so
constexpr uint64_t kMaxArgonMemoryKiB = uint64_t{4} << 20;  // 4 GiB, cryptsetup's maximum

uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
uint64_t be64(const uint8_t* p) {
  return uint64_t(be32(p)) << 32 | be32(p + 4);
}

// A fixed-size NUL-padded text field.
std::string field(const uint8_t* p, size_t n) {
  std::string s(reinterpret_cast<const char*>(p), strnlen(reinterpret_cast<const char*>(p), n));
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  return s;
}

[[noreturn]] void bad(const std::string& name, const std::string& what) {
  throw EvidenceError(name + ": its LUKS header is damaged or impossible: " + what);
}

bool inside(uint64_t off, uint64_t len, uint64_t size) {
  return off <= size && len <= size - off;
}

std::vector<uint8_t> base64(const std::string& s, const std::string& name) {
  static const std::string abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    if (c == '=') break;
    const size_t v = abc.find(c);
    if (v == std::string::npos) bad(name, "a base64 value holds '" + std::string(1, c) + "'");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  return out;
}

// ---- LUKS1 ----

Header parse1(const uint8_t* b, const ReadFn& read, uint64_t size, const std::string& name) {
  (void)read;
  Header h;
  h.version = 1;
  h.encryption = field(b + 8, 32) + "-" + field(b + 40, 32);
  const std::string hash = field(b + 72, 32);
  h.payload_offset = uint64_t{be32(b + 104)} * 512;
  h.key_size = be32(b + 108);
  if (h.key_size == 0 || h.key_size > kMaxKey)
    bad(name, "key size " + std::to_string(h.key_size) + " bytes");
  if (h.payload_offset < 592 || h.payload_offset > size)
    bad(name, "payload offset " + std::to_string(h.payload_offset) + " outside the volume");
  h.payload_size = size - h.payload_offset;
  h.uuid = field(b + 168, 40);
  Digest d;
  d.hash = hash;
  d.digest.assign(b + 112, b + 132);
  d.salt.assign(b + 132, b + 164);
  d.iterations = be32(b + 164);
  for (int i = 0; i < 8; ++i) {
    const uint8_t* s = b + 208 + 48 * i;
    if (be32(s) != 0x00AC71F3) continue;  // disabled (0x0000DEAD) or damaged
    KeySlot k;
    k.id = i;
    k.kdf = "pbkdf2";
    k.hash = k.af_hash = hash;
    k.iterations = be32(s + 4);
    k.salt.assign(s + 8, s + 40);
    k.area_offset = uint64_t{be32(s + 40)} * 512;
    k.stripes = be32(s + 44);
    k.key_size = h.key_size;
    k.encryption = h.encryption;
    if (k.stripes == 0 || k.stripes > kMaxStripes)
      bad(name, "key slot " + std::to_string(i) + " has " + std::to_string(k.stripes) + " stripes");
    k.area_size = (uint64_t{k.key_size} * k.stripes + 511) / 512 * 512;
    if (!inside(k.area_offset, k.area_size, size))
      bad(name, "key slot " + std::to_string(i) + "'s key material lies outside the volume");
    d.keyslots.push_back(i);
    h.slots.push_back(std::move(k));
  }
  h.digests.push_back(std::move(d));
  return h;
}

// ---- LUKS2 ----

uint64_t number(const nlohmann::json& j, const char* key, const std::string& name) {
  if (!j.is_object() || !j.contains(key)) bad(name, std::string("no '") + key + "' value");
  const auto& v = j[key];
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s.empty() || s.size() > 19 || !std::all_of(s.begin(), s.end(), ::isdigit))
      bad(name, std::string("'") + key + "' is not a number");
    return std::stoull(s);
  }
  bad(name, std::string("'") + key + "' is not a number");
}

std::string text(const nlohmann::json& j, const char* key, const std::string& name) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string())
    bad(name, std::string("no '") + key + "' text");
  std::string s = j[key].get<std::string>();
  if (s.size() > 64) bad(name, std::string("'") + key + "' is too long");
  return s;
}

int id_of(const std::string& key, const std::string& name) {
  if (key.empty() || key.size() > 3 || !std::all_of(key.begin(), key.end(), ::isdigit))
    bad(name, "an object is named '" + key.substr(0, 16) + "', not a number");
  return std::stoi(key);
}

KeySlot slot2(const std::string& key, const nlohmann::json& s, uint64_t size,
              const std::string& name) {
  KeySlot k;
  k.id = id_of(key, name);
  const auto& kdf = s.at("kdf");
  k.kdf = text(kdf, "type", name);
  if (k.kdf == "pbkdf2") {
    k.hash = text(kdf, "hash", name);
    k.iterations =
        static_cast<uint32_t>(std::min<uint64_t>(number(kdf, "iterations", name), UINT32_MAX));
  } else if (k.kdf == "argon2i" || k.kdf == "argon2id") {
    // cryptsetup's own limits (4 GiB, 4 threads by default, at most 16 here); the time cost is
    // capped so that a hostile header cannot keep a station busy for hours.
    const uint64_t t = number(kdf, "time", name), m = number(kdf, "memory", name),
                   c = number(kdf, "cpus", name);
    if (t == 0 || t > kMaxArgonTime || m < 8 || m > kMaxArgonMemoryKiB || c == 0 || c > 16 ||
        m < 8 * c)
      bad(name, "key slot " + key + "'s Argon2 costs (time " + std::to_string(t) + ", memory " +
                    std::to_string(m) + " KiB, " + std::to_string(c) + " threads) are outside " +
                    "what cryptsetup writes");
    k.iterations = static_cast<uint32_t>(t);
    k.memory_kib = static_cast<uint32_t>(m);
    k.cpus = static_cast<uint32_t>(c);
  }
  k.salt = base64(text(kdf, "salt", name), name);
  const auto& af = s.at("af");
  k.stripes = static_cast<uint32_t>(std::min<uint64_t>(number(af, "stripes", name), UINT32_MAX));
  k.af_hash = text(af, "hash", name);
  const auto& area = s.at("area");
  k.area_offset = number(area, "offset", name);
  k.area_size = number(area, "size", name);
  k.encryption = text(area, "encryption", name);
  k.key_size = static_cast<uint32_t>(std::min<uint64_t>(number(s, "key_size", name), UINT32_MAX));
  if (k.key_size == 0 || k.key_size > kMaxKey || k.stripes == 0 || k.stripes > kMaxStripes)
    bad(name, "key slot " + key + " has impossible key size or stripes");
  if (!inside(k.area_offset, k.area_size, size) || uint64_t{k.key_size} * k.stripes > k.area_size)
    bad(name, "key slot " + key + "'s key material lies outside the volume");
  return k;
}

void segment2(Header& h, const nlohmann::json& segs, uint64_t size, const std::string& name) {
  if (!segs.is_object() || segs.size() != 1)
    throw EvidenceError(name + ": is a LUKS2 volume with " +
                        std::to_string(segs.is_object() ? segs.size() : 0) +
                        " data segments (a reencryption in progress?), which Safehold cannot read");
  const auto& s = segs.begin().value();
  if (text(s, "type", name) != "crypt")
    throw EvidenceError(name + ": is a LUKS2 volume whose data segment is not encrypted ('" +
                        text(s, "type", name) + "'), which Safehold cannot read");
  h.payload_offset = number(s, "offset", name);
  if (h.payload_offset > size) bad(name, "the data segment starts beyond the volume");
  const bool dynamic = s.contains("size") && s["size"].is_string() && s["size"] == "dynamic";
  h.payload_size = dynamic ? size - h.payload_offset : number(s, "size", name);
  if (!inside(h.payload_offset, h.payload_size, size))
    bad(name, "the data segment ends beyond the volume");
  h.iv_tweak = number(s, "iv_tweak", name);
  h.encryption = text(s, "encryption", name);
  const uint64_t ss = number(s, "sector_size", name);
  if (ss != 512 && ss != 1024 && ss != 2048 && ss != 4096)
    bad(name, "sector size " + std::to_string(ss));
  h.sector_size = static_cast<uint32_t>(ss);
  if (s.contains("integrity"))
    throw EvidenceError(name +
                        ": is a LUKS2 volume with authenticated encryption (dm-integrity), "
                        "which Safehold cannot read");
}

Header parse2(const uint8_t* b, const ReadFn& read, uint64_t size, const std::string& name) {
  Header h;
  h.version = 2;
  const uint64_t hdr_size = be64(b + 8);
  if (hdr_size < 16384 || hdr_size > kMaxJson || (hdr_size & (hdr_size - 1)) ||
      !inside(0, hdr_size, size))
    bad(name, "header size " + std::to_string(hdr_size));
  h.uuid = field(b + 168, 40);
  std::string js(static_cast<size_t>(hdr_size - 4096), '\0');
  if (!read(4096, js.data(), js.size())) bad(name, "its JSON area cannot be read");
  js.resize(strnlen(js.data(), js.size()));
  auto j = nlohmann::json::parse(js, nullptr, false);
  if (j.is_discarded() || !j.is_object()) bad(name, "its JSON area is not JSON");
  try {
    segment2(h, j.at("segments"), size, name);
    for (auto& [key, s] : j.at("keyslots").items()) h.slots.push_back(slot2(key, s, size, name));
    for (auto& [key, d] : j.at("digests").items()) {
      Digest g;
      if (text(d, "type", name) != "pbkdf2") continue;
      g.hash = text(d, "hash", name);
      g.iterations =
          static_cast<uint32_t>(std::min<uint64_t>(number(d, "iterations", name), UINT32_MAX));
      g.salt = base64(text(d, "salt", name), name);
      g.digest = base64(text(d, "digest", name), name);
      for (auto& k : d.at("keyslots"))
        if (k.is_string()) g.keyslots.push_back(id_of(k.get<std::string>(), name));
      h.digests.push_back(std::move(g));
    }
  } catch (const nlohmann::json::exception& e) {
    bad(name, std::string("its JSON area lacks a value (") + e.what() + ")");
  }
  if (!h.slots.empty()) h.key_size = h.slots.front().key_size;
  return h;
}

// ---- key derivation ----

const EVP_MD* md(const std::string& hash) {
  if (hash == "sha1") return EVP_sha1();
  if (hash == "sha256") return EVP_sha256();
  if (hash == "sha512") return EVP_sha512();
  if (hash == "sha384") return EVP_sha384();
  if (hash == "ripemd160") return EVP_get_digestbyname("ripemd160");
  return nullptr;
}

// The anti-forensic merge: the stripes folded with the hash's diffusion (LUKS1 specification 2.4).
bool af_merge(const std::vector<uint8_t>& split, size_t key_size, uint32_t stripes, const EVP_MD* h,
              std::vector<uint8_t>& out) {
  out.assign(key_size, 0);
  const size_t ds = static_cast<size_t>(EVP_MD_get_size(h));
  std::vector<uint8_t> next(key_size);
  for (uint32_t s = 0; s + 1 < stripes; ++s) {
    for (size_t i = 0; i < key_size; ++i) out[i] ^= split[s * key_size + i];
    for (size_t blk = 0; blk * ds < key_size; ++blk) {
      const uint8_t iv[4] = {uint8_t(blk >> 24), uint8_t(blk >> 16), uint8_t(blk >> 8),
                             uint8_t(blk)};
      const size_t n = std::min(ds, key_size - blk * ds);
      uint8_t dg[EVP_MAX_MD_SIZE];
      unsigned len = 0;
      std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> c(EVP_MD_CTX_new(), EVP_MD_CTX_free);
      if (!c || EVP_DigestInit_ex(c.get(), h, nullptr) != 1 ||
          EVP_DigestUpdate(c.get(), iv, 4) != 1 ||
          EVP_DigestUpdate(c.get(), out.data() + blk * ds, n) != 1 ||
          EVP_DigestFinal_ex(c.get(), dg, &len) != 1)
        return false;
      std::memcpy(next.data() + blk * ds, dg, n);
    }
    out.swap(next);
  }
  for (size_t i = 0; i < key_size; ++i) out[i] ^= split[size_t{stripes - 1} * key_size + i];
  return true;
}

bool pbkdf2(const std::string& hash, std::span<const uint8_t> pass,
            const std::vector<uint8_t>& salt, uint32_t iterations, size_t n,
            std::vector<uint8_t>& out) {
  const EVP_MD* h = md(hash);
  out.assign(n, 0);
  return h && iterations > 0 &&
         PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(pass.data()),
                           static_cast<int>(pass.size()), salt.data(),
                           static_cast<int>(salt.size()), static_cast<int>(iterations), h,
                           static_cast<int>(n), out.data()) == 1;
}

// The key a slot's KDF derives from the passphrase; false for a KDF or hash Safehold cannot
// compute.
bool derive(const KeySlot& k, std::span<const uint8_t> pass, std::vector<uint8_t>& out) {
  if (k.kdf == "pbkdf2") return pbkdf2(k.hash, pass, k.salt, k.iterations, k.key_size, out);
  if (k.kdf != "argon2i" && k.kdf != "argon2id") return false;
  out.assign(k.key_size, 0);
  auto f = k.kdf == "argon2id" ? argon2id_hash_raw : argon2i_hash_raw;
  return f(k.iterations, k.memory_kib, k.cpus, pass.data(), pass.size(), k.salt.data(),
           k.salt.size(), out.data(), out.size()) == ARGON2_OK;
}

bool digest_matches(const Digest& d, const std::vector<uint8_t>& key) {
  std::vector<uint8_t> got;
  if (d.digest.empty() || d.digest.size() > 64 ||
      !pbkdf2(d.hash, key, d.salt, d.iterations, d.digest.size(), got))
    return false;
  const bool ok = CRYPTO_memcmp(got.data(), d.digest.data(), got.size()) == 0;
  OPENSSL_cleanse(got.data(), got.size());
  return ok;
}

// The master key one slot yields for the passphrase (checked against its digest), or nullopt.
std::optional<std::vector<uint8_t>> try_slot(const Header& h, const KeySlot& k, const ReadFn& read,
                                             std::string_view pass, const std::string& name) {
  const EVP_MD* afh = md(k.af_hash);
  if (!afh)
    throw EvidenceError(name + ": LUKS key slot " + std::to_string(k.id) + " uses hash '" +
                        k.af_hash + "', which Safehold cannot compute");
  std::vector<uint8_t> derived, split, mk;
  const auto p = std::span(reinterpret_cast<const uint8_t*>(pass.data()), pass.size());
  if (!derive(k, p, derived))
    throw EvidenceError(name + ": LUKS key slot " + std::to_string(k.id) + " uses " +
                        (k.kdf == "pbkdf2" ? "hash '" + k.hash + "'" : "'" + k.kdf + "'") +
                        ", which Safehold cannot compute");
  const size_t len = static_cast<size_t>((uint64_t{k.key_size} * k.stripes + 511) / 512 * 512);
  split.resize(len);
  if (len > k.area_size + 511 || !read(k.area_offset, split.data(), len))
    throw EvidenceError(name + ": LUKS key slot " + std::to_string(k.id) +
                        "'s key material cannot be read");
  {
    Cipher c(k.encryption, derived, name);
    if (!c.decrypt(split.data(), len, 512, 0, 512))
      throw EvidenceError(name + ": LUKS key slot " + std::to_string(k.id) +
                          "'s key material cannot be decrypted");
  }
  OPENSSL_cleanse(derived.data(), derived.size());
  const bool merged = af_merge(split, k.key_size, k.stripes, afh, mk);
  OPENSSL_cleanse(split.data(), split.size());
  if (!merged) return std::nullopt;
  for (const Digest& d : h.digests)
    if (std::find(d.keyslots.begin(), d.keyslots.end(), k.id) != d.keyslots.end() &&
        digest_matches(d, mk))
      return mk;
  OPENSSL_cleanse(mk.data(), mk.size());
  return std::nullopt;
}

}  // namespace

bool is_luks(std::span<const uint8_t> head) {
  if (head.size() < 8 || std::memcmp(head.data(), kMagic, 6) != 0) return false;
  const uint16_t v = be16(head.data() + 6);
  return v == 1 || v == 2;
}

Header parse(const ReadFn& read, uint64_t volume_size, const std::string& name) {
  uint8_t b[4096];
  if (volume_size < sizeof b || !read(0, b, sizeof b))
    throw EvidenceError(name + ": is too small to hold a LUKS header");
  if (!is_luks(b)) throw EvidenceError(name + ": is not a LUKS volume");
  Header h =
      be16(b + 6) == 1 ? parse1(b, read, volume_size, name) : parse2(b, read, volume_size, name);
  if (h.payload_size == 0) bad(name, "the data segment is empty");
  return h;
}

std::optional<std::vector<uint8_t>> unlock(const Header& h, const ReadFn& read,
                                           std::string_view passphrase, const std::string& name) {
  std::vector<std::string> skipped;
  bool tried = false;
  for (const KeySlot& k : h.slots) {
    if (k.kdf != "pbkdf2" && k.kdf != "argon2i" && k.kdf != "argon2id") {
      skipped.push_back(std::to_string(k.id) + " (" + k.kdf + ")");
      continue;
    }
    tried = true;
    if (auto mk = try_slot(h, k, read, passphrase, name)) return mk;
  }
  if (!tried && !skipped.empty()) {
    std::string list;
    for (auto& s : skipped) list += (list.empty() ? "" : ", ") + s;
    throw EvidenceError(name + ": every key slot of this LUKS" + std::to_string(h.version) +
                        " volume derives its key with a function Safehold cannot compute: slots " +
                        list);
  }
  return std::nullopt;
}

// ---- sector decryption ----

struct Cipher::Impl {
  enum class Iv { plain, plain64, essiv };
  const EVP_CIPHER* cipher = nullptr;
  std::vector<uint8_t> key;
  Iv iv = Iv::plain64;
  std::vector<uint8_t> essiv_key;  // SHA-256 of the key
  bool ecb = false;
  ~Impl() {
    OPENSSL_cleanse(key.data(), key.size());
    OPENSSL_cleanse(essiv_key.data(), essiv_key.size());
  }
};

Cipher::Cipher(const std::string& spec, std::span<const uint8_t> key, const std::string& name)
    : impl_(std::make_unique<Impl>()) {
  auto fail = [&](const std::string& why) -> void {
    throw EvidenceError(name + ": its LUKS cipher '" + spec + "' " + why +
                        ", which Safehold cannot decrypt");
  };
  const size_t d1 = spec.find('-');
  const std::string algo = spec.substr(0, d1);
  const std::string rest = d1 == std::string::npos ? "" : spec.substr(d1 + 1);
  const size_t d2 = rest.find('-');
  const std::string mode = rest.substr(0, d2);
  const std::string ivspec = d2 == std::string::npos ? "" : rest.substr(d2 + 1);
  if (algo != "aes") fail("is not AES");
  const size_t n = key.size();
  if (mode == "xts") {
    impl_->cipher = n == 32 ? EVP_aes_128_xts() : n == 64 ? EVP_aes_256_xts() : nullptr;
  } else if (mode == "cbc" || mode == "ecb") {
    impl_->ecb = mode == "ecb";
    impl_->cipher = n == 16   ? (impl_->ecb ? EVP_aes_128_ecb() : EVP_aes_128_cbc())
                    : n == 24 ? (impl_->ecb ? EVP_aes_192_ecb() : EVP_aes_192_cbc())
                    : n == 32 ? (impl_->ecb ? EVP_aes_256_ecb() : EVP_aes_256_cbc())
                              : nullptr;
  } else {
    fail("uses the mode '" + mode + "'");
  }
  if (!impl_->cipher) fail("has a " + std::to_string(n * 8) + "-bit key");
  if (impl_->ecb)
    ;
  else if (ivspec == "plain64")
    impl_->iv = Impl::Iv::plain64;
  else if (ivspec == "plain")
    impl_->iv = Impl::Iv::plain;
  else if (ivspec == "essiv:sha256") {
    impl_->iv = Impl::Iv::essiv;
    impl_->essiv_key.resize(32);
    unsigned len = 0;
    if (EVP_Digest(key.data(), n, impl_->essiv_key.data(), &len, EVP_sha256(), nullptr) != 1)
      fail("(ESSIV) could not be set up");
  } else {
    fail("uses the IV '" + ivspec + "'");
  }
  impl_->key.assign(key.begin(), key.end());
}

Cipher::~Cipher() = default;

bool Cipher::decrypt(uint8_t* buf, size_t len, uint32_t sector_size, uint64_t iv_sector,
                     uint32_t iv_unit) const {
  if (sector_size == 0 || len % sector_size) return false;
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> c(EVP_CIPHER_CTX_new(),
                                                                    EVP_CIPHER_CTX_free);
  if (!c) return false;
  const uint64_t step = sector_size / iv_unit;
  for (size_t at = 0; at < len; at += sector_size, iv_sector += step) {
    uint8_t iv[16] = {};
    const uint64_t s = impl_->iv == Impl::Iv::plain ? (iv_sector & 0xffffffffu) : iv_sector;
    for (int i = 0; i < 8; ++i) iv[i] = static_cast<uint8_t>(s >> (8 * i));
    if (impl_->iv == Impl::Iv::essiv) {
      std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> e(EVP_CIPHER_CTX_new(),
                                                                        EVP_CIPHER_CTX_free);
      int outl = 0;
      uint8_t enc[32];
      if (!e ||
          EVP_EncryptInit_ex(e.get(), EVP_aes_256_ecb(), nullptr, impl_->essiv_key.data(),
                             nullptr) != 1 ||
          EVP_CIPHER_CTX_set_padding(e.get(), 0) != 1 ||
          EVP_EncryptUpdate(e.get(), enc, &outl, iv, 16) != 1 || outl != 16)
        return false;
      std::memcpy(iv, enc, 16);
    }
    int outl = 0;
    if (EVP_DecryptInit_ex(c.get(), impl_->cipher, nullptr, impl_->key.data(),
                           impl_->ecb ? nullptr : iv) != 1 ||
        EVP_CIPHER_CTX_set_padding(c.get(), 0) != 1 ||
        EVP_DecryptUpdate(c.get(), buf + at, &outl, buf + at, static_cast<int>(sector_size)) != 1 ||
        outl != static_cast<int>(sector_size))
      return false;
  }
  return true;
}

std::string describe(const Header& h) {
  return h.encryption + ", " + std::to_string(h.key_size * 8) + "-bit key";
}

}  // namespace safehold::fs::luks
