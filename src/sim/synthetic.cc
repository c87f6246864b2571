#include "sim/synthetic.h"

#include <algorithm>
#include <random>

namespace kojo {

std::vector<Job> SyntheticWorkload(const SyntheticSpec& spec) {
  std::mt19937_64 gen(spec.seed);
  std::vector<Job> jobs;
  const double mean_gpus = 0.6 * 1 + 0.3 * 2 + 0.1 * 4;
  const double mean_s = (static_cast<double>(spec.min_duration_s) + static_cast<double>(spec.max_duration_s)) / 2;
  // Arrivals per second so that GPU-seconds demanded = load x capacity.
  const double rate = spec.load * spec.cluster_gpus / (mean_gpus * mean_s);
  std::exponential_distribution<double> gap(rate);
  std::uniform_int_distribution<Seconds> duration(spec.min_duration_s, spec.max_duration_s);
  std::uniform_real_distribution<double> u(0, 1);
  for (size_t p = 0; p < spec.projects.size(); ++p) {
    double t = 0;
    for (int n = 0;; ++n) {
      t += gap(gen);
      if (t >= static_cast<double>(spec.horizon_s)) break;
      Job j;
      j.project = spec.projects[p];
      j.user = spec.projects[p] + (n % 2 ? "-b" : "-a");
      const double r = u(gen);
      j.demand.gpus = r < 0.6 ? 1 : r < 0.9 ? 2 : 4;
      j.submit_time = static_cast<Seconds>(t);
      j.true_duration = duration(gen);
      j.time_limit = j.true_duration;
      jobs.push_back(std::move(j));
    }
  }
  std::stable_sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) { return a.submit_time < b.submit_time; });
  for (size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].id = static_cast<JobId>(i + 1);
    jobs[i].name = "syn" + std::to_string(i + 1);
  }
  return jobs;
}

}  // namespace kojo
