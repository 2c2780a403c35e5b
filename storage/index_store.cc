#include "storage/index_store.h"

#include <rocksdb/db.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <ctime>
#include <filesystem>
#include <limits>

#include <spdlog/spdlog.h>

#include "proto/byte_io.h"

namespace cairn::storage {
namespace {

// Key: <topic> 0x00 <partition be32> <kind> <payload>. Every key of a
// partition shares the prefix, so a partition is one contiguous range.
constexpr char kEpochKind = 'e';
constexpr char kMetaKind = 'm';
constexpr char kOffsetKind = 'o';
constexpr char kSummaryKind = 's';
constexpr char kTimeKind = 't';
// Bits of the metadata value's third word.
constexpr uint64_t kCleanShutdownFlag = 1;
constexpr uint64_t kSyncFailedFlag = 2;

std::string prefix(const TopicPartition& tp, char kind) {
  std::string key = tp.topic;
  key.push_back('\0');
  append_be<int32_t>(key, tp.partition);
  key.push_back(kind);
  return key;
}

std::string key_of(const TopicPartition& tp, char kind, uint64_t payload) {
  std::string key = prefix(tp, kind);
  append_be<uint64_t>(key, payload);
  return key;
}

// Timestamps may be negative; flipping the sign bit keeps byte order = numeric order.
uint64_t ordered(int64_t v) { return static_cast<uint64_t>(v) ^ (1ULL << 63); }
int64_t unordered(uint64_t v) { return static_cast<int64_t>(v ^ (1ULL << 63)); }

uint64_t payload_of(const rocksdb::Slice& key) {
  return load_be<uint64_t>(reinterpret_cast<const std::byte*>(key.data() + key.size() - 8));
}

uint64_t u64_at(const rocksdb::Slice& value, size_t index) {
  return load_be<uint64_t>(reinterpret_cast<const std::byte*>(value.data() + index * 8));
}

std::string encode_u64s(std::initializer_list<uint64_t> values) {
  std::string out;
  for (uint64_t v : values) append_be<uint64_t>(out, v);
  return out;
}

Status from_rocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return {};
  return error(ErrorCode::io_error, "index {}: {}", what, s.ToString());
}

TimeEntry time_entry_of(rocksdb::Iterator& it) {
  return {unordered(payload_of(it.key())), Offset(static_cast<int64_t>(u64_at(it.value(), 0)))};
}

}  // namespace

Result<std::unique_ptr<IndexStore>> IndexStore::open(const std::string& path, bool* rebuilt) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_background_jobs = 2;
  options.keep_log_file_num = 3;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, path, &raw);
  if (rebuilt) *rebuilt = false;
  if (!s.ok()) {
    // The index is rebuildable from the segments (and the bounds files
    // beside them): start afresh rather than refuse to serve the data, but
    // keep the damaged one for a person to look at.
    std::string aside = fmt::format("{}.damaged-{}", path, std::time(nullptr));
    std::error_code moved;
    std::filesystem::rename(path, aside, moved);
    if (moved) {
      return error(ErrorCode::io_error,
                   "the index at {} cannot be opened ({}) nor moved aside to {} ({}); move it "
                   "away yourself and start again to rebuild it from the segments",
                   path, s.ToString(), aside, moved.message());
    }
    spdlog::error("the index at {} cannot be opened ({}); moved it to {} and rebuilding it "
                  "from the segments (delete that folder once you no longer need it)",
                  path, s.ToString(), aside);
    s = rocksdb::DB::Open(options, path, &raw);
    if (!s.ok()) return from_rocks(s, "open");
    if (rebuilt) *rebuilt = true;
  }
  return std::unique_ptr<IndexStore>(new IndexStore(std::unique_ptr<rocksdb::DB>(raw)));
}

IndexStore::IndexStore(std::unique_ptr<rocksdb::DB> db) : db_(std::move(db)) {}
IndexStore::~IndexStore() = default;

