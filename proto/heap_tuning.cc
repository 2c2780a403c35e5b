#include "proto/heap_tuning.h"

#include <malloc.h>

namespace cairn {

void keep_large_buffers_in_the_heap() {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

}  // namespace cairn
