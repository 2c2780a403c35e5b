#include "broker/raft/in_memory_log.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace cairn::raft {

namespace {

[[noreturn]] void invariant_failed(const char* what) {
  std::fprintf(stderr, "InMemoryLog invariant broken: %s\n", what);
  std::abort();
}

#define LOG_CHECK(cond) \
  do {                  \
    if (!(cond)) invariant_failed(#cond); \
  } while (0)

}  // namespace

Offset InMemoryLog::last_index() const {
  return entries_.empty() ? base_index_ : entries_.back().last;
}

int64_t InMemoryLog::position_of(Offset index) const {
  if (entries_.empty() || index < entries_.front().first || index > entries_.back().last) return -1;
  auto it = std::upper_bound(entries_.begin(), entries_.end(), index,
                             [](Offset i, const Entry& e) { return i < e.first; });
  return (it - entries_.begin()) - 1;
}

std::optional<EntryBounds> InMemoryLog::entry_bounds(Offset index) const {
  if (index == base_index_) return EntryBounds{base_index_, base_index_, base_term_};
  int64_t pos = position_of(index);
  if (pos < 0) return std::nullopt;
  const Entry& e = entries_[pos];
  return EntryBounds{e.first, e.last, e.term};
}

Status InMemoryLog::append(std::vector<Entry> entries) {
  for (Entry& e : entries) {
    LOG_CHECK(e.first == last_index() + 1);
    LOG_CHECK(e.first <= e.last);
    LOG_CHECK(e.term >= last_term());
    entries_.push_back(std::move(e));
    if (observer_.on_append) observer_.on_append(entries_.back());
  }
  check_invariants();
  return {};
}

Status InMemoryLog::truncate_suffix(Offset from) {
  LOG_CHECK(from > base_index_);
  if (from > last_index()) {
    LOG_CHECK(from == last_index() + 1);
    return {};
  }
  int64_t pos = position_of(from);
  LOG_CHECK(pos >= 0 && entries_[pos].first == from);
  if (observer_.on_truncate) observer_.on_truncate(from);
  entries_.resize(pos);
  flushed_index_ = std::min(flushed_index_, last_index());
  check_invariants();
  return {};
}

Result<std::vector<Entry>> InMemoryLog::read(Offset from, int64_t max_bytes,
                                             int32_t max_entries) const {
  int64_t pos = position_of(from);
  if (pos < 0 || entries_[pos].first != from) {
    return error(ErrorCode::offset_out_of_range, "no entry starts at {} (log [{}, {}])", from,
                 first_index(), last_index());
  }
  std::vector<Entry> out;
  int64_t bytes = 0;
  for (size_t i = pos; i < entries_.size() && std::ssize(out) < max_entries; ++i) {
    bytes += std::ssize(entries_[i].payload);
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(entries_[i]);
  }
  return out;
}

Status InMemoryLog::reset(Offset base_index, Term base_term) {
  LOG_CHECK(base_term >= base_term_);
  if (observer_.on_reset) observer_.on_reset(base_index);
  entries_.clear();
  base_index_ = base_index;
  base_term_ = base_term;
  flushed_index_ = base_index;
  check_invariants();
  return {};
}

bool InMemoryLog::flush_to(Offset index) {
  index = std::min(index, last_index());
  if (index <= flushed_index_) return false;
  int64_t pos = position_of(index);
  LOG_CHECK(pos >= 0);
  Offset end = entries_[pos].last == index ? index : entries_[pos].first - 1;
  if (end <= flushed_index_) return false;
  flushed_index_ = end;
  check_invariants();
  return true;
}

void InMemoryLog::crash() {
  auto keep = std::find_if(entries_.begin(), entries_.end(),
                           [&](const Entry& e) { return e.last > flushed_index_; });
  entries_.erase(keep, entries_.end());
  check_invariants();
}

void InMemoryLog::trim_prefix(Offset index) {
  LOG_CHECK(index <= flushed_index_);
  auto end = std::find_if(entries_.begin(), entries_.end(),
                          [&](const Entry& e) { return e.last > index; });
  if (end == entries_.begin()) return;
  base_index_ = std::prev(end)->last;
  base_term_ = std::prev(end)->term;
  entries_.erase(entries_.begin(), end);
  check_invariants();
}

void InMemoryLog::check_invariants() const {
  LOG_CHECK(base_index_ <= flushed_index_ && flushed_index_ <= last_index());
  if (entries_.empty()) return;
  LOG_CHECK(entries_.front().first == base_index_ + 1);
  LOG_CHECK(entries_.front().term >= base_term_);
  LOG_CHECK(entries_.back().term >= entries_.front().term);
  LOG_CHECK(flushed_index_ == base_index_ || entry_bounds(flushed_index_)->last == flushed_index_);
}

}  // namespace cairn::raft
