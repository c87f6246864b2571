// SpareFiles: record and status files reused instead of deleted and
// created again, handed out blank with their disk blocks kept.
#include "agent/spare_files.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "test_util.h"

namespace kojo::agent {
namespace {

using testing::ReadFile;
using testing::TempDir;
namespace fs = std::filesystem;

struct stat Stat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st;
}

TEST(SpareFiles, AReusedFileIsTheSameInodeBlankedInPlace) {
  TempDir dir;
  fs::create_directories(dir.path() + "/spare");
  SpareFiles spare(dir.path() + "/spare", 8);
  const std::string first = dir.path() + "/1.json";
  ASSERT_TRUE(spare.Take(first));  // empty pool: a new, empty file
  EXPECT_EQ(ReadFile(first), "");
  { std::ofstream(first) << "{\"job\": 1, \"pid\": 4242}\n"; }
  const struct stat used = Stat(first);
  spare.Give(first);
  EXPECT_FALSE(fs::exists(first));
  EXPECT_EQ(spare.size(), 1u);

  const std::string second = dir.path() + "/2.json";
  ASSERT_TRUE(spare.Take(second));
  EXPECT_EQ(spare.size(), 0u);
  const struct stat reused = Stat(second);
  EXPECT_EQ(reused.st_ino, used.st_ino);        // no new inode
  EXPECT_EQ(reused.st_size, used.st_size);      // not truncated...
  EXPECT_EQ(reused.st_blocks, used.st_blocks);  // ...so its block is kept
  EXPECT_EQ(ReadFile(second), std::string(static_cast<size_t>(used.st_size), ' '));  // and nothing of task 1 is left
}

TEST(SpareFiles, AFullPoolDeletesWhatItIsGivenAndARestartKeepsThePool) {
  TempDir dir;
  fs::create_directories(dir.path() + "/spare");
  {
    SpareFiles spare(dir.path() + "/spare", 2);
    for (int i = 0; i < 3; ++i) {
      const std::string p = dir.path() + "/" + std::to_string(i);
      ASSERT_TRUE(spare.Take(p));
      spare.Give(p);
      EXPECT_FALSE(fs::exists(p));
    }
    // Taken and given back one at a time: the pool holds one file.
    EXPECT_EQ(spare.size(), 1u);
    const std::string a = dir.path() + "/a", b = dir.path() + "/b", c = dir.path() + "/c";
    ASSERT_TRUE(spare.Take(a) && spare.Take(b) && spare.Take(c));
    spare.Give(a);
    spare.Give(b);
    spare.Give(c);  // beyond max_files: deleted
    EXPECT_EQ(spare.size(), 2u);
    EXPECT_FALSE(fs::exists(c));
  }
  SpareFiles again(dir.path() + "/spare", 2);  // an agent restarted on the same folder
  EXPECT_EQ(again.size(), 2u);
}

}  // namespace
}  // namespace kojo::agent
