#include "produce_request_buffer.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>

namespace cairn::client {

namespace {

using google::protobuf::internal::WireFormatLite;

// The tag and length that open a length-delimited field, appended to `out`.
void append_field_header(std::string& out, int field, size_t length) {
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.WriteTag(WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  coded.WriteVarint32(static_cast<uint32_t>(length));
}

grpc::Slice shared_slice(std::shared_ptr<const std::string> bytes) {
  auto* owner = new std::shared_ptr<const std::string>(std::move(bytes));
  return grpc::Slice(const_cast<char*>((*owner)->data()), (*owner)->size(),
                     [](void* p) { delete static_cast<std::shared_ptr<const std::string>*>(p); }, owner);
}

}  // namespace

ProduceRequestBuffer::ProduceRequestBuffer(v1::Acks acks, int32_t timeout_ms, uint64_t request_id) {
  v1::ProduceRequest fields;
  fields.set_acks(acks);
  fields.set_timeout_ms(timeout_ms);
  fields.set_request_id(request_id);
  pending_ = fields.SerializeAsString();
}

void ProduceRequestBuffer::add(const TopicPartition& tp, std::shared_ptr<const std::string> batch) {
  v1::PartitionProduce head;
  head.set_topic(tp.topic);
  head.set_partition(tp.partition);
  std::string entry = head.SerializeAsString();
  append_field_header(entry, v1::PartitionProduce::kBatchesFieldNumber, batch->size());
  append_field_header(pending_, v1::ProduceRequest::kPartitionsFieldNumber, entry.size() + batch->size());
  pending_ += entry;
  flush_pending();
  slices_.push_back(shared_slice(std::move(batch)));
}

void ProduceRequestBuffer::flush_pending() {
  if (pending_.empty()) return;
  slices_.emplace_back(pending_);
  pending_.clear();
}

grpc::ByteBuffer ProduceRequestBuffer::build() && {
  flush_pending();
  grpc::ByteBuffer bytes(slices_.data(), slices_.size());
  slices_.clear();  // the buffer holds its own references
  return bytes;
}

}  // namespace cairn::client
