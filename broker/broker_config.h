#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "storage/log_config.h"

namespace cairn::broker {

// Everything cairnd can be told, by flag or config file (cairnd --help
// lists each with its default). None of these change at runtime; topic
// configs do (AlterTopicConfigs).
struct BrokerConfig {
  // --data-dir: segments, index and topic list; locked (<data-dir>/.lock) for
  // the broker's life, so a second broker on it is refused. Default "data".
  std::string data_dir = "data";
  // --listen: host:port for gRPC ([host]:port for IPv6), port 0..65535; port
  // 0 picks a free one. A port in use is a start-up error (no SO_REUSEPORT).
  // Default 127.0.0.1:7070.
  std::string listen = "127.0.0.1:7070";
  // --port-file: if set, the bound port is written there once serving
  // (for scripts and tests that listen on port 0).
  std::string port_file;
  // --metrics-listen: host:port to serve Prometheus metrics on (GET
  // /metrics), port 0 picks a free one. Default empty: not served.
  std::string metrics_listen;
  // --node-id: this broker's id in metadata (in a cluster, its id in
  // --controller-voters). Default 0.
  int32_t node_id = 0;
  // --controller-voters: `ID@HOST:PORT,...`, every broker of the cluster
  // and where the others reach it (Kafka's controller.quorum.voters). Empty:
  // this broker runs alone, with no replication. Default empty.
  std::string controller_voters;
  // --metadata-snapshot-records N: in a cluster, once a broker's image of
  // the metadata holds 2N records of the metadata log, the log drops all
  // but the last N of them; a broker that missed dropped records installs a
  // peer's image. Default 10000.
  int64_t metadata_snapshot_records = 10'000;
  // --auto-create-topics: produce to an unknown topic creates it. Default off.
  bool auto_create_topics = false;
  // --default-partitions: partitions of a topic created without a count. Default 1.
  int32_t default_partitions = 1;
  // --retention-check-interval-ms: how often retention runs. Default 300000.
  int64_t retention_check_interval_ms = 300'000;
  // --scrub-bytes-per-second: how fast stored bytes are read back and
  // verified in the background (storage::Scrubber); 0 turns it off. Default 8 MiB/s.
  int64_t scrub_bytes_per_second = 8LL << 20;
  // --scrub-interval-ms: a verification pass starts at most this often. Default 24 h.
  int64_t scrub_interval_ms = 24LL * 3600 * 1000;
  // --max-request-bytes: largest gRPC message accepted; advertised in
  // metadata so that producers keep within it. Default 64 MiB.
  int64_t max_request_bytes = 64LL << 20;
  // --max-inflight-produce-bytes: produce bytes awaiting their acks at once;
  // beyond it requests are refused (resource_exhausted) until some finish. Default 256 MiB.
  int64_t max_inflight_produce_bytes = 256LL << 20;
  // --fetch-max-bytes: cap on the record bytes of one fetch response,
  // whatever the client asks (the first batch a reader needs is always sent,
  // and no response exceeds --max-request-bytes). Default 50 MiB.
  int64_t fetch_max_bytes = 50LL << 20;
  // --max-fetch-wait-ms: cap on a fetch's long-poll wait. Default 30000.
  int32_t max_fetch_wait_ms = 30'000;
  // --io-threads: threads for timers and long-poll fetches. Default 2.
  int32_t io_threads = 2;
  // --offsets-retention-ms: committed offsets of a group empty this long
  // expire. Default 7 days.
  int64_t offsets_retention_ms = 7LL * 24 * 3600 * 1000;
  // --offsets-topic-retention-ms: in a cluster, how long __consumer_offsets
  // keeps commit records (set when the controller creates it); live offsets
  // are rewritten every quarter of it, so this bounds what a new group
  // coordinator replays. Default 6 hours.
  int64_t offsets_topic_retention_ms = 6LL * 3600 * 1000;
  // Share groups (queues, docs/queues.md). --share-record-lock-ms: how
  // long a member holds a record it acquired before it goes back to the
  // queue (members renew it for long jobs). Default 30 s.
  int64_t share_record_lock_ms = 30'000;
  // --share-max-record-locks: records tracked per share partition at once
  // (held, awaiting redelivery, or acknowledged past the oldest pending
  // one); bounds memory and what a slow record holds up. Default 2000.
  int32_t share_max_record_locks = 2000;
  // --share-max-delivery-attempts: deliveries of a record before it moves
  // to the dead-letter topic <topic>.dlq. Default 5.
  int32_t share_max_delivery_attempts = 5;
  // --test-sync-delay-ms: for fault tests only: every segment file sync
  // takes this much longer. Default 0.
  int32_t test_sync_delay_ms = 0;
  // --test-sync-journal PATH: for fault tests only: record in PATH what each
  // file and folder sync made durable, so that a test can cut the power of
  // the killed broker (storage::cut_power). Default: none.
  std::string test_sync_journal;
  // --test-drop-produce-responses-every: for fault tests only: every Nth
  // ProduceStream response is never sent, though its records were
  // appended (a lost acknowledgement). Default 0: none.
  int32_t test_drop_produce_responses_every = 0;
  // --test-refuse-produce-every: for fault tests only: every Nth produce
  // request is refused whole with not_leader, nothing appended (a leader
  // that stepped down as it arrived). Default 0: none.
  int32_t test_refuse_produce_every = 0;
  // --test-peer-route ID=HOST:PORT: for fault tests only: Raft traffic to
  // broker ID goes to HOST:PORT (a proxy the test controls) instead of its
  // address in --controller-voters.
  std::vector<std::string> test_peer_routes;
  // --test-clock-skew-file PATH: for fault tests only: the broker's wall
  // clock reads the milliseconds in PATH ahead of the real one, re-read
  // every 50 ms (a test steps the clock of a running broker). Default: none.
  std::string test_clock_skew_file;
  // --topic-default KEY=VALUE: defaults for topic configs (retention.ms, ...).
  storage::LogConfig topic_defaults;
};

}  // namespace cairn::broker
