#include "checks/common/trust_store.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <tuple>

namespace callready::checks {

namespace {

// What identifies one version of a file: a replaced or edited file differs
// in at least one of these.
using FileVersion = std::tuple<long long, long long, long long, long long>;  // mtime s, ns, size, inode

FileVersion version_of(const char* path) {
  struct stat st {};
  if (!path || ::stat(path, &st) != 0) return {-1, -1, -1, -1};
  return {static_cast<long long>(st.st_mtim.tv_sec), static_cast<long long>(st.st_mtim.tv_nsec),
          static_cast<long long>(st.st_size), static_cast<long long>(st.st_ino)};
}

using Key = std::tuple<std::string, FileVersion, FileVersion>;

std::string last_ssl_error() {
  char buf[256] = "unknown error";
  if (auto e = ERR_peek_last_error()) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

const char* env_or(const char* env_name, const char* fallback) {
  const char* v = std::getenv(env_name);
  return v && *v ? v : fallback;
}

// Whether `dir` holds c_rehash links ("5ad8a5d6.0"): then a lookup by the
// issuer's name hash finds every anchor the bundle file holds.
bool has_hash_links(const char* dir) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    auto dot = name.find('.');
    if (dot == 8 && name.size() > 9 && std::all_of(name.begin(), name.begin() + 8, ::isxdigit) &&
        std::all_of(name.begin() + 9, name.end(), ::isdigit))
      return true;
  }
  return false;
}

// The system's anchors as libssl's default paths give them, but without
// parsing the whole bundle file when the hashed directory has them: that
// parse (every root's key decoded) cost ~20 ms of a ~60 ms scan, and the
// directory is read only for the issuers a chain names.
void add_system_anchors(X509_STORE* store) {
  const char* dir = env_or(X509_get_default_cert_dir_env(), X509_get_default_cert_dir());
  // SSL_CERT_FILE naming another bundle than the default one is honoured as is.
  const char* file = env_or(X509_get_default_cert_file_env(), X509_get_default_cert_file());
  std::error_code ec;
  bool default_file = std::filesystem::equivalent(file, X509_get_default_cert_file(), ec) && !ec;
  if (default_file && has_hash_links(dir)) {
    if (auto* lookup = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir()))
      X509_LOOKUP_add_dir(lookup, dir, X509_FILETYPE_PEM);
  } else {
    X509_STORE_set_default_paths(store);
  }
  ERR_clear_error();  // a missing default file or directory is no error of the check's
}

TrustStoreResult build(const std::string& ca_file) {
  TrustStoreResult r;
  TrustStore store(X509_STORE_new());
  if (!store) {
    r.error = "cannot create a certificate store: " + last_ssl_error();
    return r;
  }
  add_system_anchors(store.get());
  if (!ca_file.empty() && X509_STORE_load_file(store.get(), ca_file.c_str()) != 1) {
    r.error = "cannot read " + ca_file + ": " + last_ssl_error();
    return r;
  }
  r.store = std::move(store);
  return r;
}

}  // namespace

TrustStoreResult trust_store(const std::string& ca_file) {
  static std::mutex mutex;
  // ca_file -> its newest store. Never destroyed: freeing stores from a
  // static destructor could run after OpenSSL's own atexit clean-up.
  static auto& cache = *new std::map<std::string, std::pair<Key, TrustStore>>;
  Key key{ca_file, version_of(ca_file.empty() ? nullptr : ca_file.c_str()), version_of(X509_get_default_cert_file())};
  std::lock_guard lock(mutex);
  auto& slot = cache[ca_file];
  if (!slot.second || slot.first != key) {
    auto built = build(ca_file);
    if (!built.store) {
      cache.erase(ca_file);
      return built;
    }
    slot = {key, std::move(built.store)};
  }
  X509_STORE_up_ref(slot.second.get());
  return {TrustStore(slot.second.get()), {}};
}

}  // namespace callready::checks
