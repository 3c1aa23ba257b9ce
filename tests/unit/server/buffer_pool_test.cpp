#include "server/buffer_pool.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using kahttpd::server::BufferPool;

TEST_SUITE("server") {

    TEST_CASE("an idle buffer goes to the pool and comes back without an allocation") {
        BufferPool& pool = BufferPool::for_this_thread();
        const std::size_t before = pool.size();
        std::string out(1000, 'x');
        const char* storage = out.data();
        out.clear();
        pool.give(out);
        CHECK(out.capacity() <= 15); // holds no memory of its own
        CHECK(pool.size() == before + 1);
        std::string next;
        pool.take(next);
        CHECK(next.data() == storage);
        CHECK(next.empty());
        CHECK(next.capacity() >= 1000);
        CHECK(pool.size() == before);
    }

    TEST_CASE("a buffer with unsent bytes, a small one or an oversized one is not pooled") {
        BufferPool& pool = BufferPool::for_this_thread();
        const std::size_t before = pool.size();
        std::string pending(100, 'p');
        pool.give(pending);
        CHECK(pending.size() == 100);
        std::string small;
        pool.give(small);
        std::string huge(BufferPool::kMaxCapacity + 1, 'h');
        huge.clear();
        pool.give(huge);
        CHECK(huge.capacity() <= 15); // freed
        CHECK(pool.size() == before);
        std::string busy = "already has content";
        pool.take(busy);
        CHECK(busy == "already has content");
    }

    TEST_CASE("the pool keeps at most kMaxPooled buffers") {
        BufferPool& pool = BufferPool::for_this_thread();
        for (std::size_t i = 0; i < BufferPool::kMaxPooled + 10; ++i) {
            std::string b(100, 'b');
            b.clear();
            pool.give(b);
        }
        CHECK(pool.size() == BufferPool::kMaxPooled);
        std::vector<std::string> taken(BufferPool::kMaxPooled + 1);
        for (auto& t : taken) {
            pool.take(t);
        }
        CHECK(pool.size() == 0);
        CHECK(taken.back().capacity() <= 15); // the pool was empty: nothing to hand out
    }
}
