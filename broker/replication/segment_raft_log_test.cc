// SegmentRaftLog: the Raft log contract on a real segment log, then Raft
// groups whose logs are segment logs (each replica its own store over a
// power-loss-capable Env), driven by hand: elections, replication,
// truncation of a diverged tail, jump-forward past the leader's log start,
// and power loss on a follower. Every replica must end with the leader's
// bytes.

#include <catch2/catch.hpp>

#include <deque>
#include <map>
#include <memory>

#include "broker/raft/consensus.h"
#include "broker/replication/segment_raft_log.h"
#include "proto/control_batch.h"
#include "storage/test_util.h"

using namespace cairn;
using namespace cairn::broker;
using cairn::storage::testing::make_batch;
using cairn::storage::testing::manual_flush_config;
using cairn::storage::testing::StoreFixture;

namespace {

raft::Entry data_entry(int64_t term, int64_t first, int records, const std::string& tag = "r") {
  return raft::Entry{Term(term), Offset(first), Offset(first + records - 1), raft::EntryType::data,
                     make_batch(records, 1000, tag)};
}

// The entry as stored: the log stamps the base offset and term into the
// batch header, so a read gives back the header as stamped.
raft::Entry stored(raft::Entry entry) {
  if (entry.type != raft::EntryType::data) return entry;
  auto b = as_writable_bytes(entry.payload);
  store_be<int64_t>(&b[0], entry.first.value);
  store_be<int32_t>(&b[12], static_cast<int32_t>(entry.term.value));
  return entry;
}

struct OneLog {
  StoreFixture store{storage::testing::kModelPowerLoss};
  std::shared_ptr<storage::PartitionLog> partition = store.log(manual_flush_config());
  SegmentRaftLog log{*partition};
};

}  // namespace

TEST_CASE("SegmentRaftLog.AnEmptyLogHasBaseMinusOneOfTermZero", "[raft-log]") {
  OneLog l;
  CHECK(l.log.first_index() == Offset(0));
  CHECK(l.log.last_index() == Offset(-1));
  CHECK(l.log.flushed_index() == Offset(-1));
  CHECK(l.log.last_term() == Term(0));
  CHECK_FALSE(l.log.entry_bounds(Offset(0)));
}

TEST_CASE("SegmentRaftLog.EntriesAreBatchesWithTheirTermsStamped", "[raft-log]") {
  OneLog l;
  std::vector<raft::Entry> entries{
      data_entry(1, 0, 5),
      raft::Entry{Term(2), Offset(5), Offset(5), raft::EntryType::noop, ""},
      data_entry(2, 6, 3),
      raft::Entry{Term(3), Offset(9), Offset(9), raft::EntryType::membership, "voters-1,2,3"},
      data_entry(3, 10, 1)};
  REQUIRE(l.log.append(entries).ok());
  CHECK(l.log.last_index() == Offset(10));
  CHECK(l.log.flushed_index() == Offset(-1));
  auto bounds = l.log.entry_bounds(Offset(3));
  REQUIRE(bounds);
  CHECK(*bounds == raft::EntryBounds{Offset(0), Offset(4), Term(1)});
  CHECK(l.log.term_at(Offset(7)) == Term(2));
  CHECK(l.log.last_term() == Term(3));

  // Read back exactly as appended, control entries included.
  auto read = l.log.read(Offset(0), 1 << 20, 100);
  REQUIRE(read.ok());
  REQUIRE(read->size() == entries.size());
  for (size_t i = 0; i < entries.size(); ++i) CHECK((*read)[i] == stored(entries[i]));
  // A control entry is a control batch in the partition: readers skip it.
  auto raw = l.partition->read(Offset(5), 1 << 20, Offset::max());
  REQUIRE(raw.ok());
  auto header = parse_batch_header(as_bytes(raw->bytes), raw->bytes.size());
  REQUIRE(header.ok());
  CHECK(header->is_control());
  CHECK(header->leader_epoch == Term(2));

  // Whole entries only; at least one whatever the byte limit.
  CHECK(l.log.read(Offset(0), 1, 100)->size() == 1);
  CHECK(l.log.read(Offset(6), 1 << 20, 2)->size() == 2);
  CHECK(l.log.read(Offset(3), 1 << 20, 10).status().code() == ErrorCode::offset_out_of_range);
  CHECK(l.log.read(Offset(11), 1 << 20, 10).status().code() == ErrorCode::offset_out_of_range);

  REQUIRE(l.partition->flush_now().ok());
  CHECK(l.log.flushed_index() == Offset(10));
  REQUIRE(l.log.truncate_suffix(Offset(6)).ok());
  CHECK(l.log.last_index() == Offset(5));
  CHECK(l.log.flushed_index() == Offset(5));
  CHECK(l.log.last_term() == Term(2));
}

