// The smallest complete libcairn program: create a topic, send three
// records, read them back. Run a broker first (scripts/start.sh).
//   build/bin/hello-cairn [host:port]

#include <cstdio>
#include <cstring>

#include "cairn/admin.h"
#include "cairn/consumer.h"
#include "cairn/producer.h"

int run(const char* broker) {
  cairn::ClientOptions client;
  client.bootstrap_brokers = {broker};

  auto admin = cairn::Admin::connect(client).value();
  cairn::Status created = admin->create_topic("greetings", 3);
  if (!created.ok() && created.code() != cairn::ErrorCode::topic_already_exists) {
    std::fprintf(stderr, "%s\n", created.to_string().c_str());
    return 1;
  }

  cairn::ProducerOptions producer_options;
  producer_options.client = client;  // acks=all: acknowledged once durable
  auto producer = cairn::Producer::create(producer_options).value();
  for (const char* name : {"ada", "grace", "edsger"}) {
    auto sent = producer->send({.topic = "greetings", .key = name, .value = std::string("hello ") + name})
                    .get();  // or pass a callback
    if (!sent.ok()) {
      std::fprintf(stderr, "%s\n", sent.status().to_string().c_str());
      return 1;
    }
    std::printf("sent to partition %d at offset %lld\n", sent->partition,
                static_cast<long long>(sent->offset.value));
  }
  producer->close();

  cairn::ConsumerOptions consumer_options;
  consumer_options.client = client;
  consumer_options.auto_offset_reset = cairn::OffsetReset::earliest;
  auto consumer = cairn::Consumer::create(consumer_options).value();
  (void)consumer->assign({{"greetings", 0}, {"greetings", 1}, {"greetings", 2}});
  auto records = consumer->poll(std::chrono::seconds(2));
  for (const auto& r : records.value()) {
    std::printf("%d:%lld %s = %s\n", r.partition, static_cast<long long>(r.offset().value),
                r.key().value_or("null").c_str(), r.value().value_or("null").c_str());
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 2 || (argc == 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")))) {
    std::printf("usage: hello-cairn [HOST:PORT]\n"
                "Creates topic 'greetings' (3 partitions) on the broker at HOST:PORT (default 127.0.0.1:7070),\n"
                "sends three records with acks=all and reads them back.\n");
    return argc == 2 ? 0 : 2;
  }
  try {
    return run(argc > 1 ? argv[1] : "127.0.0.1:7070");
  } catch (const cairn::BadResultAccess& e) {  // .value() of a failed Result says why
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
