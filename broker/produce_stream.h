#pragma once

#include <grpcpp/grpcpp.h>

#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "broker/produce_handler.h"
#include "cairn/v1/broker.pb.h"

namespace cairn::broker {

// One ProduceStream RPC. Requests are appended in the order they arrive on
// the stream — so a producer may keep many in flight without reordering a
// partition — and answered as each is acknowledged (by request_id, possibly
// out of order across requests).
//
// Bounded: at most kMaxInFlight requests per stream are unacknowledged;
// beyond that the stream stops reading (gRPC flow control pushes back on
// the producer). Finishes once the client half-closes and every request is
// answered; deletes itself in OnDone. Reactions and acknowledgement
// callbacks may run on any thread; state is guarded by one mutex.
class ProduceStreamReactor final
    : public grpc::ServerBidiReactor<v1::ProduceRequest, v1::ProduceResponse> {
 public:
  static constexpr size_t kMaxInFlight = 64;

  ProduceStreamReactor(ProduceHandler& handler, grpc::CallbackServerContext* context);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  struct Exchange {
    v1::ProduceRequest request;
    v1::ProduceResponse response;
  };

  void acknowledged(Exchange* exchange);
  // Decides, under the mutex, what to start next, unlocks, and starts it.
  // Returns with the mutex released; callers must not touch the reactor
  // afterwards (a Finish may already have deleted it).
  void pump(std::unique_lock<std::mutex>& lock);

  ProduceHandler& handler_;
  grpc::CallbackServerContext* const context_;
  std::mutex mutex_;
  v1::ProduceRequest incoming_;
  std::map<Exchange*, std::unique_ptr<Exchange>> in_flight_;
  std::deque<Exchange*> to_write_;
  bool reading_ = false;
  bool reads_done_ = false;
  bool writing_ = false;
  bool broken_ = false;  // a write failed: the client is gone
  bool finished_ = false;
};

}  // namespace cairn::broker
