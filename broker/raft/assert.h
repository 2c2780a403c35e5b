#pragma once

#include <cstdio>
#include <cstdlib>

// Checks an invariant of the consensus state in every build type and aborts
// loudly when it breaks: a broken invariant means lost or corrupt data.
#define RAFT_ASSERT(cond)                                                              \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: raft invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)
