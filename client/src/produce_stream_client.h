#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "cairn/v1/broker.grpc.pb.h"  // also protobuf messages' gRPC serialisation

namespace cairn::client {

// The client end of one ProduceStream RPC to one broker: queues requests
// and writes them one at a time in order; hands each response to
// `on_response` and the final status to `on_done` (both on gRPC threads).
// After on_done returns, done() turns true and the owner may delete it.
//
// Requests go as their wire bytes (ProduceRequestBuffer), through gRPC's
// generic stub: the generated one would serialise a ProduceRequest, copying
// every batch once more.
class ProduceStreamClient final
    : public grpc::ClientBidiReactor<grpc::ByteBuffer, v1::ProduceResponse> {
 public:
  ProduceStreamClient(const std::shared_ptr<grpc::Channel>& channel,
                      std::function<void(v1::ProduceResponse&)> on_response,
                      std::function<void(const grpc::Status&)> on_done);

  // Queues a request (a serialised cairn.v1.ProduceRequest); false if the
  // stream already ended (the request was not taken: send it elsewhere).
  bool send(std::unique_ptr<grpc::ByteBuffer>& request);
  // No more requests: half-closes once the queue is written. No-op once ended.
  void close();
  bool done() const { return done_.load(); }
  // Ends the stream now (a broker that stopped answering): on_done follows
  // with CANCELLED, the requests still in flight unanswered.
  void cancel() { context_.TryCancel(); }

  void OnWriteDone(bool ok) override;
  void OnWritesDoneDone(bool ok) override {}
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  void write_next_locked(std::unique_lock<std::mutex>& lock);
  // Drops the hold taken at construction, once; returns unlocked.
  void release_hold(std::unique_lock<std::mutex>& lock);

  grpc::TemplatedGenericStub<grpc::ByteBuffer, v1::ProduceResponse> stub_;
  grpc::ClientContext context_;
  v1::ProduceResponse response_;
  std::function<void(v1::ProduceResponse&)> on_response_;
  std::function<void(const grpc::Status&)> on_done_;
  std::mutex mutex_;
  std::deque<std::unique_ptr<grpc::ByteBuffer>> queue_;
  bool writing_ = false;
  bool closing_ = false;
  bool write_failed_ = false;
  bool ended_ = false;  // no more writes may start (closed, broken, or read side over)
  bool hold_released_ = false;
  std::atomic<bool> done_{false};
};

}  // namespace cairn::client
