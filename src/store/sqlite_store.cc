// SqliteStore: the Store in one SQLite file (WAL, synchronous=FULL).
#include <sqlite3.h>

#include <charconv>
#include <fmt/format.h>

#include "store/store.h"

namespace kojo::store {

namespace {

const char* const kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, state TEXT NOT NULL, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS arrays (first_id INTEGER PRIMARY KEY, count INTEGER NOT NULL, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (name TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, ids TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (kind TEXT NOT NULL, key TEXT NOT NULL, json TEXT NOT NULL,
                                 PRIMARY KEY (kind, key));
)sql";

// A prepared statement, finalised on destruction.
class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(s_); }
  sqlite3_stmt** out() { return &s_; }
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_ = nullptr;
};

std::string JoinIds(const std::vector<JobId>& ids) {
  std::string s;
  for (JobId id : ids) {
    if (!s.empty()) s += ',';
    s += std::to_string(id);
  }
  return s;
}

std::vector<JobId> SplitIds(std::string_view s) {
  std::vector<JobId> ids;
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    JobId v = 0;
    std::from_chars(item.data(), item.data() + item.size(), v);
    ids.push_back(v);
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
  }
  return ids;
}

std::string Text(sqlite3_stmt* s, int col) {
  const unsigned char* t = sqlite3_column_text(s, col);
  return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s, col)) : std::string();
}

