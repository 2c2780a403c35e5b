#pragma once

namespace cairn {

// Produce requests and fetch responses are buffers of megabytes, which
// glibc would map and unmap one by one, and trim from the heap when freed:
// every byte of every request then costs a page fault and a page clearing.
// On a VM that pays for each fault in the hypervisor this tripled the cost
// of a send (README, "Memory"). Called first thing by cairnd and
// cairn: large blocks come from the heap, and freed memory stays there for
// the next request. Process-wide, so the client library leaves it to the
// application.
void keep_large_buffers_in_the_heap();

}  // namespace cairn
