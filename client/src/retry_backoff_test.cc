#include "retry_backoff.h"

#include <catch2/catch.hpp>

using cairn::ClientOptions;
using cairn::client::Backoff;
using cairn::client::retry_backoff;
using namespace std::chrono_literals;

TEST_CASE("RetryBackoffDoublesUpToItsMaximumWithJitter", "[client]") {
  ClientOptions options;
  options.retry_backoff_ms = 100;
  options.retry_backoff_max_ms = 1000;
  for (int i = 0; i < 100; ++i) {
    auto first = retry_backoff(options, 1);
    CHECK(first >= 80ms);
    CHECK(first <= 120ms);
    auto third = retry_backoff(options, 3);
    CHECK(third >= 320ms);
    CHECK(third <= 480ms);
    auto late = retry_backoff(options, 1000);
    CHECK(late >= 800ms);
    CHECK(late <= 1200ms);
  }
}

TEST_CASE("BackoffIgnoresFailuresWhileWaitingAndResetsOnSuccess", "[client]") {
  ClientOptions options;
  options.retry_backoff_ms = 100;
  options.retry_backoff_max_ms = 100'000;
  Backoff backoff;
  auto now = Backoff::Clock::now();
  CHECK_FALSE(backoff.waiting(now));
  backoff.failed(options, now);
  auto first_retry = backoff.retry_at();
  CHECK(backoff.waiting(now));
  backoff.failed(options, now + 10ms);  // a try made anyway while waiting
  CHECK(backoff.retry_at() == first_retry);
  backoff.failed(options, first_retry);  // the retry failed: a longer pause
  CHECK(backoff.retry_at() - first_retry >= 160ms);
  backoff.succeeded();
  CHECK_FALSE(backoff.waiting(now));
}
