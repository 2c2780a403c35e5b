// cairnd: the Cairn broker. main() only reads the configuration and starts
// the server; everything else lives in broker/.

#include <pthread.h>
#include <signal.h>

#include <set>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "broker/config_file.h"
#include "broker/server.h"
#include "proto/heap_tuning.h"

using cairn::Status;
using cairn::broker::BrokerConfig;

namespace {

// Refuses a config file with a line that is not `key = value` or names an
// unknown option, with its line number. Runs as soon as --config is parsed,
// before the file's values are read.
CLI::Validator strict_config_file(const CLI::App& app) {
  return CLI::Validator(
      [&app](std::string& path) -> std::string {
        std::set<std::string> keys;
        for (const CLI::Option* option : app.get_options()) {
          for (const auto& name : option->get_lnames()) keys.insert(name);
        }
        keys.erase("config");
        Status checked = cairn::broker::check_config_file(path, keys);
        return checked.ok() ? "" : checked.message();
      },
      "", "strict config file");
}

void add_options(CLI::App& app, BrokerConfig& c, std::vector<std::string>& topic_defaults,
                 std::string& log_level) {
  app.set_config("--config", "",
                 "Read options from a file: one `long-flag-name = value` per line, # comments; "
                 "an unknown name or a malformed line is refused")
      ->check(CLI::ExistingFile)
      ->check(strict_config_file(app))
      ->trigger_on_parse();
  // A value is taken whole: CLI11 would split `controller-voters = 1@a:1,2@b:2`
  // at its commas (and a value at its spaces) into several. A repeatable
  // option (topic-default) takes one line per value, on consecutive lines:
  // CLI11 keeps only the first run of them.
  app.get_config_formatter_base()->arrayDelimiter('\n');
  app.add_option("--data-dir", c.data_dir, "Where segments, the index and the topic list live")
      ->capture_default_str();
  app.add_option("--listen", c.listen, "host:port to serve gRPC on; port 0 picks a free one")
      ->capture_default_str();
  app.add_option("--port-file", c.port_file, "Write the bound port to this file once serving");
  app.add_option("--metrics-listen", c.metrics_listen,
                 "host:port to serve Prometheus metrics on (GET /metrics); empty (default): not served");
  app.add_option("--node-id", c.node_id,
                 "This broker's id in metadata; in a cluster, its id in --controller-voters")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--controller-voters", c.controller_voters,
                 "Run as one broker of a cluster: ID@HOST:PORT for every broker, comma-separated, "
                 "the same list on each (e.g. 1@10.0.0.1:7070,2@10.0.0.2:7070,3@10.0.0.3:7070); "
                 "this broker's --node-id and --listen must match its entry. Partitions are then "
                 "replicated and topics kept by the controller quorum. Without it the broker runs alone");
  app.add_option("--metadata-snapshot-records", c.metadata_snapshot_records,
                 "In a cluster: the metadata log keeps the last N records of this broker's image "
                 "(its snapshot of the metadata) and drops older ones once it holds 2N; a broker "
                 "that missed dropped records copies a peer's image")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_flag("--auto-create-topics", c.auto_create_topics,
               "Create a topic on its first use by a producer (cairn produce, libcairn's Producer, a raw "
               "produce request), with --default-partitions (in a cluster: through the controller, with a "
               "replication factor of up to 3; set it on every broker). Off: producing to an unknown topic is "
               "an error");
  app.add_option("--default-partitions", c.default_partitions,
                 "Partitions of topics created without a count")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000));
  app.add_option("--retention-check-interval-ms", c.retention_check_interval_ms,
                 "How often old segments are deleted (retention.ms / retention.bytes)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--scrub-bytes-per-second", c.scrub_bytes_per_second,
                 "How fast stored records are read back and their checksums verified in the background, so "
                 "damage in data nothing reads is found (and repaired from other replicas) early; 0 turns it off")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--scrub-interval-ms", c.scrub_interval_ms,
                 "A background verification pass over every partition starts at most this often (the first at "
                 "start)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{366} * 24 * 3600 * 1000));
  app.add_option("--max-request-bytes", c.max_request_bytes,
                 "Largest gRPC message accepted (advertised in metadata: producers keep their requests within it)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1024}, int64_t{1} << 30));
  app.add_option("--max-inflight-produce-bytes", c.max_inflight_produce_bytes,
                 "Produce bytes awaiting acknowledgement at once; more is refused until some finish")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--fetch-max-bytes", c.fetch_max_bytes,
                 "Cap on the record bytes of one fetch response, whatever the client asks "
                 "(a reader's next batch is always sent whole; --max-request-bytes bounds it too)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  app.add_option("--max-fetch-wait-ms", c.max_fetch_wait_ms, "Cap on a fetch's long-poll wait")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--io-threads", c.io_threads, "Threads for timers and waiting fetches")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--offsets-retention-ms", c.offsets_retention_ms,
                 "Committed offsets of a consumer group empty this long expire")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--share-record-lock-ms", c.share_record_lock_ms,
                 "Share groups: how long a worker holds a record it took before it goes back to the "
                 "queue, counted as a failed delivery (workers renew it for long jobs)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{100}, int64_t{3'600'000}));
  app.add_option("--share-max-record-locks", c.share_max_record_locks,
                 "Share groups: records tracked per partition at once (held or awaiting redelivery)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100'000));
  app.add_option("--share-max-delivery-attempts", c.share_max_delivery_attempts,
                 "Share groups: deliveries of a record before it moves to the dead-letter topic <topic>.dlq")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--offsets-topic-retention-ms", c.offsets_topic_retention_ms,
                 "In a cluster: how long __consumer_offsets keeps commit records (set when it is "
                 "created); live offsets are rewritten every quarter of it, so it bounds what a "
                 "new group coordinator replays")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{4'000}, int64_t{365} * 24 * 3600 * 1000));
  app.add_option("--topic-default", topic_defaults,
                 "KEY=VALUE default for every topic's config, repeatable: retention.ms, "
                 "retention.bytes, segment.bytes, segment.ms, max.message.bytes, flush.policy "
                 "(on_append|interval), flush.ms, flush.bytes, cleanup.policy (delete|compact|compact,delete), "
                 "delete.retention.ms, preallocate.bytes (0 on btrfs or ZFS)");
  app.add_option("--test-sync-delay-ms", c.test_sync_delay_ms,
                 "For fault tests only: slow every segment file sync down by this much")
      ->group("Testing")
      ->check(CLI::Range(0, 60'000));
  app.add_option("--test-sync-journal", c.test_sync_journal,
                 "For fault tests only: record in this file what each file and folder sync made "
                 "durable, so that a test can cut the power of the broker after killing it")
      ->group("Testing");
  app.add_option("--test-refuse-produce-every", c.test_refuse_produce_every,
                 "For fault tests only: refuse every Nth produce request whole with not_leader, "
                 "appending nothing (a leader that stepped down as it arrived)")
      ->group("Testing")
      ->check(CLI::Range(0, 1'000'000));
  app.add_option("--test-drop-produce-responses-every", c.test_drop_produce_responses_every,
                 "For fault tests only: never send every Nth ProduceStream response, though its "
                 "records were appended (a lost acknowledgement)")
      ->group("Testing")
      ->check(CLI::Range(0, 1'000'000));
  app.add_option("--test-peer-route", c.test_peer_routes,
                 "For fault tests only: ID=HOST:PORT sends the Raft traffic for broker ID to HOST:PORT "
                 "(a proxy that can cut the link) instead of its --controller-voters address; repeatable")
      ->group("Testing");
  app.add_option("--test-clock-skew-file", c.test_clock_skew_file,
                 "For fault tests only: the broker's wall clock reads the milliseconds this file holds "
                 "ahead of the real one (negative: behind), re-read every 50 ms")
      ->group("Testing");
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
}

// The topic config defaults --topic-default gives. A max.message.bytes no
// request could carry is refused; the built-in one only warned about, so
// a small --max-request-bytes alone still starts.
cairn::Result<cairn::storage::LogConfig> topic_defaults_from(const std::vector<std::string>& pairs,
                                                             int64_t max_request_bytes) {
  std::map<std::string, std::string> overrides;
  for (const auto& pair : pairs) {
    auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return cairn::error(cairn::ErrorCode::invalid_config,
                          "--topic-default wants KEY=VALUE, not '{}'", pair);
    }
    overrides[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  auto defaults = cairn::storage::LogConfig().with(overrides);
  if (!defaults.ok() || defaults->max_message_bytes <= max_request_bytes) return defaults;
  if (overrides.count("max.message.bytes")) {
    return cairn::error(cairn::ErrorCode::invalid_config,
                        "--topic-default max.message.bytes={} is above --max-request-bytes {}: a "
                        "batch that large could never be produced; lower one or raise the other",
                        defaults->max_message_bytes, max_request_bytes);
  }
  spdlog::warn("topics' default max.message.bytes ({}) is above --max-request-bytes ({}), which "
               "then limits batches instead; set --topic-default max.message.bytes to match",
               defaults->max_message_bytes, max_request_bytes);
  return defaults;
}

}  // namespace

int main(int argc, char** argv) {
  cairn::keep_large_buffers_in_the_heap();
  CLI::App app{
      "cairnd: the Cairn broker. Serves produce, fetch, offsets, metadata and admin over gRPC; "
      "stores partitions as segment files under --data-dir.\n"
      "Example: cairnd --data-dir /var/lib/cairn --listen 0.0.0.0:7070\n"
      "A cluster of three (one line per broker, each with its own --data-dir):\n"
      "  cairnd --node-id 1 --listen 127.0.0.1:7071 --data-dir data/broker-1 "
      "--controller-voters 1@127.0.0.1:7071,2@127.0.0.1:7072,3@127.0.0.1:7073"};
  BrokerConfig config;
  std::vector<std::string> topic_defaults;
  std::string log_level = "info";
  add_options(app, config, topic_defaults, log_level);
  app.set_version_flag("--version", fmt::format("cairnd {}", CAIRN_VERSION));
  CLI11_PARSE(app, argc, argv);

  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  spdlog::set_level(spdlog::level::from_str(log_level));
  auto defaults = topic_defaults_from(topic_defaults, config.max_request_bytes);
  if (!defaults.ok()) {
    spdlog::error("{}", defaults.status().message());
    return 2;
  }
  config.topic_defaults = *defaults;

  // Signals are taken by sigwait below, not by whichever thread they hit.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto server = cairn::broker::Server::start(config);
  if (!server.ok()) {
    spdlog::error("cannot start: {}", server.status().to_string());
    return 1;
  }
  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("received {}", received == SIGTERM ? "SIGTERM" : "SIGINT");
  (*server)->shutdown();
  return 0;
}
