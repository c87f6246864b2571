// Result<T>: a value or an Error, for everything that can fail for reasons
// outside the program (bad input, I/O, a peer). Exceptions never cross a
// module's API; asserts are for programmer errors only.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace kojo {

enum class ErrorCode {
  kInvalidArgument,  // the caller's input is malformed or out of range
  kNotFound,         // a named thing does not exist
  kIo,               // the file system or a peer failed
  kUnsupported,      // well-formed, but not something kojo does
};

struct Error {
  ErrorCode code = ErrorCode::kInvalidArgument;
  std::string message;  // for people: names the field and what was expected
};

inline Error InvalidArgument(std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}    // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void> equivalent.
struct Ok {};
using Status = Result<Ok>;

}  // namespace kojo
