#pragma once

#include <cstddef>
#include <cstdint>

// The record-batch byte layout: Apache Kafka's RecordBatch v2, big-endian.
// docs/record_batch.md describes it byte by byte. Fields before kCrcStart
// (base offset, length, leader epoch, magic, crc) are outside the CRC, so the
// broker can stamp the base offset and term without recomputing it.
namespace cairn::batch_format {

constexpr size_t kBaseOffsetPos = 0;            // int64
constexpr size_t kBatchLengthPos = 8;           // int32: bytes after this field
constexpr size_t kLeaderEpochPos = 12;          // int32: Raft term of the appending leader
constexpr size_t kMagicPos = 16;                // int8: always kMagic
constexpr size_t kCrcPos = 17;                  // uint32: CRC-32C of [kCrcStart, end)
constexpr size_t kAttributesPos = 21;           // int16
constexpr size_t kLastOffsetDeltaPos = 23;      // int32
constexpr size_t kBaseTimestampPos = 27;        // int64: ms since the Unix epoch
constexpr size_t kMaxTimestampPos = 35;         // int64
constexpr size_t kProducerIdPos = 43;           // int64: -1 without idempotence
constexpr size_t kProducerEpochPos = 51;        // int16
constexpr size_t kBaseSequencePos = 53;         // int32
constexpr size_t kRecordCountPos = 57;          // int32
constexpr size_t kHeaderSize = 61;              // records (maybe compressed) follow

constexpr size_t kCrcStart = kAttributesPos;
constexpr size_t kLengthFieldEnd = kLeaderEpochPos;  // batch size = batch length + this
constexpr int8_t kMagic = 2;

// attributes
constexpr int16_t kCompressionMask = 0x07;
constexpr int16_t kTimestampTypeBit = 0x08;   // 0 create time, 1 log-append time
constexpr int16_t kTransactionalBit = 0x10;
constexpr int16_t kControlBit = 0x20;

// Smallest possible record: length, attributes, ts delta, offset delta,
// key length, value length, header count: one byte each at least.
constexpr size_t kMinRecordSize = 7;

static_assert(kBatchLengthPos == kBaseOffsetPos + 8);
static_assert(kLeaderEpochPos == kBatchLengthPos + 4);
static_assert(kMagicPos == kLeaderEpochPos + 4);
static_assert(kCrcPos == kMagicPos + 1);
static_assert(kAttributesPos == kCrcPos + 4);
static_assert(kLastOffsetDeltaPos == kAttributesPos + 2);
static_assert(kBaseTimestampPos == kLastOffsetDeltaPos + 4);
static_assert(kMaxTimestampPos == kBaseTimestampPos + 8);
static_assert(kProducerIdPos == kMaxTimestampPos + 8);
static_assert(kProducerEpochPos == kProducerIdPos + 8);
static_assert(kBaseSequencePos == kProducerEpochPos + 2);
static_assert(kRecordCountPos == kBaseSequencePos + 4);
static_assert(kHeaderSize == kRecordCountPos + 4);
static_assert(kHeaderSize == 61, "Kafka RecordBatch v2 header is 61 bytes");

}  // namespace cairn::batch_format
