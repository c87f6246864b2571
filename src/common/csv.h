// A small CSV reader for traces and node lists: a header row, then records.
// Every error is "file:line: what was expected", for people to fix the file.
// Quoted fields (RFC 4180 double quotes) are supported; embedded newlines are
// not (no trace kojo reads has them).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace kojo {

class CsvTable;

// One record, valid while its table lives.
class CsvRow {
 public:
  int line() const { return line_; }
  // The raw text of a column; the column must exist (see CsvTable::Require).
  std::string_view Text(int column) const { return fields_[column]; }
  // Typed access with range checks; the error names file, line, column.
  Result<std::int64_t> Int(int column, std::int64_t min, std::int64_t max) const;
  Result<double> Double(int column, double min, double max) const;

 private:
  friend class CsvTable;
  const CsvTable* table_ = nullptr;
  int line_ = 0;
  std::vector<std::string_view> fields_;
};

class CsvTable {
 public:
  // Reads the whole file. Fails on a missing or empty file, a missing header
  // or a record whose field count differs from the header's.
  static Result<CsvTable> Read(const std::string& path);
  // Parses text already in memory; `name` stands for the file in messages.
  static Result<CsvTable> Parse(std::string text, std::string name);

  // Index of a header column, or an error naming the column and the file.
  Result<int> Require(std::string_view column) const;
  // Index of the first of several accepted spellings that is present.
  std::optional<int> Find(std::initializer_list<std::string_view> names) const;

  const std::vector<CsvRow>& rows() const { return rows_; }
  const std::string& name() const { return name_; }
  // "file:line: message", the form every reader error takes.
  Error ErrorAt(int line, std::string_view message) const;

  CsvTable(CsvTable&&) noexcept;
  CsvTable& operator=(CsvTable&&) noexcept;
  ~CsvTable();

 private:
  friend class CsvRow;
  CsvTable() = default;
  std::string name_;
  std::unique_ptr<std::string> text_;  // owns the bytes the rows point into (stable on move)
  std::vector<std::string> unquoted_;  // fields that needed unescaping
  std::vector<std::string_view> header_;
  std::vector<CsvRow> rows_;
  void Relink();
};

}  // namespace kojo
