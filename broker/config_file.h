#pragma once

#include <set>
#include <string>

#include "proto/status.h"

namespace cairn::broker {

// Checks a `cairnd --config` file before its values are used: every line is
// blank, a comment ('#' or ';' first), or `key = value` with `key` one of
// `known_keys` (long flag names without the dashes). Anything else is
// refused as "<path>:<line>: ...", so a typo never silently falls back to a
// default. Values are checked by the flag parser, which names the flag.
Status check_config_file(const std::string& path, const std::set<std::string>& known_keys);

}  // namespace cairn::broker
