// api/openapi.yaml describes exactly the routes kojod serves.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>

#include "controller/routes.h"

namespace kojo::controller {
namespace {

// (METHOD, path) pairs under `paths:`: path keys are indented two spaces,
// method keys four.
std::set<std::pair<std::string, std::string>> OpenApiRoutes(const std::string& file) {
  std::ifstream in(file);
  std::set<std::pair<std::string, std::string>> out;
  std::string line, path;
  bool in_paths = false;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] != ' ') {
      in_paths = line.rfind("paths:", 0) == 0;
      continue;
    }
    if (!in_paths) continue;
    if (line.rfind("  /", 0) == 0 && line.back() == ':') {
      path = line.substr(2, line.size() - 3);
    } else if (line.rfind("    ", 0) == 0 && line[4] != ' ') {
      const std::string key = line.substr(4, line.find(':') - 4);
      for (const char* m : {"get", "post", "put", "patch", "delete"})
        if (key == m) {
          std::string upper = key;
          for (char& ch : upper) ch = static_cast<char>(std::toupper(ch));
          out.emplace(upper, path);
        }
    }
  }
  return out;
}

TEST(OpenApi, DescribesExactlyTheServedRoutes) {
  const std::string file = std::string(KOJO_TESTDATA_DIR) + "/../../api/openapi.yaml";
  const auto documented = OpenApiRoutes(file);
  ASSERT_FALSE(documented.empty()) << "cannot read " << file;
  std::set<std::pair<std::string, std::string>> served;
  for (const RouteSpec& r : RouteTable()) served.emplace(std::string(r.method), std::string(r.path));
  for (const auto& [m, p] : served) EXPECT_TRUE(documented.count({m, p})) << m << " " << p << " is not in openapi.yaml";
  for (const auto& [m, p] : documented) EXPECT_TRUE(served.count({m, p})) << m << " " << p << " is not served";
}

}  // namespace
}  // namespace kojo::controller
