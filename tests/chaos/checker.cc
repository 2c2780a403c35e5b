#include "checker.h"

#include <fmt/format.h>

#include <set>

namespace cairn::chaos {
namespace {

constexpr size_t kExamples = 10;

void note(Verdict& verdict, std::string problem) {
  if (verdict.examples.size() < kExamples) verdict.examples.push_back(std::move(problem));
}

// One log per partition from every replica's, checking that they agree.
std::map<int32_t, std::map<int64_t, std::string>> merge(const ReplicaContents& replicas, Verdict& verdict) {
  std::map<int32_t, std::map<int64_t, std::pair<std::string, int32_t>>> merged;  // value, first broker holding it
  for (const auto& [broker, partitions] : replicas) {
    for (const auto& [partition, records] : partitions) {
      for (const auto& [offset, value] : records) {
        auto [it, first] = merged[partition].try_emplace(offset, value, broker);
        if (!first && it->second.first != value) {
          ++verdict.inconsistent;
          note(verdict, fmt::format("partition {} offset {}: broker {} holds {}, broker {} holds {}", partition,
                                    offset, it->second.second, it->second.first, broker, value));
        }
      }
    }
  }
  std::map<int32_t, std::map<int64_t, std::string>> out;
  for (const auto& [partition, records] : merged) {
    for (const auto& [offset, held] : records) out[partition][offset] = held.first;
  }
  return out;
}

// At least once, and never again once done: every acknowledged record
// reached the queue's worker, and none came again after the worker was told
// its acceptance was durable.
void check_queue(const History& history, const std::map<std::string, int32_t>& sent,
                 const std::map<std::string, History::Acknowledged>& acknowledged, Verdict& verdict) {
  std::set<std::string> delivered, accepted;
  for (const auto& event : history.queue_events()) {
    if (event.delivery_count == 0) {
      ++verdict.accepted;
      accepted.insert(event.value);
      continue;
    }
    ++verdict.deliveries;
    if (!delivered.insert(event.value).second) ++verdict.redeliveries;
    if (accepted.count(event.value)) {
      ++verdict.delivered_after_accept;
      note(verdict, fmt::format("the queue handed out {} (delivery {}) after its acceptance was durable", event.value,
                                event.delivery_count));
    }
    if (!sent.count(event.value)) {
      ++verdict.never_sent;
      note(verdict, fmt::format("the queue handed out {}, which no producer sent", event.value));
    }
  }
  for (const auto& [value, where] : acknowledged) {
    if (delivered.count(value)) continue;
    ++verdict.never_delivered;
    note(verdict, fmt::format("{} (partition {} offset {}) was never handed to the queue's worker", value,
                              where.partition, where.offset));
  }
}

}  // namespace

Verdict check(const History& history, const ReplicaContents& replicas) {
  Verdict verdict;
  auto log = merge(replicas, verdict);
  auto sent = history.sent_values();
  auto acknowledged = history.acknowledged_values();
  auto failed = history.failed_values();
  verdict.sent = sent.size();
  verdict.acknowledged = acknowledged.size();
  verdict.unknown = failed.size();

  std::map<std::string, size_t> copies;
  for (const auto& [partition, records] : log) {
    for (const auto& [offset, value] : records) {
      ++verdict.records;
      if (++copies[value] == 2) {
        ++verdict.duplicates;
        note(verdict, fmt::format("{} is in partition {} more than once (again at {})", value, partition, offset));
      }
      if (!sent.count(value)) {
        ++verdict.never_sent;
        note(verdict, fmt::format("partition {} offset {} holds {}, which no producer sent", partition, offset, value));
      }
    }
  }
  for (const auto& [value, where] : acknowledged) {
    auto partition = log.find(where.partition);
    bool there = partition != log.end() && partition->second.count(where.offset) &&
                 partition->second.at(where.offset) == value;
    if (!there) {
      ++verdict.lost;
      note(verdict, fmt::format("{} was acknowledged at partition {} offset {}, which holds {}", value,
                                where.partition, where.offset,
                                partition != log.end() && partition->second.count(where.offset)
                                    ? partition->second.at(where.offset)
                                    : std::string("nothing")));
    }
  }
  for (const auto& [value, why] : failed) {
    if (copies.count(value)) ++verdict.unknown_written;
  }

  std::map<std::pair<int, int32_t>, int64_t> last_read;  // consumer, partition -> offset
  auto reads = history.reads();
  verdict.reads = reads.size();
  for (const auto& read : reads) {
    auto [last, first] = last_read.try_emplace({read.consumer, read.partition}, read.offset);
    if (!first) {
      if (read.offset <= last->second) {
        ++verdict.reads_out_of_order;
        note(verdict, fmt::format("consumer {} read partition {} offset {} after {}", read.consumer,
                                  read.partition, read.offset, last->second));
      }
      last->second = read.offset;
    }
    auto partition = log.find(read.partition);
    bool held = partition != log.end() && partition->second.count(read.offset) &&
                partition->second.at(read.offset) == read.value;
    if (!sent.count(read.value)) {
      ++verdict.never_sent;
      note(verdict, fmt::format("consumer {} read {}, which no producer sent", read.consumer, read.value));
    } else if (!held) {
      ++verdict.misread;
      note(verdict, fmt::format("consumer {} read {} at partition {} offset {}, which now holds {}", read.consumer,
                                read.value, read.partition, read.offset,
                                partition != log.end() && partition->second.count(read.offset)
                                    ? partition->second.at(read.offset)
                                    : std::string("nothing")));
    }
  }

  for (const auto& [group, partitions] : history.commits()) {
    for (const auto& [partition, offsets] : partitions) {
      for (size_t i = 1; i < offsets.size(); ++i) {
        if (offsets[i] < offsets[i - 1]) {
          ++verdict.commits_backwards;
          note(verdict, fmt::format("group {} committed {} for partition {} after {}", group, offsets[i],
                                    partition, offsets[i - 1]));
        }
      }
    }
  }
  check_queue(history, sent, acknowledged, verdict);
  return verdict;
}

std::string Verdict::summary() const {
  std::string out = fmt::format(
      "sent {}, acknowledged {}, unknown {} ({} of them written), reads {}, records in the log {}\n"
      "lost {}, inconsistent offsets {}, never sent {}, dirty reads {}, reads out of order {}, "
      "commits backwards {}, duplicates {}, replicas behind {}\n"
      "queue: deliveries {} ({} again), acceptances {}; handed out after a durable acceptance {}, never handed "
      "out {}, partitions not finished {}\n",
      sent, acknowledged, unknown, unknown_written, reads, records, lost, inconsistent, never_sent, misread,
      reads_out_of_order, commits_backwards, duplicates, replicas_behind, deliveries, redeliveries, accepted,
      delivered_after_accept, never_delivered, queue_unfinished);
  for (const auto& example : examples) out += "  " + example + "\n";
  return out;
}

}  // namespace cairn::chaos