TEST_CASE("SegmentRaftLog.AFollowersBatchWithTheWrongCountIsRefused", "[raft-log]") {
  OneLog l;
  raft::Entry entry = data_entry(1, 0, 3);
  entry.last = Offset(4);  // says 5 offsets, holds 3 records
  CHECK(l.log.append({entry}).code() == ErrorCode::corrupt_batch);
  CHECK(l.log.last_index() == Offset(-1));
}

TEST_CASE("SegmentRaftLog.ResetRestartsAfterTheGivenBase", "[raft-log]") {
  OneLog l;
  REQUIRE(l.log.append({data_entry(1, 0, 5), data_entry(1, 5, 5)}).ok());
  REQUIRE(l.log.reset(Offset(99), Term(4)).ok());
  CHECK(l.log.first_index() == Offset(100));
  CHECK(l.log.last_index() == Offset(99));
  CHECK(l.log.flushed_index() == Offset(99));
  CHECK(*l.log.entry_bounds(Offset(99)) == raft::EntryBounds{Offset(99), Offset(99), Term(4)});
  REQUIRE(l.log.append({data_entry(4, 100, 2)}).ok());
  CHECK(l.log.read(Offset(100), 1 << 20, 10)->size() == 1);
}

namespace {

// One replica: its own store (segments in a power-loss-capable Env), the
// partition log, the Raft log over it, and consensus.
struct Replica {
  raft::NodeId id;
  StoreFixture store{storage::testing::kModelPowerLoss};
  std::shared_ptr<storage::PartitionLog> partition;
  std::unique_ptr<SegmentRaftLog> log;
  raft::InMemoryDurableState durable;  // saved "synced": survives crashes
  raft::ManualClock clock{0};
  struct Outbox final : raft::Transport {
    std::deque<std::pair<raft::NodeId, raft::Message>> messages;
    void send(raft::NodeId to, raft::Message m) override { messages.emplace_back(to, std::move(m)); }
  } outbox;
  std::unique_ptr<raft::Consensus> raft;
  bool syncs = true;  // false: its group commit stalls (a slow disk), nothing becomes durable
};

// A group of replicas driven by hand, as broker/raft's TestCluster, but on
// segment logs: messages move on deliver(), time on advance_ms(), logs
// become durable on flush() (the group commit).
class SegmentGroup {
 public:
  explicit SegmentGroup(int size) {
    for (int i = 1; i <= size; ++i) {
      replicas_.push_back(std::make_unique<Replica>());
      replicas_.back()->id = raft::NodeId(i);
    }
    for (int i = 1; i <= size; ++i) start(i);
  }

  Replica& at(int id) { return *replicas_.at(id - 1); }
  raft::Consensus& raft(int id) { return *at(id).raft; }
  storage::PartitionLog& partition(int id) { return *at(id).partition; }
  bool alive(int id) { return at(id).raft != nullptr; }

  void start(int id) {
    Replica& r = at(id);
    r.partition = r.store.log(manual_flush_config({{"segment.bytes", "4096"}}));
    r.log = std::make_unique<SegmentRaftLog>(*r.partition);
    raft::RaftOptions options;
    options.self = r.id;
    for (int i = 1; i <= int(replicas_.size()); ++i) options.initial_voters.push_back(raft::NodeId(i));
    options.random_seed = uint64_t(id) * 7919;
    r.raft = std::make_unique<raft::Consensus>(options, *r.log, r.durable, r.outbox, r.clock,
                                               [](const raft::Entry&) {});
    REQUIRE(r.raft->start().ok());
  }

