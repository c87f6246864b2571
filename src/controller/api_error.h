// Errors of the REST API and their HTTP statuses, mapped in one place.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "common/result.h"

namespace kojo::controller {

enum class ApiCode {
  kInvalidArgument,   // 400: malformed JSON, unknown field, bad value
  kUnauthorized,      // 401: missing or wrong token
  kForbidden,         // 403: a valid token whose role or project may not do this
  kNotFound,          // 404: unknown job, node or route
  kConflict,          // 409: the state does not allow the change
  kPayloadTooLarge,   // 413
  kUnschedulable,     // 422: no node of the cluster can ever run the job
  kInternal,          // 500
  kBadGateway,        // 502: an agent did not answer
  kUnavailable,       // 503: the change could not be made durable (yet); retry, with the same Idempotency-Key
};

struct ApiError {
  ApiCode code = ApiCode::kInvalidArgument;
  std::string message;
};

int HttpStatus(ApiCode code);
std::string_view CodeName(ApiCode code);  // "invalid_argument", ...

inline ApiError FromError(const Error& e) {
  switch (e.code) {
    case ErrorCode::kInvalidArgument: return {ApiCode::kInvalidArgument, e.message};
    case ErrorCode::kNotFound: return {ApiCode::kNotFound, e.message};
    case ErrorCode::kIo: return {ApiCode::kInternal, e.message};
    case ErrorCode::kUnsupported: return {ApiCode::kInvalidArgument, e.message};
  }
  return {ApiCode::kInternal, e.message};
}

// A change that could not be made durable (the store's error): 503, not
// acknowledged. The change stays queued in memory and its write is retried
// (store/group_commit.h), so it may still take effect: a submission is
// retried safely with the same Idempotency-Key (`keyed`).
inline ApiError NotDurable(const Error& e, std::string_view what, bool keyed = false) {
  return {ApiCode::kUnavailable, std::string(what) + " could not be made durable (" + e.message +
                                     "); it is not acknowledged and may or may not take effect: retry it" +
                                     (keyed ? " with the same Idempotency-Key" : "")};
}

// A value or an ApiError.
template <typename T>
class [[nodiscard]] Outcome {
 public:
  Outcome(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Outcome(ApiError error) : v_(std::move(error)) {}  // NOLINT: implicit by design
  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  const ApiError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, ApiError> v_;
};

}  // namespace kojo::controller
