// A share-group worker that takes records and never finishes them: the
// fault tests SIGKILL it mid-job. Prints "took PARTITION:OFFSET" per record
// it holds, then "holding" once it holds --take of them, and sleeps.
//
//   queue_worker BROKER TOPIC GROUP TAKE

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "cairn/share_consumer.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: queue_worker BROKER TOPIC GROUP TAKE\n");
    return 2;
  }
  cairn::ShareConsumerOptions options;
  options.client.bootstrap_brokers = {argv[1]};
  options.group_id = argv[3];
  options.acknowledgement_mode = cairn::AcknowledgementMode::explicit_;
  auto consumer = cairn::ShareConsumer::create(options);
  if (!consumer.ok() || !(*consumer)->subscribe({argv[2]}).ok()) return 1;
  size_t want = static_cast<size_t>(std::atoi(argv[4]));
  size_t held = 0;
  while (held < want) {
    auto records = (*consumer)->poll(std::chrono::milliseconds(500), want - held);
    if (!records.ok()) {
      std::fprintf(stderr, "poll: %s\n", records.status().to_string().c_str());
      return 1;
    }
    for (const auto& r : *records) std::printf("took %d:%lld\n", r.partition, static_cast<long long>(r.offset().value));
    held += records->size();
    std::fflush(stdout);
  }
  std::printf("holding\n");
  std::fflush(stdout);
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}
