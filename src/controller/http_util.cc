#include "controller/http_util.h"

#include <algorithm>

#include <fmt/format.h>

namespace kojo::controller {

using api::Json;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

void SendJson(httplib::Response& res, int status, const Json& j) {
  res.status = status;
  res.set_content(Dump(j), "application/json");
}

void SendError(httplib::Response& res, const ApiError& e) {
  SendJson(res, HttpStatus(e.code), Json{{"error", {{"code", CodeName(e.code)}, {"message", e.message}}}});
}

std::string Shown(std::string_view s) {
  std::string out;
  for (char ch : s.substr(0, 64)) out += (ch >= 0x20 && ch < 0x7f && ch != '"') ? ch : '?';
  return out;
}

std::optional<ApiError> OnlyParams(const httplib::Request& req, std::initializer_list<std::string_view> allowed) {
  for (const auto& [k, v] : req.params)
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
      return ApiError{ApiCode::kInvalidArgument, fmt::format("{}: unknown query parameter", Shown(k))};
  return std::nullopt;
}

}  // namespace kojo::controller