Status IndexStore::write(const TopicPartition& tp, const IndexUpdate& update, bool sync) {
  if (fail_writes_) return error(ErrorCode::io_error, "index write failed (injected by a test)");
  rocksdb::WriteBatch batch;
  if (update.cleared_offsets) {
    const auto& [from, to] = *update.cleared_offsets;
    batch.DeleteRange(key_of(tp, kOffsetKind, static_cast<uint64_t>(from.value)),
                      key_of(tp, kOffsetKind, static_cast<uint64_t>(to.value)));
  }
  for (const auto& e : update.offset_entries) {
    batch.Put(key_of(tp, kOffsetKind, static_cast<uint64_t>(e.offset.value)),
              encode_u64s({e.position}));
  }
  for (const auto& e : update.time_entries) {
    batch.Put(key_of(tp, kTimeKind, ordered(e.timestamp_ms)),
              encode_u64s({static_cast<uint64_t>(e.offset.value)}));
  }
  for (const auto& [base, s] : update.summaries) {
    batch.Put(key_of(tp, kSummaryKind, static_cast<uint64_t>(base.value)),
              encode_u64s({s.size_bytes, static_cast<uint64_t>(s.next_offset.value),
                           static_cast<uint64_t>(s.max_timestamp_ms)}));
  }
  if (update.meta) {
    const PartitionMeta& m = *update.meta;
    batch.Put(prefix(tp, kMetaKind),
              encode_u64s({static_cast<uint64_t>(m.log_start.value),
                           static_cast<uint64_t>(m.flushed.value),
                           (m.clean_shutdown ? kCleanShutdownFlag : 0) |
                               (m.sync_failed ? kSyncFailedFlag : 0),
                           static_cast<uint64_t>(m.compacted_end.value),
                           static_cast<uint64_t>(m.committed_end.value)}));
  }
  if (update.epochs) {
    std::string value;
    for (const auto& e : *update.epochs) {
      append_be<uint64_t>(value, static_cast<uint64_t>(e.term.value));
      append_be<uint64_t>(value, static_cast<uint64_t>(e.start.value));
    }
    batch.Put(prefix(tp, kEpochKind), value);
  }
  rocksdb::WriteOptions options;
  options.sync = sync;
  CAIRN_RETURN_IF_ERROR(from_rocks(db_->Write(options, &batch), "write"));
  if (sync && synced_write_listener_) synced_write_listener_();
  return {};
}

Status IndexStore::checkpoint(const std::string& dir) const {
  rocksdb::Checkpoint* raw = nullptr;
  CAIRN_RETURN_IF_ERROR(from_rocks(rocksdb::Checkpoint::Create(db_.get(), &raw), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // Copies the live WAL rather than flushing the memtable: a cheap, exact
  // image of what the WAL holds now.
  return from_rocks(checkpoint->CreateCheckpoint(dir, std::numeric_limits<uint64_t>::max()),
                    "checkpoint");
}

std::optional<OffsetEntry> IndexStore::floor_offset_entry(const TopicPartition& tp,
                                                          Offset offset) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::string lower = prefix(tp, kOffsetKind);
  it->SeekForPrev(key_of(tp, kOffsetKind, static_cast<uint64_t>(offset.value)));
  if (!it->Valid() || !it->key().starts_with(lower)) return std::nullopt;
  return OffsetEntry{Offset(static_cast<int64_t>(payload_of(it->key()))), u64_at(it->value(), 0)};
}

std::optional<TimeEntry> IndexStore::time_entry_before(const TopicPartition& tp,
                                                       int64_t timestamp_ms) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::string lower = prefix(tp, kTimeKind);
  it->SeekForPrev(key_of(tp, kTimeKind, ordered(timestamp_ms)));
  // SeekForPrev lands on a key <= target; we want strictly below.
  if (it->Valid() && it->key().starts_with(lower) && unordered(payload_of(it->key())) == timestamp_ms) {
    it->Prev();
  }
  if (!it->Valid() || !it->key().starts_with(lower)) return std::nullopt;
  return time_entry_of(*it);
}

std::optional<TimeEntry> IndexStore::last_time_entry_below(const TopicPartition& tp,
                                                           Offset offset) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::string lower = prefix(tp, kTimeKind);
  it->SeekForPrev(key_of(tp, kTimeKind, ~0ULL));
  // Time entries are monotonic in both timestamp and offset: walk back from
  // the newest; entries at or above `offset` are few (the unflushed tail).
  for (; it->Valid() && it->key().starts_with(lower); it->Prev()) {
    TimeEntry entry = time_entry_of(*it);
    if (entry.offset < offset) return entry;
  }
  return std::nullopt;
}

