#include "proto/thread_name.h"

#include <pthread.h>

#include <string>

namespace cairn {

void name_this_thread(std::string_view name) {
  std::string truncated(name.substr(0, 15));  // the kernel's limit, without the NUL
  pthread_setname_np(pthread_self(), truncated.c_str());
}

}  // namespace cairn
