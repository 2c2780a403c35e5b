#pragma once

// A fixture with real cairnd processes (three unless told) forming one
// cluster on 127.0.0.1 (fixed ports picked free at construction, kept
// across restarts), and clients that bootstrap from all of them.

#include <catch2/catch.hpp>

#include <fmt/ranges.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cairn/v1/broker.grpc.pb.h"
#include "cluster_fixture.h"
#include "proto/byte_io.h"
#include "proto/record_batch.h"
#include "storage/segment_check.h"

namespace cairn::testing {

struct LocalCluster {
  TempFolder folder;
  std::string voters;                                   // --controller-voters
  std::vector<std::unique_ptr<BrokerProcess>> brokers;  // [i] is node i + 1
  std::unique_ptr<Admin> admin;

  // Arguments for broker `id` alone, given every broker's port (node i + 1
  // listens on ports[i]).
  using PerBrokerArgs = std::function<std::vector<std::string>(int32_t id, const std::vector<int>& ports)>;

  explicit LocalCluster(std::vector<std::string> extra_args = {}, int count = 3, const PerBrokerArgs& per_broker = {}) {
    std::vector<int> ports;
    for (int i = 0; i < count; ++i) {
      ports.push_back(pick_free_port());
      voters += (i ? "," : "") + fmt::format("{}@127.0.0.1:{}", i + 1, ports.back());
    }
    for (int i = 0; i < count; ++i) {
      std::vector<std::string> args = {"--node-id", std::to_string(i + 1), "--controller-voters",
                                       voters};
      args.insert(args.end(), extra_args.begin(), extra_args.end());
      if (per_broker) {
        auto own = per_broker(i + 1, ports);
        args.insert(args.end(), own.begin(), own.end());
      }
      brokers.push_back(std::make_unique<BrokerProcess>(
          data_dir(i + 1), args, ports[static_cast<size_t>(i)]));
    }
    for (auto& broker : brokers) {
      Status started = broker->start();
      INFO(started.to_string());
      REQUIRE(started.ok());
    }
    auto connected = Admin::connect(client_options());
    REQUIRE(connected.ok());
    admin = std::move(*connected);
  }

  BrokerProcess& broker(int32_t id) { return *brokers.at(static_cast<size_t>(id - 1)); }
  // Where broker `id` keeps its data (known before it starts).
  std::string data_dir(int32_t id) const { return folder.path() + "/broker-" + std::to_string(id); }

  // The last lines of every broker's log, for a failing check's message.
  std::string log_tails(size_t lines = 15) const {
    std::string out;
    for (const auto& broker : brokers) {
      std::ifstream in(broker->log_path());
      std::vector<std::string> tail;
      for (std::string line; std::getline(in, line);) {
        if (line.find("raft: stream") != std::string::npos) continue;
        tail.push_back(line.substr(0, 200));
        if (tail.size() > lines) tail.erase(tail.begin());
      }
      out += "== " + broker->log_path() + "\n";
      for (const auto& line : tail) out += line + "\n";
    }
    return out;
  }

  ClientOptions client_options() const {
    ClientOptions options;
    options.bootstrap_brokers.clear();  // not the default 127.0.0.1:7070: another cluster may be there
    for (const auto& broker : brokers) options.bootstrap_brokers.push_back(broker->address());
    options.request_timeout_ms = 10'000;
    return options;
  }

  std::unique_ptr<Producer> producer(int32_t delivery_timeout_ms = 60'000) {
    ProducerOptions options;
    options.client = client_options();
    options.acks = Acks::all;
    options.delivery_timeout_ms = delivery_timeout_ms;
    auto created = Producer::create(options);
    REQUIRE(created.ok());
    return std::move(*created);
  }

  void create_topic(const std::string& name, int32_t partitions, int32_t replication_factor) {
    Status created = admin->create_topic({name, partitions, replication_factor, {}});
    INFO(created.to_string());
    REQUIRE(created.ok());
  }

  // The leader of every partition of `topic`, once each has one that runs
  // (as the running brokers' metadata says: each knows the leaders of the
  // partitions it hosts).
  std::vector<int32_t> wait_for_leaders(const std::string& topic,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::vector<int32_t> leaders;
    bool elected = eventually(
        [&] {
          leaders.clear();
          for (auto& broker : brokers) {
            if (!broker->running()) continue;
            auto described = describe(*broker, topic);
            if (!described) continue;
            leaders.resize(static_cast<size_t>(described->partitions_size()), -1);
            for (const auto& p : described->partitions()) {
              if (p.leader() >= 1) leaders[static_cast<size_t>(p.partition())] = p.leader();
            }
          }
          if (leaders.empty()) return false;
          for (int32_t leader : leaders) {
            if (leader < 1 || !this->broker(leader).running()) return false;
          }
          return true;
        },
        timeout);
    // Which partition lacked a running leader, and what the brokers did meanwhile.
    INFO(fmt::format("leaders of {} by partition (-1: none known): {}\n{}", topic, fmt::join(leaders, ","),
                     log_tails(30)));
    REQUIRE(elected);
    return leaders;
  }

  // The controller leader as a running broker's metadata names it, once one is elected.
  int32_t wait_for_controller(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    int32_t controller = -1;
    bool elected = eventually(
        [&] {
          for (auto& broker : brokers) {
            if (!broker->running()) continue;
            auto metadata = this->metadata(*broker, {});
            if (!metadata) continue;
            controller = metadata->controller_id();
            return controller > 0 && this->broker(controller).running();
          }
          return false;
        },
        timeout);
    REQUIRE(elected);
    return controller;
  }

