#pragma once

namespace cairn {

// Readies the process for gRPC 1.51 as Debian 12 builds it. Idempotent and
// cheap; call it before making channels or servers. It fixes two things:
//
// - A race: every channel and server that uses the callback API shares one
//   process-wide completion queue (CallbackAlternativeCQ), reference-counted,
//   shut down when the last user goes and started again by the next. A
//   channel destroyed as another is created can hit that window, and gRPC
//   aborts ("assertion failed: prior > 0" in grpc_cq_internal_unref), as
//   brokers' Raft links and test servers come and go. One channel that
//   lives as long as the process keeps the count above zero.
// - A cost: Debian builds Abseil without NDEBUG, so each absl::Mutex lock
//   and unlock inside gRPC (several per message) also runs Abseil's debug
//   deadlock detector, which updates a process-wide lock graph behind a
//   global spin lock. It is turned off.
void prepare_grpc_process();

}  // namespace cairn
