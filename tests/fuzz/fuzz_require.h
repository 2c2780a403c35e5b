#pragma once

#include <cstdio>
#include <cstdlib>

// A property of a fuzz target: when it breaks, name it and abort, so
// libFuzzer keeps the input as a crash.
#define FUZZ_REQUIRE(condition)                                                  \
  do {                                                                           \
    if (!(condition)) {                                                          \
      std::fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                              \
    }                                                                            \
  } while (0)