  // The replica's machine loses power: only what its syncs covered stays.
  void power_loss(int id) {
    Replica& r = at(id);
    r.raft.reset();
    r.log.reset();
    r.partition.reset();
    r.outbox.messages.clear();
    r.store.crash(storage::CrashMode::power_loss);
  }

  void flush(int id) {
    Replica& r = at(id);
    if (!r.syncs) return;
    Offset before = r.log->flushed_index();
    REQUIRE(r.partition->flush_now().ok());
    if (r.log->flushed_index() != before) REQUIRE(r.raft->on_log_flushed().ok());
  }

  void deliver() {
    for (int round = 0; round < 10'000; ++round) {
      bool any = false;
      for (int from = 1; from <= int(replicas_.size()); ++from) {
        if (!alive(from)) continue;
        auto messages = std::exchange(at(from).outbox.messages, {});
        for (auto& [to_id, message] : messages) {
          int to = int(to_id.value);
          any = true;
          if (!alive(to) || isolated_.contains(from) || isolated_.contains(to)) continue;
          REQUIRE(raft(to).handle(message).ok());
          flush(to);
        }
        flush(from);
      }
      if (!any) return;
    }
    FAIL("messages never stopped");
  }

  void advance_ms(int64_t ms) {
    for (int64_t t = 0; t < ms; t += 10) {
      for (int id = 1; id <= int(replicas_.size()); ++id) {
        if (!alive(id)) continue;
        at(id).clock.advance_ms(10);
        REQUIRE(raft(id).tick().ok());
      }
      deliver();
    }
  }

  int leader() {
    for (int64_t t = 0; t < 10'000; t += 10) {
      std::optional<int> found;
      for (int id = 1; id <= int(replicas_.size()); ++id) {
        if (alive(id) && !isolated_.contains(id) && raft(id).role() == raft::Role::leader) found = id;
      }
      if (found) return *found;
      advance_ms(10);
    }
    FAIL("no leader");
    return 0;
  }

  // Proposes `count` batches of 3 records at the leader; returns the last index.
  Offset produce(int leader_id, int count, const std::string& tag) {
    Offset last;
    for (int i = 0; i < count; ++i) {
      auto proposed = raft(leader_id).propose(make_batch(3, 1000 + i, tag + std::to_string(i)), 3);
      REQUIRE(proposed.ok());
      last = *proposed;
    }
    deliver();
    return last;
  }

  void isolate(int id) { isolated_.insert(id); }
  void heal() { isolated_.clear(); }
  int size() const { return int(replicas_.size()); }

 private:
  std::vector<std::unique_ptr<Replica>> replicas_;
  std::set<int> isolated_;
};

// The log's bytes in [from, to), as stored.
std::string bytes_of(storage::PartitionLog& log, Offset from, Offset to) {
  auto read = log.read(from, 64 << 20, to);
  REQUIRE(read.ok());
  return read->bytes;
}

// Every live replica holds the leader's bytes up to the commit index, from
// the latest log start among them.
void expect_same_committed_bytes(SegmentGroup& g, int leader_id) {
  Offset commit = g.raft(leader_id).commit_index();
  Offset from = Offset(0);
  for (int id = 1; id <= g.size(); ++id) from = std::max(from, g.partition(id).log_start());
  std::string leader_bytes = bytes_of(g.partition(leader_id), from, commit + 1);
  CHECK(!leader_bytes.empty());
  for (int id = 1; id <= g.size(); ++id) {
    if (id == leader_id || !g.alive(id)) continue;
    INFO("replica " << id);
    CHECK(g.raft(id).commit_index() == commit);
    CHECK(bytes_of(g.partition(id), from, commit + 1) == leader_bytes);
  }
}

}  // namespace

