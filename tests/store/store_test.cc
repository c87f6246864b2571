#include <gtest/gtest.h>

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "store/group_commit.h"
#include "store/store.h"

namespace kojo::store {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/kojo-store-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

Batch SampleBatch() {
  Batch b;
  b.jobs.push_back({1, "PENDING", R"({"id":1})"});
  b.jobs.push_back({2, "RUNNING", R"({"id":2})"});
  b.arrays.push_back({10, 5, R"({"spec":{}})"});
  b.nodes.push_back({"h100-0", R"({"name":"h100-0"})"});
  b.keys.push_back({"key-a", {1, 2}});
  b.next_job_id = 15;
  return b;
}

void ExpectSample(const StoredState& s) {
  ASSERT_EQ(s.jobs.size(), 2u);
  EXPECT_EQ(s.jobs[0].id, 1);
  EXPECT_EQ(s.jobs[1].state, "RUNNING");
  EXPECT_EQ(s.jobs[1].json, R"({"id":2})");
  ASSERT_EQ(s.arrays.size(), 1u);
  EXPECT_EQ(s.arrays[0].first_id, 10);
  EXPECT_EQ(s.arrays[0].count, 5);
  ASSERT_EQ(s.nodes.size(), 1u);
  EXPECT_EQ(s.nodes[0].name, "h100-0");
  ASSERT_EQ(s.keys.size(), 1u);
  EXPECT_EQ(s.keys[0].ids, (std::vector<JobId>{1, 2}));
  EXPECT_EQ(s.next_job_id, 15);
}

TEST(MemoryStore, RoundTrip) {
  MemoryStore m;
  ASSERT_TRUE(m.Apply(SampleBatch()).ok());
  auto s = m.Load();
  ASSERT_TRUE(s.ok());
  ExpectSample(*s);
}

TEST(MemoryStore, FailedBatchChangesNothing) {
  MemoryStore m;
  m.FailNextApply();
  EXPECT_FALSE(m.Apply(SampleBatch()).ok());
  auto s = m.Load();
  EXPECT_TRUE(s->jobs.empty());
  EXPECT_EQ(s->next_job_id, 1);
}

TEST(SqliteStore, RoundTripAndReopen) {
  TempDir dir;
  {
    auto st = OpenSqliteStore(dir.File("kojo.db"));
    ASSERT_TRUE(st.ok()) << st.error().message;
    auto fresh = (*st)->Load();
    ASSERT_TRUE(fresh.ok());
    EXPECT_TRUE(fresh->jobs.empty());
    EXPECT_EQ(fresh->next_job_id, 1);
    ASSERT_TRUE((*st)->Apply(SampleBatch()).ok());
    auto s = (*st)->Load();
    ASSERT_TRUE(s.ok());
    ExpectSample(*s);
  }
  auto st = OpenSqliteStore(dir.File("kojo.db"));
  ASSERT_TRUE(st.ok());
  auto s = (*st)->Load();
  ASSERT_TRUE(s.ok());
  ExpectSample(*s);
}

TEST(SqliteStore, LaterRowsOfABatchWin) {
  TempDir dir;
  auto st = OpenSqliteStore(dir.File("kojo.db"));
  ASSERT_TRUE(st.ok());
  Batch b;
  b.jobs.push_back({7, "PENDING", "a"});
  Batch c;
  c.jobs.push_back({7, "RUNNING", "b"});
  b.Append(std::move(c));
  ASSERT_TRUE((*st)->Apply(b).ok());
  auto s = (*st)->Load();
  ASSERT_EQ(s->jobs.size(), 1u);
  EXPECT_EQ(s->jobs[0].state, "RUNNING");
  EXPECT_EQ(s->jobs[0].json, "b");
}

// Documents of both stores: replaced by key, removed by a deleted row,
// loaded sorted by (kind, key).
void CheckDocs(Store& st) {
  Batch b;
  b.docs.push_back({"project", "vision", R"({"share":1})"});
  b.docs.push_back({"grant", "g1", R"({"amount":5})"});
  b.docs.push_back({"project", "nlp", R"({"share":2})"});
  ASSERT_TRUE(st.Apply(b).ok());
  Batch c;
  c.docs.push_back({"project", "vision", R"({"share":3})"});
  c.docs.push_back({"grant", "g1", "", true});
  c.docs.push_back({"grant", "never-there", "", true});
  ASSERT_TRUE(st.Apply(c).ok());
  auto s = st.Load();
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->docs.size(), 2u);
  EXPECT_EQ(s->docs[0].key, "nlp");
  EXPECT_EQ(s->docs[1].key, "vision");
  EXPECT_EQ(s->docs[1].json, R"({"share":3})");
}

