// Store: kojo's durable state. The controller loads everything once at start
// and then writes only through Apply(), one atomic batch at a time: after
// Apply() returns Ok, every row of the batch survives a crash of the process
// or of the machine; if it fails or the process dies inside it, none does.
//
// The store is generic: it keeps opaque JSON documents keyed by id. What a
// job or node document contains is the controller's business (records.h).
//
// Thread safety: implementations are not thread-safe; one caller at a time
// (GroupCommitter serialises writers).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "model/units.h"

namespace kojo::store {

inline constexpr int kSchemaVersion = 1;

// One job: its id, its state name (for operators' queries) and its record.
// A row with `deleted` removes the job (retention of ended jobs).
struct JobRow {
  JobId id = 0;
  std::string state;
  std::string json;
  bool deleted = false;
};

// A job array kept as one row until its tasks change: jobs first_id ..
// first_id + count - 1 share one template record. A JobRow with one of
// those ids overrides the template for that job.
struct ArrayRow {
  JobId first_id = 0;
  std::int64_t count = 0;
  std::string json;
};

struct NodeRow {
  std::string name;
  std::string json;
};

// Idempotency key -> the ids its first request created. A row with
// `deleted` removes the key.
struct KeyRow {
  std::string key;
  std::vector<JobId> ids;
  bool deleted = false;
};

// A document of the organisation model or of accounting (programme,
// project, grant, user, token, usage record, ...): `kind` names its table
// of documents, `key` is unique within the kind. A row with `deleted`
// removes the document.
struct DocRow {
  std::string kind;
  std::string key;
  std::string json;
  bool deleted = false;
};

// A set of changes applied all together or not at all. Rows replace rows
// with the same key; later rows of a batch win over earlier ones.
struct Batch {
  std::vector<JobRow> jobs;
  std::vector<ArrayRow> arrays;
  std::vector<NodeRow> nodes;
  std::vector<KeyRow> keys;
  std::vector<DocRow> docs;
  std::optional<JobId> next_job_id;

  bool empty() const {
    return jobs.empty() && arrays.empty() && nodes.empty() && keys.empty() && docs.empty() &&
           !next_job_id;
  }
  // Appends `other` after this batch's rows (so its rows win).
  void Append(Batch&& other);
};

// Everything the store holds, as loaded at start.
struct StoredState {
  std::vector<JobRow> jobs;      // ascending id
  std::vector<ArrayRow> arrays;  // ascending first_id
  std::vector<NodeRow> nodes;    // ascending name
  std::vector<KeyRow> keys;
  std::vector<DocRow> docs;      // ascending (kind, key); never `deleted`
  JobId next_job_id = 1;
};

class Store {
 public:
  virtual ~Store() = default;
  virtual Result<StoredState> Load() = 0;
  virtual Status Apply(const Batch& batch) = 0;
};

// In memory, for unit tests: same contract without the durability.
class MemoryStore : public Store {
 public:
  Result<StoredState> Load() override;
  Status Apply(const Batch& batch) override;
  // Test hooks: the next Apply, or the next n, fail (and change nothing).
  void FailNextApply() { FailNextApplies(1); }
  void FailNextApplies(int n) { fail_count_ = n; }

 private:
  StoredState state_;
  int fail_count_ = 0;
};

// SQLite in WAL mode with synchronous=FULL in `path` (created if missing,
// with its tables). Errors name the file and SQLite's message.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

}  // namespace kojo::store
