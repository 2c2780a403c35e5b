#pragma once

#include <cstdio>
#include <cstdlib>

// Checks an invariant in every build type and aborts loudly when it breaks:
// a broken invariant means lost or corrupt data, so going on is worse.
// Operating errors (disk full, a peer gone) are Statuses, never asserts.
#define CAIRN_ASSERT(cond)                                                             \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)
