#pragma once

#include <cassert>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

#include "cairn/error_code.h"

namespace cairn {

// The outcome of an operation that can fail for operating reasons (bad input,
// a full disk, a missing partition). Programmer errors are asserted instead.
// Cheap when ok: no allocation.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return {}; }

  bool ok() const { return code_ == ErrorCode::ok; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "corrupt_batch: crc mismatch at ..." — for logs and user-facing errors.
  std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::ok;
  std::string message_;
};

// Thrown by Result::value() (and * and ->) on a failed Result; what() is
// the Status, as to_string() writes it.
class BadResultAccess : public std::runtime_error {
 public:
  explicit BadResultAccess(const Status& status) : std::runtime_error(status.to_string()), status_(status) {}
  const Status& status() const { return status_; }

 private:
  Status status_;
};

// A value or the Status that explains its absence. Check ok() first:
// the value of a failed Result throws BadResultAccess, which says why.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : state_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(state_).ok() && "a Result needs a value or an error");
  }

  bool ok() const { return std::holds_alternative<T>(state_); }
  Status status() const { return ok() ? Status() : std::get<Status>(state_); }

  T& value() & { return std::get<T>(checked()); }
  const T& value() const& { return std::get<T>(checked()); }
  T&& value() && { return std::get<T>(std::move(checked())); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status>& checked() {
    if (!ok()) throw BadResultAccess(std::get<Status>(state_));
    return state_;
  }
  const std::variant<T, Status>& checked() const {
    if (!ok()) throw BadResultAccess(std::get<Status>(state_));
    return state_;
  }

  std::variant<T, Status> state_;
};

}  // namespace cairn
