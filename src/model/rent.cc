#include "model/rent.h"

#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

namespace kojo {

std::string FormatMoney(Money m) {
  const bool neg = m < 0;
  const std::uint64_t a = neg ? static_cast<std::uint64_t>(-(m + 1)) + 1 : static_cast<std::uint64_t>(m);
  const std::uint64_t cents = (a + 5'000) / 10'000;  // half away from zero
  return fmt::format("{}{}.{:02}", neg && cents > 0 ? "-" : "", cents / 100, cents % 100);
}

std::optional<Money> ParseMoney(std::string_view text) {
  if (text.empty()) return std::nullopt;
  Money whole = 0, frac = 0;
  size_t i = 0;
  bool digits = false;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (whole > (INT64_MAX / 10 - 9) / kMoneyUnit) return std::nullopt;
    whole = whole * 10 + (text[i] - '0');
    digits = true;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    Money scale = kMoneyUnit / 10;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (scale == 0) return std::nullopt;  // more than 6 decimals
      frac += (text[i] - '0') * scale;
      scale /= 10;
      digits = true;
    }
  }
  if (!digits || i != text.size()) return std::nullopt;
  return whole * kMoneyUnit + frac;
}

std::optional<Money> MoneyFromDouble(double v) {
  if (!std::isfinite(v) || v < 0 || v > 9e12) return std::nullopt;
  return static_cast<Money>(std::llround(v * static_cast<double>(kMoneyUnit)));
}

Money RentFor(Money price_per_gpu_hour, int gpus, Seconds seconds) {
  if (price_per_gpu_hour <= 0 || gpus <= 0 || seconds <= 0) return 0;
  // price x gpus x seconds / 3600, rounded up, in two parts against overflow.
  const Money per_hour = price_per_gpu_hour * gpus;
  return per_hour * (seconds / 3600) + (per_hour * (seconds % 3600) + 3599) / 3600;
}

const Provider* RentPolicy::FindProvider(std::string_view name) const {
  for (const auto& p : providers)
    if (p.name == name) return &p;
  return nullptr;
}

std::string RentAccountName(bool programme, std::string_view name) {
  return fmt::format("{} {}", programme ? "programme" : "project", name);
}

}  // namespace kojo
