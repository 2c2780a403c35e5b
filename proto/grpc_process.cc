#include "proto/grpc_process.h"

#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <mutex>

#include "cairn/v1/broker.grpc.pb.h"

namespace cairn {
namespace {

// One callback call takes the channel's reference on the shared queue;
// the channel keeps it until it is destroyed, which it never is. Port 1 on
// 127.0.0.1: nothing listens there, and the call fails at once.
struct Pin {
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  std::unique_ptr<v1::Broker::Stub> stub = v1::Broker::NewStub(channel);
  grpc::ClientContext context;
  v1::MetadataRequest request;
  v1::MetadataResponse response;

  Pin() {
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    stub->async()->Metadata(&context, &request, &response, [](grpc::Status) {});
  }
};

}  // namespace

void prepare_grpc_process() {
  static std::once_flag once;
  std::call_once(once, [] {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    // Reachable from a static for the process's life: not a leak.
    static Pin* pin = new Pin();
    (void)pin;
  });
}

}  // namespace cairn
