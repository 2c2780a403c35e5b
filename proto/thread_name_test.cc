#include "proto/thread_name.h"

#include <pthread.h>

#include <catch2/catch.hpp>

#include <string>
#include <thread>

TEST_CASE("AThreadIsNamedAsTheKernelKeepsNamesAtMost15Characters", "[thread]") {
  std::string seen;
  std::thread named([&] {
    cairn::name_this_thread("cairn-a-very-long-name");
    char buffer[32] = {};
    pthread_getname_np(pthread_self(), buffer, sizeof buffer);
    seen = buffer;
  });
  named.join();
  CHECK(seen == "cairn-a-very-lo");
}