  static std::optional<v1::MetadataResponse> metadata(const BrokerProcess& broker,
                                                      const std::vector<std::string>& topics) {
    auto stub = v1::Broker::NewStub(
        grpc::CreateChannel(broker.address(), grpc::InsecureChannelCredentials()));
    v1::MetadataRequest request;
    for (const auto& topic : topics) request.add_topics(topic);
    v1::MetadataResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    if (!stub->Metadata(&context, request, &response).ok()) return std::nullopt;
    return response;
  }

  // `topic` as one broker's metadata describes it; none if it does not answer.
  static std::optional<v1::TopicInfo> describe(const BrokerProcess& broker, const std::string& topic) {
    auto response = metadata(broker, {topic});
    if (!response || response->topics_size() != 1 || response->topics(0).error().code() != v1::NONE) {
      return std::nullopt;
    }
    return response->topics(0);
  }

  // The newest segment file of a partition's replica in a broker's data
  // folder; empty if it has none.
  static std::filesystem::path newest_segment(const BrokerProcess& broker, const std::string& topic,
                                              int32_t partition) {
    auto all = segments(broker, topic, partition);
    return all.empty() ? std::filesystem::path() : all.back();
  }
  // How many bytes of a segment file its batches take: its size less the
  // zeros written ahead of the active segment's end (or less what follows
  // the first damaged batch).
  static uint64_t batch_bytes(const std::filesystem::path& path) {
    auto check = storage::check_segment(storage::Env::posix(), path.string());
    return check.ok() ? check->valid_bytes : 0;
  }
  // A byte of a file goes bad on the disk; written through the page cache,
  // so a broker running over the file sees it as it would a failing disk.
  static void flip_byte(const std::filesystem::path& path, uint64_t position) {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(static_cast<std::streamoff>(position));
    char byte = 0;
    file.read(&byte, 1);
    file.seekp(static_cast<std::streamoff>(position));
    file.put(static_cast<char>(byte ^ 0x5a));
  }
  // The segment files of a partition's replica, oldest first.
  static std::vector<std::filesystem::path> segments(const BrokerProcess& broker, const std::string& topic,
                                                     int32_t partition) {
    std::vector<std::filesystem::path> out;
    for (const auto& entry :
         std::filesystem::directory_iterator(fmt::format("{}/{}/{}", broker.data_dir(), topic, partition))) {
      if (entry.path().extension() == ".log") out.push_back(entry.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // One raw fetch of up to 1 MiB from `offset`; nullopt (after a pause, to
  // be tried again) if the broker did not answer it without an error.
  static std::optional<v1::FetchedPartition> fetch_once(v1::Broker::Stub& stub, const std::string& topic,
                                                        int32_t partition, int64_t offset, bool as_records) {
    v1::FetchRequest request;
    request.set_as_records(as_records);
    auto* p = request.add_partitions();
    p->set_topic(topic);
    p->set_partition(partition);
    p->set_offset(offset);
    p->set_max_bytes(1 << 20);
    v1::FetchResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!stub.Fetch(&context, request, &response).ok() || response.partitions_size() != 1 ||
        response.partitions(0).error().code() != v1::NONE) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      return std::nullopt;
    }
    return std::move(*response.mutable_partitions(0));
  }

  // Every record of a partition below the high watermark of one broker's
  // replica, by offset, read with raw fetches from that broker (whether it
  // leads or not); waits until that high watermark reaches `at_least`.
  static std::map<int64_t, std::string> read_replica(const BrokerProcess& broker,
                                                     const std::string& topic, int32_t partition,
                                                     int64_t at_least) {
    auto stub = v1::Broker::NewStub(
        grpc::CreateChannel(broker.address(), grpc::InsecureChannelCredentials()));
    std::map<int64_t, std::string> out;
    int64_t next = 0;
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < give_up) {
      auto answer = fetch_once(*stub, topic, partition, next, /*as_records=*/true);
      if (!answer) continue;
      const auto& fetched = *answer;
      for (const auto& record : fetched.records()) out[record.offset()] = record.value();
      next = std::max(next, fetched.next_offset());
      if (next >= fetched.high_watermark() && fetched.high_watermark() >= at_least) break;
      if (next >= fetched.high_watermark()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return out;
  }

  // The producer epochs that a replica's committed batches carry (batch
  // headers only; not the brokers' own control batches), with how many
  // batches each.
  static std::map<int16_t, int> producer_epochs(const BrokerProcess& broker, const std::string& topic,
                                                int32_t partition) {
    auto stub = v1::Broker::NewStub(
        grpc::CreateChannel(broker.address(), grpc::InsecureChannelCredentials()));
    std::map<int16_t, int> epochs;
    int64_t next = 0;
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < give_up) {
      auto fetched = fetch_once(*stub, topic, partition, next, /*as_records=*/false);
      if (!fetched) continue;
      auto bytes = as_bytes(fetched->batches());
      while (!bytes.empty()) {
        auto header = parse_batch_header(bytes, bytes.size());
        REQUIRE(header.ok());
        if (header->next_offset().value > next && !header->is_control()) ++epochs[header->producer_epoch];
        next = std::max(next, header->next_offset().value);
        bytes = bytes.subspan(header->size_bytes());
      }
      if (next >= fetched->high_watermark()) break;
    }
    return epochs;
  }
};

}  // namespace cairn::testing
