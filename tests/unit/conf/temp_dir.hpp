#pragma once

#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include <unistd.h>

namespace kahttpd::conf::test {

/// A fresh directory under the system temp dir, removed with everything in it when the
/// object goes out of scope. The name carries the pid and a random part so that parallel
/// test runs (CTest -j) never share a directory.
class TempDir {
  public:
    TempDir() {
        std::random_device random;
        const auto base = std::filesystem::temp_directory_path();
        for (int attempt = 0; attempt < 100; ++attempt) {
            const auto candidate = base / ("kahttpd-conf-test-" + std::to_string(::getpid()) + "-" +
                                           std::to_string(random()));
            if (std::filesystem::create_directory(candidate)) {
                // Canonical, so that paths in messages match even when /tmp is a symlink.
                path_ = std::filesystem::canonical(candidate);
                return;
            }
        }
        throw std::runtime_error("cannot create a temporary directory");
    }

    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }

    const std::filesystem::path& path() const noexcept { return path_; }

    /// Writes `content` to `relative` (parent folders created) and returns the full path.
    std::filesystem::path write(const std::filesystem::path& relative,
                                std::string_view content) const {
        const auto full = path_ / relative;
        std::filesystem::create_directories(full.parent_path());
        std::ofstream out(full, std::ios::binary);
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
        if (!out) {
            throw std::runtime_error("cannot write " + full.string());
        }
        return full;
    }

    /// Creates the folder `relative` (and its parents) and returns the full path.
    std::filesystem::path mkdir(const std::filesystem::path& relative) const {
        const auto full = path_ / relative;
        std::filesystem::create_directories(full);
        return full;
    }

  private:
    std::filesystem::path path_;
};

} // namespace kahttpd::conf::test