TEST(MemoryStore, DocumentsReplaceAndDelete) {
  MemoryStore m;
  CheckDocs(m);
}

TEST(SqliteStore, DocumentsReplaceDeleteAndReopen) {
  TempDir dir;
  {
    auto st = OpenSqliteStore(dir.File("kojo.db"));
    ASSERT_TRUE(st.ok());
    CheckDocs(**st);
  }
  auto st = OpenSqliteStore(dir.File("kojo.db"));
  ASSERT_TRUE(st.ok());
  auto s = (*st)->Load();
  ASSERT_EQ(s->docs.size(), 2u);
  EXPECT_EQ(s->docs[0].json, R"({"share":2})");
}

// Retention deletes jobs and idempotency keys; a delete and a write of the
// same key in one batch (or appended batches) take effect in order.
void CheckDeletes(Store& st) {
  ASSERT_TRUE(st.Apply(SampleBatch()).ok());
  Batch b;
  b.jobs.push_back(JobRow{1, "", "", true});
  b.jobs.push_back(JobRow{99, "", "", true});  // never there
  b.keys.push_back(KeyRow{"key-a", {}, true});
  b.keys.push_back(KeyRow{"key-b", {2}});
  Batch later;
  later.keys.push_back(KeyRow{"key-b", {}, true});
  later.keys.push_back(KeyRow{"key-a", {3}});  // the key used again after its jobs went
  b.Append(std::move(later));
  ASSERT_TRUE(st.Apply(b).ok());
  auto s = st.Load();
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->jobs.size(), 1u);
  EXPECT_EQ(s->jobs[0].id, 2);
  ASSERT_EQ(s->keys.size(), 1u);
  EXPECT_EQ(s->keys[0].key, "key-a");
  EXPECT_EQ(s->keys[0].ids, (std::vector<JobId>{3}));
}

TEST(MemoryStore, JobsAndKeysAreDeletedInOrder) {
  MemoryStore m;
  CheckDeletes(m);
}

TEST(SqliteStore, JobsAndKeysAreDeletedInOrderAndStayDeleted) {
  TempDir dir;
  {
    auto st = OpenSqliteStore(dir.File("kojo.db"));
    ASSERT_TRUE(st.ok());
    CheckDeletes(**st);
  }
  auto st = OpenSqliteStore(dir.File("kojo.db"));
  ASSERT_TRUE(st.ok());
  auto s = (*st)->Load();
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->jobs.size(), 1u);
  EXPECT_EQ(s->jobs[0].id, 2);
  ASSERT_EQ(s->keys.size(), 1u);
  EXPECT_EQ(s->keys[0].ids, (std::vector<JobId>{3}));
}

TEST(SqliteStore, BadPathNamesTheFile) {
  auto st = OpenSqliteStore("/nonexistent-dir/kojo.db");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("/nonexistent-dir/kojo.db"), std::string::npos);
}

