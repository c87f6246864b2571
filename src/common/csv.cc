#include "common/csv.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace kojo {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

// Rows point back to their table: a move must re-point them.
CsvTable::CsvTable(CsvTable&& o) noexcept
    : name_(std::move(o.name_)), text_(std::move(o.text_)), unquoted_(std::move(o.unquoted_)),
      header_(std::move(o.header_)), rows_(std::move(o.rows_)) {
  Relink();
}
CsvTable& CsvTable::operator=(CsvTable&& o) noexcept {
  name_ = std::move(o.name_);
  text_ = std::move(o.text_);
  unquoted_ = std::move(o.unquoted_);
  header_ = std::move(o.header_);
  rows_ = std::move(o.rows_);
  Relink();
  return *this;
}
CsvTable::~CsvTable() = default;

void CsvTable::Relink() {
  for (auto& r : rows_) r.table_ = this;
}

Error CsvTable::ErrorAt(int line, std::string_view message) const {
  return InvalidArgument(fmt::format("{}:{}: {}", name_, line, message));
}

Result<CsvTable> CsvTable::Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{ErrorCode::kNotFound, fmt::format("{}: cannot open file", path)};
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Error{ErrorCode::kIo, fmt::format("{}: read failed", path)};
  return Parse(ss.str(), path);
}

Result<CsvTable> CsvTable::Parse(std::string text, std::string name) {
  CsvTable t;
  t.name_ = std::move(name);
  t.text_ = std::make_unique<std::string>(std::move(text));
  std::string_view all = *t.text_;
  if (all.substr(0, 3) == "\xEF\xBB\xBF") all.remove_prefix(3);  // UTF-8 BOM
  // Count fields that need unescaping first so unquoted_ never reallocates
  // while rows point into it.
  t.unquoted_.reserve(static_cast<size_t>(std::count(all.begin(), all.end(), '"')) / 2 + 1);

  int line = 0;
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (pos < all.size()) {
    size_t eol = all.find('\n', pos);
    if (eol == std::string_view::npos) eol = all.size();
    std::string_view raw = all.substr(pos, eol - pos);
    pos = eol + 1;
    ++line;
    if (Trim(raw).empty()) continue;
    fields.clear();
    size_t i = 0;
    while (true) {
      std::string_view rest = raw.substr(i);
      std::string_view lead = rest.substr(0, rest.find_first_not_of(" \t"));
      size_t q = i + lead.size();
      if (q < raw.size() && raw[q] == '"') {
        std::string value;
        size_t k = q + 1;
        bool closed = false;
        while (k < raw.size()) {
          if (raw[k] == '"') {
            if (k + 1 < raw.size() && raw[k + 1] == '"') { value += '"'; k += 2; continue; }
            closed = true; ++k; break;
          }
          value += raw[k++];
        }
        if (!closed) return t.ErrorAt(line, "unterminated quoted field");
        t.unquoted_.push_back(std::move(value));
        fields.push_back(t.unquoted_.back());
        size_t comma = raw.find(',', k);
        if (comma == std::string_view::npos) break;
        i = comma + 1;
      } else {
        size_t comma = raw.find(',', i);
        fields.push_back(Trim(raw.substr(i, comma == std::string_view::npos ? raw.npos : comma - i)));
        if (comma == std::string_view::npos) break;
        i = comma + 1;
      }
    }
    if (t.header_.empty()) {
      t.header_ = fields;
      continue;
    }
    if (fields.size() != t.header_.size())
      return t.ErrorAt(line, fmt::format("expected {} fields as in the header, got {}",
                                         t.header_.size(), fields.size()));
    CsvRow row;
    row.line_ = line;
    row.fields_ = fields;
    t.rows_.push_back(std::move(row));
  }
  if (t.header_.empty()) return t.ErrorAt(1, "empty file: expected a header row");
  t.Relink();
  return t;
}

Result<int> CsvTable::Require(std::string_view column) const {
  for (size_t i = 0; i < header_.size(); ++i)
    if (header_[i] == column) return static_cast<int>(i);
  return ErrorAt(1, fmt::format("missing column '{}' in the header", column));
}

std::optional<int> CsvTable::Find(std::initializer_list<std::string_view> names) const {
  for (auto n : names)
    for (size_t i = 0; i < header_.size(); ++i)
      if (header_[i] == n) return static_cast<int>(i);
  return std::nullopt;
}

Result<std::int64_t> CsvRow::Int(int column, std::int64_t min, std::int64_t max) const {
  std::string_view s = fields_[column];
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
    // Accept integral values written as floats ("12.0").
    auto d = Double(column, static_cast<double>(min), static_cast<double>(max));
    if (d.ok() && std::floor(*d) == *d) return static_cast<std::int64_t>(*d);
    return table_->ErrorAt(line_, fmt::format("column '{}': expected an integer, got '{}'",
                                              table_->header_[column], s));
  }
  if (v < min || v > max)
    return table_->ErrorAt(line_, fmt::format("column '{}': expected {}..{}, got {}",
                                              table_->header_[column], min, max, v));
  return v;
}

Result<double> CsvRow::Double(int column, double min, double max) const {
  std::string_view s = fields_[column];
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty() || !std::isfinite(v))
    return table_->ErrorAt(line_, fmt::format("column '{}': expected a number, got '{}'",
                                              table_->header_[column], s));
  if (v < min || v > max)
    return table_->ErrorAt(line_, fmt::format("column '{}': expected {}..{}, got {}",
                                              table_->header_[column], min, max, s));
  return v;
}

}  // namespace kojo
