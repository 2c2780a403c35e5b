#pragma once

namespace cairn {

// Works around a race in gRPC 1.51 (Debian 12's): every channel and server
// that uses the callback API shares one process-wide completion queue
// (CallbackAlternativeCQ), reference-counted, shut down when the last user
// goes and started again by the next. A channel destroyed as another is
// created can hit that window, and gRPC aborts ("assertion failed: prior >
// 0" in grpc_cq_internal_unref) — seen when brokers' Raft links and test
// servers come and go. Pinning the queue with one channel that lives as
// long as the process keeps the count above zero. Idempotent and cheap;
// call it before making callback channels or servers.
void pin_grpc_callback_queue();

}  // namespace cairn
