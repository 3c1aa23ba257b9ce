// Test-only: linked into kahttpd_alloc_count, never into kahttpd. Replaces the global
// operator new and delete with versions that count allocations (every thread), and prints the
// count to stderr when the process exits, so that tests/integration/test_file_cache.py can
// check that the keep-alive small-file path allocates nothing per request: the count after
// 2N requests must not exceed the count after N by more than a constant.

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace {

std::atomic<std::uint64_t> g_allocations{0};

/// Prints the count when static objects are destroyed (main returned).
struct Report {
    Report() = default;
    Report(const Report&) = delete;
    Report& operator=(const Report&) = delete;
    ~Report() {
        std::fprintf(stderr, "kahttpd_alloc_count: %llu allocations\n",
                     static_cast<unsigned long long>(g_allocations.load()));
    }
} g_report;

void* counted(std::size_t n) noexcept {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(n != 0 ? n : 1);
}

} // namespace

void* operator new(std::size_t n) {
    if (void* p = counted(n)) {
        return p;
    }
    throw std::bad_alloc();
}

void* operator new[](std::size_t n) {
    if (void* p = counted(n)) {
        return p;
    }
    throw std::bad_alloc();
}

void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    return counted(n);
}

void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    return counted(n);
}

void operator delete(void* p) noexcept {
    std::free(p);
}

void operator delete[](void* p) noexcept {
    std::free(p);
}

void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