Status IndexStore::delete_entries_from(const TopicPartition& tp, Offset offset) {
  rocksdb::WriteBatch batch;
  batch.DeleteRange(key_of(tp, kOffsetKind, static_cast<uint64_t>(offset.value)),
                    key_of(tp, kOffsetKind, ~0ULL));
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::string lower = prefix(tp, kTimeKind);
  for (it->SeekForPrev(key_of(tp, kTimeKind, ~0ULL)); it->Valid() && it->key().starts_with(lower);
       it->Prev()) {
    if (time_entry_of(*it).offset < offset) break;
    batch.Delete(it->key());
  }
  return from_rocks(db_->Write(rocksdb::WriteOptions(), &batch), "delete");
}

Status IndexStore::delete_entries_below(const TopicPartition& tp, Offset offset) {
  rocksdb::WriteBatch batch;
  batch.DeleteRange(key_of(tp, kOffsetKind, 0), key_of(tp, kOffsetKind, static_cast<uint64_t>(offset.value)));
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::string lower = prefix(tp, kTimeKind);
  // Keep the newest entry below `offset`: it is the running max where the
  // remaining log starts.
  std::string previous;
  for (it->Seek(lower); it->Valid() && it->key().starts_with(lower); it->Next()) {
    if (time_entry_of(*it).offset >= offset) break;
    if (!previous.empty()) batch.Delete(previous);
    previous = it->key().ToString();
  }
  return from_rocks(db_->Write(rocksdb::WriteOptions(), &batch), "delete");
}

std::optional<SegmentSummary> IndexStore::summary(const TopicPartition& tp,
                                                  Offset segment_base) const {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(),
                    key_of(tp, kSummaryKind, static_cast<uint64_t>(segment_base.value)), &value);
  if (!s.ok() || value.size() != 24) return std::nullopt;
  return SegmentSummary{u64_at(value, 0), Offset(static_cast<int64_t>(u64_at(value, 1))),
                        static_cast<int64_t>(u64_at(value, 2))};
}

Status IndexStore::delete_summary(const TopicPartition& tp, Offset segment_base) {
  return from_rocks(db_->Delete(rocksdb::WriteOptions(),
                                key_of(tp, kSummaryKind, static_cast<uint64_t>(segment_base.value))),
                    "delete");
}

std::optional<PartitionMeta> IndexStore::meta(const TopicPartition& tp) const {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), prefix(tp, kMetaKind), &value);
  // Three words before compacted_end was added, four before committed_end, five since.
  if (!s.ok() || (value.size() != 24 && value.size() != 32 && value.size() != 40)) return std::nullopt;
  uint64_t flags = u64_at(value, 2);
  Offset compacted_end(value.size() >= 32 ? static_cast<int64_t>(u64_at(value, 3)) : 0);
  Offset committed_end(value.size() >= 40 ? static_cast<int64_t>(u64_at(value, 4)) : 0);
  return PartitionMeta{Offset(static_cast<int64_t>(u64_at(value, 0))),
                       Offset(static_cast<int64_t>(u64_at(value, 1))),
                       (flags & kCleanShutdownFlag) != 0, (flags & kSyncFailedFlag) != 0,
                       compacted_end, committed_end};
}

std::vector<EpochEntry> IndexStore::epochs(const TopicPartition& tp) const {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), prefix(tp, kEpochKind), &value);
  std::vector<EpochEntry> out;
  if (!s.ok() || value.size() % 16 != 0) return out;
  for (size_t i = 0; i < value.size() / 8; i += 2) {
    out.push_back({Term(static_cast<int64_t>(u64_at(value, i))),
                   Offset(static_cast<int64_t>(u64_at(value, i + 1)))});
  }
  return out;
}

Status IndexStore::drop_partition(const TopicPartition& tp) {
  std::string begin = prefix(tp, '\0');
  std::string end = prefix(tp, '\xff');
  // Synced: a topic recreated after a power loss must not inherit the old
  // partition's log start.
  rocksdb::WriteOptions options;
  options.sync = true;
  CAIRN_RETURN_IF_ERROR(
      from_rocks(db_->DeleteRange(options, db_->DefaultColumnFamily(), begin, end), "delete"));
  if (synced_write_listener_) synced_write_listener_();
  return {};
}

size_t IndexStore::count_offset_entries(const TopicPartition& tp) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::string lower = prefix(tp, kOffsetKind);
  size_t n = 0;
  for (it->Seek(lower); it->Valid() && it->key().starts_with(lower); it->Next()) ++n;
  return n;
}

}  // namespace cairn::storage
