// Compiled only to produce the precompiled catch.hpp that the raft test
// executables reuse (see CMakeLists.txt).
