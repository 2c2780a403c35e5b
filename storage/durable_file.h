#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "proto/status.h"
#include "storage/env.h"

namespace cairn::storage {

// Small files that must never be seen half-written (a partition's bounds,
// a Raft group's term and vote).

// Replaces `path` with `contents`, atomically and durably: writes a
// temporary beside it, syncs it, renames it over `path`, syncs the folder.
// A crash at any point leaves the old file or the new one, never a mix.
Status replace_file_durably(Env& env, const std::string& path, std::string_view contents);

// The whole of a file of at most `max_bytes`; none if it does not exist.
// A larger file is an error naming it.
Result<std::optional<std::string>> read_small_file(Env& env, const std::string& path,
                                                   size_t max_bytes);

}  // namespace cairn::storage
