#include "harness/measure/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "engines/core/error.h"

namespace qbench {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what, int err) {
  throw Error("cannot write " + path + ": " + what + ": " + std::strerror(err));
}

// A name no other writer uses: hidden, same directory (rename must not cross
// filesystems), unique per process and call.
std::string temp_name_for(const fs::path& target) {
  static std::atomic<unsigned> counter{0};
  const std::string name = "." + target.filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
                           std::to_string(counter.fetch_add(1));
  return (target.parent_path() / name).string();
}

void write_all(int fd, const std::string& contents, const std::string& path, const std::string& tmp) {
  const char* p = contents.data();
  size_t left = contents.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(path, "write " + tmp, errno);
    p += n;
    left -= size_t(n);
  }
}

// Makes the rename itself durable; best effort, some filesystems refuse it.
void fsync_directory(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& contents) {
  if (path.empty()) throw Error("cannot write a file with an empty path");
  const fs::path target(path);
  const fs::path dir = target.parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error("cannot write " + path + ": cannot create directory " + dir.string() + ": " + ec.message());
  }

  std::string tmp;
  int fd = -1;
  // O_EXCL guards against a stale temp of a crashed writer; mode 0666 lets the umask decide.
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    tmp = temp_name_for(target);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) fail(path, "create " + tmp, errno);
  }
  if (fd < 0) fail(path, "create " + tmp, EEXIST);

  try {
    write_all(fd, contents, path, tmp);
    if (::fsync(fd) != 0) fail(path, "fsync " + tmp, errno);
    if (::close(fd) != 0) {
      fd = -1;
      fail(path, "close " + tmp, errno);
    }
    fd = -1;
    if (::rename(tmp.c_str(), path.c_str()) != 0) fail(path, "rename " + tmp, errno);
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_directory(dir);
}

void write_json_atomic(const std::string& path, const nlohmann::json& j) {
  // Invalid UTF-8 (a sampled token cut mid-character) becomes U+FFFD instead of failing the write.
  write_file_atomic(path, j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace qbench