TEST(SqliteStore, RejectsAnotherSchemaVersion) {
  TempDir dir;
  {
    auto st = OpenSqliteStore(dir.File("kojo.db"));
    ASSERT_TRUE(st.ok());
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir.File("kojo.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value='999' WHERE key='schema_version'", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto st = OpenSqliteStore(dir.File("kojo.db"));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("schema version 999"), std::string::npos) << st.error().message;
}

// A child process writes batches of 500 jobs each, batch k holding ids
// k*500 .. k*500+499 and next_job_id = (k+1)*500, until it is SIGKILLed.
// The store must then hold whole batches only.
TEST(SqliteStore, KillMidBatchLeavesAllOrNothing) {
  TempDir dir;
  const std::string path = dir.File("kojo.db");
  {
    auto st = OpenSqliteStore(path);  // create the schema before the race
    ASSERT_TRUE(st.ok());
  }
  constexpr int kPerBatch = 500;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto st = OpenSqliteStore(path);
    if (!st.ok()) _exit(2);
    const std::string payload(200, 'x');
    for (int k = 0; k < 100000; ++k) {
      Batch b;
      for (int i = 0; i < kPerBatch; ++i)
        b.jobs.push_back({static_cast<JobId>(k) * kPerBatch + i, "PENDING", payload});
      b.next_job_id = static_cast<JobId>(k + 1) * kPerBatch;
      if (!(*st)->Apply(b).ok()) _exit(3);
    }
    _exit(0);
  }
  // Let it write a few batches, then kill it in the middle of one.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the writer ended before it was killed: " << status;

  auto st = OpenSqliteStore(path);
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto s = (*st)->Load();
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_GT(s->jobs.size(), 0u) << "the writer committed nothing in 300 ms";
  EXPECT_EQ(s->jobs.size() % kPerBatch, 0u);
  EXPECT_EQ(static_cast<JobId>(s->jobs.size()), s->next_job_id);
  for (size_t i = 0; i < s->jobs.size(); ++i) ASSERT_EQ(s->jobs[i].id, static_cast<JobId>(i));
}

TEST(GroupCommitter, ConcurrentWritersShareTransactions) {
  TempDir dir;
  auto st = OpenSqliteStore(dir.File("kojo.db"));
  ASSERT_TRUE(st.ok());
  {
    GroupCommitter gc(**st);
    std::atomic<JobId> next{1};
    std::vector<std::thread> writers;
    for (int t = 0; t < 8; ++t)
      writers.emplace_back([&] {
        for (int i = 0; i < 50; ++i) {
          Batch b;
          JobId id = next++;
          b.jobs.push_back({id, "PENDING", "{}"});
          const auto seq = gc.Enqueue(std::move(b));
          gc.WaitDurable(seq);
          EXPECT_GE(gc.durable(), seq);
        }
      });
    for (auto& w : writers) w.join();
    EXPECT_EQ(gc.stats().batches, 400u);
    EXPECT_LE(gc.stats().transactions, 400u);
  }
  auto s = (*st)->Load();
  EXPECT_EQ(s->jobs.size(), 400u);
}

// A failed write is retried until it succeeds; AwaitDurable reports the
// failure of an attempt that held the batch, WaitDurable waits through it.
TEST(GroupCommitter, FailedApplyIsRetriedAndReported) {
  MemoryStore m;
  m.FailNextApplies(3);
  std::string fatal;
  {
    GroupCommitter gc(m, [&](const std::string& msg) { fatal = msg; });
    Batch b;
    b.jobs.push_back({1, "PENDING", "{}"});
    const auto seq = gc.Enqueue(std::move(b));
    Status s = gc.AwaitDurable(seq);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find("injected"), std::string::npos);
    // Queued during the failures: written in order with the first.
    Batch b2;
    b2.jobs.push_back({2, "PENDING", "{}"});
    const auto seq2 = gc.Enqueue(std::move(b2));
    gc.WaitDurable(seq2);
    EXPECT_TRUE(gc.AwaitDurable(seq).ok());
    EXPECT_TRUE(gc.AwaitDurable(seq2).ok());
    EXPECT_EQ(gc.stats().failed_attempts, 3u);
  }
  EXPECT_EQ(fatal, "");
  auto st = m.Load();
  ASSERT_EQ(st->jobs.size(), 2u);
}

// Still failing when the committer stops: fatal, nothing silently dropped.
TEST(GroupCommitter, StillFailingAtStopIsFatal) {
  MemoryStore m;
  m.FailNextApplies(1000000);
  std::string fatal;
  {
    GroupCommitter gc(m, [&](const std::string& msg) { fatal = msg; });
    Batch b;
    b.jobs.push_back({1, "PENDING", "{}"});
    EXPECT_FALSE(gc.AwaitDurable(gc.Enqueue(std::move(b))).ok());
  }
  EXPECT_NE(fatal.find("injected"), std::string::npos);
}

}  // namespace
}  // namespace kojo::store