class SqliteStore : public Store {
 public:
  SqliteStore(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  // close_v2 waits for the statements (members, finalised after this body).
  ~SqliteStore() override { sqlite3_close_v2(db_); }

  Status Init() {
    if (auto s = Exec("PRAGMA journal_mode=WAL"); !s.ok()) return s;
    if (auto s = Exec("PRAGMA synchronous=FULL"); !s.ok()) return s;
    if (auto s = Exec("PRAGMA foreign_keys=OFF"); !s.ok()) return s;
    sqlite3_busy_timeout(db_, 5000);
    if (auto s = Exec(kSchema); !s.ok()) return s;
    // Schema version: written once, checked on every open.
    Stmt q;
    if (sqlite3_prepare_v2(db_, "SELECT value FROM meta WHERE key='schema_version'", -1, q.out(), nullptr) != SQLITE_OK)
      return Fail("read schema version");
    if (sqlite3_step(q.get()) == SQLITE_ROW) {
      const std::string v = Text(q.get(), 0);
      if (v != std::to_string(kSchemaVersion))
        return Error{ErrorCode::kUnsupported,
                     fmt::format("{}: schema version {} is not supported (this build reads {})", path_, v, kSchemaVersion)};
    } else {
      if (auto s = Exec(fmt::format("INSERT INTO meta(key, value) VALUES ('schema_version', '{}'), ('next_job_id', '1')",
                                    kSchemaVersion));
          !s.ok())
        return s;
    }
    const char* sql[] = {
        "INSERT OR REPLACE INTO jobs(id, state, json) VALUES (?, ?, ?)",
        "INSERT OR REPLACE INTO arrays(first_id, count, json) VALUES (?, ?, ?)",
        "INSERT OR REPLACE INTO nodes(name, json) VALUES (?, ?)",
        "INSERT OR REPLACE INTO idempotency(key, ids) VALUES (?, ?)",
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('next_job_id', ?)",
        "INSERT OR REPLACE INTO docs(kind, key, json) VALUES (?, ?, ?)",
        "DELETE FROM docs WHERE kind = ? AND key = ?",
        "DELETE FROM jobs WHERE id = ?",
        "DELETE FROM idempotency WHERE key = ?",
    };
    Stmt* out[] = {&put_job_, &put_array_, &put_node_, &put_key_, &put_next_, &put_doc_, &del_doc_, &del_job_, &del_key_};
    for (int i = 0; i < 9; ++i)
      if (sqlite3_prepare_v2(db_, sql[i], -1, out[i]->out(), nullptr) != SQLITE_OK) return Fail("prepare");
    return Ok{};
  }

  Result<StoredState> Load() override {
    StoredState st;
    {
      Stmt q;
      if (sqlite3_prepare_v2(db_, "SELECT id, state, json FROM jobs ORDER BY id", -1, q.out(), nullptr) != SQLITE_OK)
        return Fail("read jobs");
      int rc;
      while ((rc = sqlite3_step(q.get())) == SQLITE_ROW)
        st.jobs.push_back(JobRow{sqlite3_column_int64(q.get(), 0), Text(q.get(), 1), Text(q.get(), 2)});
      if (rc != SQLITE_DONE) return Fail("read jobs");
    }
    {
      Stmt q;
      if (sqlite3_prepare_v2(db_, "SELECT first_id, count, json FROM arrays ORDER BY first_id", -1, q.out(), nullptr) != SQLITE_OK)
        return Fail("read arrays");
      int rc;
      while ((rc = sqlite3_step(q.get())) == SQLITE_ROW)
        st.arrays.push_back(ArrayRow{sqlite3_column_int64(q.get(), 0), sqlite3_column_int64(q.get(), 1), Text(q.get(), 2)});
      if (rc != SQLITE_DONE) return Fail("read arrays");
    }
    {
      Stmt q;
      if (sqlite3_prepare_v2(db_, "SELECT name, json FROM nodes ORDER BY name", -1, q.out(), nullptr) != SQLITE_OK)
        return Fail("read nodes");
      int rc;
      while ((rc = sqlite3_step(q.get())) == SQLITE_ROW)
        st.nodes.push_back(NodeRow{Text(q.get(), 0), Text(q.get(), 1)});
      if (rc != SQLITE_DONE) return Fail("read nodes");
    }
    {
      Stmt q;
      if (sqlite3_prepare_v2(db_, "SELECT key, ids FROM idempotency ORDER BY key", -1, q.out(), nullptr) != SQLITE_OK)
        return Fail("read idempotency keys");
      int rc;
      while ((rc = sqlite3_step(q.get())) == SQLITE_ROW)
        st.keys.push_back(KeyRow{Text(q.get(), 0), SplitIds(Text(q.get(), 1))});
      if (rc != SQLITE_DONE) return Fail("read idempotency keys");
    }
    {
      Stmt q;
      if (sqlite3_prepare_v2(db_, "SELECT kind, key, json FROM docs ORDER BY kind, key", -1, q.out(), nullptr) != SQLITE_OK)
        return Fail("read documents");
      int rc;
      while ((rc = sqlite3_step(q.get())) == SQLITE_ROW)
        st.docs.push_back(DocRow{Text(q.get(), 0), Text(q.get(), 1), Text(q.get(), 2)});
      if (rc != SQLITE_DONE) return Fail("read documents");
    }
    {
      Stmt q;
      if (sqlite3_prepare_v2(db_, "SELECT value FROM meta WHERE key='next_job_id'", -1, q.out(), nullptr) != SQLITE_OK)
        return Fail("read next job id");
      if (sqlite3_step(q.get()) == SQLITE_ROW) {
        const std::string v = Text(q.get(), 0);
        std::from_chars(v.data(), v.data() + v.size(), st.next_job_id);
      }
    }
    return st;
  }

  Status Apply(const Batch& b) override {
    if (b.empty()) return Ok{};
    if (auto s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    Status s = Write(b);
    if (s.ok()) s = Exec("COMMIT");
    if (!s.ok()) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return s;
    }
    return Ok{};
  }

 private:
  Status Write(const Batch& b) {
    for (const JobRow& r : b.jobs) {
      if (r.deleted) {
        sqlite3_stmt* d = del_job_.get();
        sqlite3_bind_int64(d, 1, r.id);
        if (!Step(d)) return Fail("delete job");
        continue;
      }
      sqlite3_stmt* s = put_job_.get();
      sqlite3_bind_int64(s, 1, r.id);
      sqlite3_bind_text(s, 2, r.state.data(), static_cast<int>(r.state.size()), SQLITE_STATIC);
      sqlite3_bind_text(s, 3, r.json.data(), static_cast<int>(r.json.size()), SQLITE_STATIC);
      if (!Step(s)) return Fail("write job");
    }
    for (const ArrayRow& r : b.arrays) {
      sqlite3_stmt* s = put_array_.get();
      sqlite3_bind_int64(s, 1, r.first_id);
      sqlite3_bind_int64(s, 2, r.count);
      sqlite3_bind_text(s, 3, r.json.data(), static_cast<int>(r.json.size()), SQLITE_STATIC);
      if (!Step(s)) return Fail("write array");
    }
    for (const NodeRow& r : b.nodes) {
      sqlite3_stmt* s = put_node_.get();
      sqlite3_bind_text(s, 1, r.name.data(), static_cast<int>(r.name.size()), SQLITE_STATIC);
      sqlite3_bind_text(s, 2, r.json.data(), static_cast<int>(r.json.size()), SQLITE_STATIC);
      if (!Step(s)) return Fail("write node");
    }
    for (const KeyRow& r : b.keys) {
      if (r.deleted) {
        sqlite3_stmt* d = del_key_.get();
        sqlite3_bind_text(d, 1, r.key.data(), static_cast<int>(r.key.size()), SQLITE_STATIC);
        if (!Step(d)) return Fail("delete idempotency key");
        continue;
      }
      sqlite3_stmt* s = put_key_.get();
      const std::string ids = JoinIds(r.ids);
      sqlite3_bind_text(s, 1, r.key.data(), static_cast<int>(r.key.size()), SQLITE_STATIC);
      sqlite3_bind_text(s, 2, ids.data(), static_cast<int>(ids.size()), SQLITE_TRANSIENT);
      if (!Step(s)) return Fail("write idempotency key");
    }
    for (const DocRow& r : b.docs) {
      sqlite3_stmt* s = r.deleted ? del_doc_.get() : put_doc_.get();
      sqlite3_bind_text(s, 1, r.kind.data(), static_cast<int>(r.kind.size()), SQLITE_STATIC);
      sqlite3_bind_text(s, 2, r.key.data(), static_cast<int>(r.key.size()), SQLITE_STATIC);
      if (!r.deleted) sqlite3_bind_text(s, 3, r.json.data(), static_cast<int>(r.json.size()), SQLITE_STATIC);
      if (!Step(s)) return Fail("write document");
    }
    if (b.next_job_id) {
      sqlite3_stmt* s = put_next_.get();
      const std::string v = std::to_string(*b.next_job_id);
      sqlite3_bind_text(s, 1, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
      if (!Step(s)) return Fail("write next job id");
    }
    return Ok{};
  }

  static bool Step(sqlite3_stmt* s) {
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE;
  }

  Status Exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      Error e{ErrorCode::kIo, fmt::format("{}: {}", path_, err ? err : "unknown error")};
      sqlite3_free(err);
      return e;
    }
    return Ok{};
  }

  Error Fail(std::string_view what) const {
    return Error{ErrorCode::kIo, fmt::format("{}: {}: {}", path_, what, sqlite3_errmsg(db_))};
  }

  std::string path_;
  sqlite3* db_;
  Stmt put_job_, put_array_, put_node_, put_key_, put_next_, put_doc_, del_doc_, del_job_, del_key_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = fmt::format("{}: cannot open: {}", path, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return Error{ErrorCode::kIo, msg};
  }
  auto store = std::make_unique<SqliteStore>(path, db);
  if (auto s = store->Init(); !s.ok()) return s.error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace kojo::store
