#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>

#include "broker/raft/consensus.h"
#include "broker/raft/in_memory_log.h"

// The pieces of a simulated node: a reproducible random source, a drifting
// clock, a transport into the simulated network, and the node itself.
// Internal to the simulator.

namespace cairn::raft::sim {

class Simulation;

// Portable and reproducible: no std distributions, whose output differs
// between standard libraries.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  uint64_t next() { return engine_(); }
  // Uniform in [lo, hi].
  int64_t between(int64_t lo, int64_t hi) { return lo + int64_t(engine_() % uint64_t(hi - lo + 1)); }
  bool chance(double p) { return double(engine_() >> 11) * 0x1.0p-53 < p; }

 private:
  std::mt19937_64 engine_;
};

// A node's clock: simulated time scaled by a drift rate that can change.
class SimClock final : public Clock {
 public:
  explicit SimClock(const int64_t& sim_us) : sim_us_(sim_us) {}
  int64_t now_ms() const override { return int64_t(exact_ms()); }
  void set_rate(double rate) {
    anchor_ms_ = exact_ms();
    anchor_us_ = sim_us_;
    rate_ = rate;
  }
  double rate() const { return rate_; }

 private:
  double exact_ms() const { return anchor_ms_ + double(sim_us_ - anchor_us_) * rate_ / 1000.0; }
  const int64_t& sim_us_;
  double anchor_ms_ = 1'000'000;
  int64_t anchor_us_ = 0;
  double rate_ = 1.0;
};

// Something that happens to one node at a simulated time. Ties in time are
// broken by the order of scheduling (sequence), so a run is reproducible.
struct Event {
  enum class Kind : uint8_t { tick, deliver, flush, chaos };
  int64_t time_us;
  uint64_t sequence;
  Kind kind;
  int node;
  int incarnation;
  std::unique_ptr<Message> message;  // deliver only; boxed to keep heap moves cheap
  bool operator>(const Event& o) const {
    return time_us != o.time_us ? time_us > o.time_us : sequence > o.sequence;
  }
};

// A log that claims every appended entry is durable at once: what a
// configuration acknowledging before fsync amounts to. The disk underneath
// still loses the unflushed tail on a crash. Only for SimOptions::
// ack_before_flush, which exists to show that the checkers catch it.
class AckBeforeFlushLog final : public Log {
 public:
  explicit AckBeforeFlushLog(InMemoryLog& disk) : disk_(disk) {}
  Offset first_index() const override { return disk_.first_index(); }
  Offset last_index() const override { return disk_.last_index(); }
  Offset flushed_index() const override { return disk_.last_index(); }
  std::optional<EntryBounds> entry_bounds(Offset index) const override { return disk_.entry_bounds(index); }
  Status append(std::vector<Entry> entries) override { return disk_.append(std::move(entries)); }
  Status truncate_suffix(Offset from) override { return disk_.truncate_suffix(from); }
  Result<std::vector<Entry>> read(Offset from, int64_t max_bytes, int32_t max_entries) const override {
    return disk_.read(from, max_bytes, max_entries);
  }
  Status reset(Offset base_index, Term base_term) override { return disk_.reset(base_index, base_term); }

 private:
  InMemoryLog& disk_;
};

class SimTransport final : public Transport {
 public:
  SimTransport(Simulation& sim, int from) : sim_(sim), from_(from) {}
  void send(NodeId to, Message message) override;

 private:
  Simulation& sim_;
  int from_;
};

// One simulated broker: its disk (log, durable state) survives crashes; its
// Consensus object does not.
struct Node {
  Node(Simulation& sim, int index, const int64_t& sim_us, bool ack_before_flush)
      : index(index),
        id(index + 1),
        consensus_log(ack_before_flush ? static_cast<Log&>(lying_log) : log),
        clock(sim_us),
        transport(sim, index) {}
  int index;
  NodeId id;
  InMemoryLog log;  // the disk: what survives a crash is what it flushed
  AckBeforeFlushLog lying_log{log};
  Log& consensus_log;  // what consensus sees: `log`, or `lying_log`
  InMemoryDurableState durable;
  SimClock clock;
  SimTransport transport;
  std::unique_ptr<Consensus> consensus;
  int incarnation = 0;
  bool flush_scheduled = false;
  int64_t messages_sent = 0;  // by this incarnation or an earlier one
  Role last_role = Role::follower;
  std::map<int64_t, Entry> pending;  // proposals by last index, awaiting apply
  // The applied index as of its last flush, kept across crashes: a
  // broker's committed checkpoint (RaftOptions::known_committed).
  std::optional<Offset> committed_checkpoint;
};

}  // namespace cairn::raft::sim
