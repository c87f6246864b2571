#include "common/files.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kojo {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(WriteFileAtomic, ReplacesTheWholeFileWithItsMode) {
  const std::string path = ::testing::TempDir() + "/atomic.txt";
  ASSERT_TRUE(WriteFileAtomic(path, "first version, longer\n").ok());
  ASSERT_TRUE(WriteFileAtomic(path, "second\n", {.mode = 0600, .sync = false}).ok());
  EXPECT_EQ(Slurp(path), "second\n");
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(access((path + ".tmp").c_str(), F_OK), 0);  // no temporary left behind
}

TEST(WriteFileAtomic, ErrorNamesTheFile) {
  auto s = WriteFileAtomic("/no/such/folder/x.json", "{}");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, ::testing::HasSubstr("/no/such/folder/x.json.tmp"));
}

TEST(WriteFileInPlace, RewritesTheSameInodeToExactlyTheNewText) {
  const std::string path = ::testing::TempDir() + "/in-place.txt";
  std::remove(path.c_str());
  ASSERT_TRUE(WriteFileInPlace(path, "a first, longer text\n"));  // created
  struct stat before {};
  ASSERT_EQ(stat(path.c_str(), &before), 0);
  ASSERT_TRUE(WriteFileInPlace(path, "short\n"));
  EXPECT_EQ(Slurp(path), "short\n");  // nothing of the longer text is left
  struct stat after {};
  ASSERT_EQ(stat(path.c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_FALSE(WriteFileInPlace("/no/such/folder/x", "x"));
}

TEST(RandomHex, LengthAndVariety) {
  const std::string a = RandomHex().value(), b = RandomHex().value();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
  EXPECT_EQ(RandomHex(4)->size(), 8u);
  EXPECT_NE(a, std::string(32, '0'));
}

}  // namespace
}  // namespace kojo