TEST_CASE("SegmentRaftLog.AGroupReplicatesTheLeadersBytes", "[raft-log][group]") {
  SegmentGroup g(3);
  int leader = g.leader();
  Offset last = g.produce(leader, 20, "a");
  g.advance_ms(100);  // a heartbeat carries the commit index to the followers
  CHECK(g.raft(leader).commit_index() == last);
  expect_same_committed_bytes(g, leader);
  // The leader's first entry is its no-op: a control batch of its term.
  auto header = g.partition(leader).batch_header_at(Offset(0));
  REQUIRE(header.ok());
  CHECK(header->is_control());
  CHECK(header->leader_epoch == g.raft(leader).term());
}

TEST_CASE("SegmentRaftLog.AFollowerThatLostPowerCatchesUp", "[raft-log][group]") {
  SegmentGroup g(3);
  int leader = g.leader();
  int follower = leader % 3 + 1;
  g.produce(leader, 10, "a");
  // Appended on the follower but never synced there: it acknowledges none
  // of it (the other follower makes the majority), and the power loss takes it.
  g.at(follower).syncs = false;
  Offset unsynced_end = g.produce(leader, 5, "b") + 1;
  CHECK(g.partition(follower).log_end() == unsynced_end);
  CHECK(g.raft(leader).commit_index() == unsynced_end - 1);
  g.power_loss(follower);
  g.at(follower).syncs = true;
  g.start(follower);
  CHECK(g.partition(follower).log_end() < unsynced_end);
  Offset last = g.produce(leader, 10, "c");
  g.advance_ms(200);
  CHECK(g.raft(leader).commit_index() == last);
  expect_same_committed_bytes(g, leader);
}

TEST_CASE("SegmentRaftLog.ADivergedTailIsTruncated", "[raft-log][group]") {
  SegmentGroup g(3);
  int old_leader = g.leader();
  g.produce(old_leader, 5, "a");
  // Cut off, the old leader appends entries nobody else will ever have.
  g.isolate(old_leader);
  for (int i = 0; i < 4; ++i) {
    REQUIRE(g.raft(old_leader).propose(make_batch(2, 5000, "lost"), 2).ok());
  }
  g.flush(old_leader);
  Offset diverged_end = g.partition(old_leader).log_end();
  int new_leader = g.leader();
  REQUIRE(new_leader != old_leader);
  g.produce(new_leader, 6, "b");
  g.heal();
  g.advance_ms(2'000);
  int leader = g.leader();
  Offset last = g.produce(leader, 2, "c");
  g.advance_ms(100);
  CHECK(g.raft(leader).commit_index() == last);
  CHECK(g.partition(old_leader).log_end() != diverged_end);
  expect_same_committed_bytes(g, leader);
}

TEST_CASE("SegmentRaftLog.AFollowerBehindTheLeadersStartJumpsForward", "[raft-log][group]") {
  SegmentGroup g(3);
  int leader = g.leader();
  int lagging = leader % 3 + 1;
  g.produce(leader, 5, "a");
  g.isolate(lagging);
  Offset last = g.produce(leader, 30, "b");
  g.advance_ms(100);
  // Retention on the leader (and the other follower) passes what the
  // lagging replica holds.
  Offset start = last - 10;
  for (int id = 1; id <= 3; ++id) {
    if (id == lagging) continue;
    auto bounds = g.partition(id).batch_header_at(start);
    REQUIRE(bounds.ok());
    REQUIRE(g.partition(id).advance_start(bounds->base_offset).ok());
  }
  start = g.partition(leader).log_start();
  g.heal();
  g.advance_ms(500);
  CHECK(g.partition(lagging).log_start() == start);
  CHECK(g.partition(lagging).term_at(start - 1) == g.partition(leader).term_at(start - 1));
  last = g.produce(leader, 3, "c");
  g.advance_ms(100);
  CHECK(g.raft(lagging).commit_index() == last);
  expect_same_committed_bytes(g, leader);
  // The jump is durable: after a power loss the replica still starts there.
  g.power_loss(lagging);
  g.start(lagging);
  CHECK(g.partition(lagging).log_start() == start);
}
