// libFuzzer target: every trace reader on arbitrary bytes. A reader may
// accept or reject the input, but never crash, hang, leak or trip a
// sanitizer, and every error must have the "name:line: ..." form.
//
//   cmake --preset fuzz && cmake --build --preset fuzz -j2
//   build/fuzz/fuzz/trace_reader_fuzz -max_total_time=60 CORPUS_COPY fuzz/corpus/trace_reader_fuzz
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "sim/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto table = kojo::CsvTable::Parse(std::move(text), "fuzz.csv");
  if (!table.ok()) {
    if (table.error().message.rfind("fuzz.csv:", 0) != 0) std::abort();
    return 0;
  }
  for (std::optional<kojo::TraceFormat> f :
       {std::optional<kojo::TraceFormat>{}, std::optional(kojo::TraceFormat::kPhilly),
        std::optional(kojo::TraceFormat::kTiresias), std::optional(kojo::TraceFormat::kOpenb),
        std::optional(kojo::TraceFormat::kKojo)}) {
    auto jobs = kojo::ParseTrace(*table, f);
    if (!jobs.ok()) {
      if (jobs.error().message.rfind("fuzz.csv:", 0) != 0) std::abort();
      continue;
    }
    for (const kojo::Job& j : *jobs) {
      // What the readers promise: valid demands, sane times.
      if (kojo::ValidateDemand(j.demand)) std::abort();
      if (j.submit_time < 0 || !j.true_duration || *j.true_duration < 1) std::abort();
      if (*j.true_duration > kojo::kMaxTraceDuration) std::abort();
    }
  }
  // Options: the first jobs only, time limits from an estimate factor.
  kojo::TraceOptions options;
  options.limit_jobs = 2;
  options.estimate_factor = 1.5;
  if (auto jobs = kojo::ParseTrace(*table, std::nullopt, options); jobs.ok()) {
    if (jobs->size() > 2) std::abort();
  }
  return 0;
}
