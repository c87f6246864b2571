// Runs the FGD packing experiment (src/sim/pack.h) over seeds, workloads and
// placers and prints a Markdown table of the mean alloc% at 100% arrived, with
// the time per seed. Data: Alibaba PAI GPU-sharing cluster trace 2023
// (alibaba/clusterdata cluster-trace-gpu-v2023; Weng et al., ATC'23).
//
//   pack_all DIR [--placers a,b] [--workloads w1,w2] [--seeds 42..51] [--inflate 1.3]
//
// DIR holds openb_node_list_gpu_node.csv and openb_pod_list_<workload>.csv.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sim/pack.h"

namespace {

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t c = s.find(',', pos);
    if (c == std::string::npos) c = s.size();
    if (c > pos) out.push_back(s.substr(pos, c - pos));
    pos = c + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: pack_all DIR [--placers a,b] [--workloads w,..] [--seeds A..B] [--inflate F]\n");
    return 2;
  }
  std::string dir = argv[1];
  std::vector<std::string> placers = {"random", "packing", "bestfit", "fgd", "fgd-pack"};
  std::vector<std::string> workloads = {"default",    "cpu050",     "cpu100",     "cpu200",
                                        "gpushare20", "gpushare40", "gpushare60", "gpushare80",
                                        "gpuspec05",  "gpuspec10",  "gpuspec20",  "gpuspec25",
                                        "multigpu20", "multigpu30", "multigpu40"};
  std::uint64_t seed_lo = 42, seed_hi = 51;
  double inflate = kojo::kDefaultPackInflate;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i], val = argv[i + 1];
    if (flag == "--placers") placers = Split(val);
    else if (flag == "--workloads") workloads = Split(val);
    else if (flag == "--inflate") inflate = std::atof(val.c_str());
    else if (flag == "--seeds") {
      size_t dots = val.find("..");
      seed_lo = std::stoull(val.substr(0, dots));
      seed_hi = dots == std::string::npos ? seed_lo : std::stoull(val.substr(dots + 2));
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  std::printf("| workload |");
  for (const auto& p : placers) std::printf(" %s |", p.c_str());
  std::printf(" pods arrived (mean) |\n|---|");
  for (size_t i = 0; i <= placers.size(); ++i) std::printf("---|");
  std::printf("\n");
  std::vector<double> secs(placers.size(), 0);
  std::vector<int> runs(placers.size(), 0);
  for (const auto& w : workloads) {
    auto input = kojo::ReadPackInput(dir + "/openb_node_list_gpu_node.csv",
                                     dir + "/openb_pod_list_" + w + ".csv");
    if (!input) {
      std::fprintf(stderr, "%s\n", input.error().message.c_str());
      return 1;
    }
    std::printf("| %s |", w.c_str());
    double arrived = 0;
    for (size_t p = 0; p < placers.size(); ++p) {
      double sum = 0;
      int n = 0;
      for (std::uint64_t s = seed_lo; s <= seed_hi; ++s) {
        auto t0 = std::chrono::steady_clock::now();
        auto r = kojo::RunPack(*input, placers[p], s, inflate);
        secs[p] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ++runs[p];
        if (!r) {
          std::fprintf(stderr, "%s\n", r.error().message.c_str());
          return 1;
        }
        sum += r->alloc_at_100;
        arrived += static_cast<double>(r->pods_arrived);
        ++n;
      }
      std::printf(" %.2f |", sum / n);
      std::fflush(stdout);
    }
    std::printf(" %.0f |\n", arrived / static_cast<double>((seed_hi - seed_lo + 1) * placers.size()));
  }
  std::printf("\nTime per seed (mean over all runs):");
  for (size_t p = 0; p < placers.size(); ++p)
    std::printf(" %s %.3f s;", placers[p].c_str(), secs[p] / runs[p]);
  std::printf("\n");
  return 0;
}
