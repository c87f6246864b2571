// Small pieces shared by kojod's HTTP handlers (http_server.cc, org_http.cc):
// JSON replies, the error body, query parameter checks.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <httplib.h>

#include "api/codec.h"
#include "controller/api_error.h"

namespace kojo::controller {

// `j` as text; invalid UTF-8 is replaced, never thrown on.
std::string Dump(const api::Json& j);
void SendJson(httplib::Response& res, int status, const api::Json& j);
// {"error": {"code", "message"}} with the code's HTTP status.
void SendError(httplib::Response& res, const ApiError& e);
// Up to 64 printable characters of untrusted text, for messages.
std::string Shown(std::string_view s);
// An error naming the first query parameter not in `allowed`.
std::optional<ApiError> OnlyParams(const httplib::Request& req, std::initializer_list<std::string_view> allowed);

}  // namespace kojo::controller
