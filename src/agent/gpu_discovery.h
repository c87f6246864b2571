// GPU and host discovery for kojo-agent.
//
// GpuDiscovery is the seam: NvmlDiscovery asks the NVIDIA driver (NVML,
// loaded at run time with dlopen, so kojo builds and runs without CUDA);
// EmulatedDiscovery makes up GPUs from a terse spec ("8xH100-80GB",
// "2xA100,2xT4") for machines without GPUs, tests and demos.
//
// Thread safety: Discover() may be called from one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/types.h"
#include "common/result.h"

namespace kojo::agent {

class GpuDiscovery {
 public:
  virtual ~GpuDiscovery() = default;
  // The node's GPUs, indexed 0..n-1 in the order CUDA_VISIBLE_DEVICES uses.
  virtual Result<std::vector<api::GpuInfo>> Discover() = 0;
  // True when the GPUs are made up (reported as emulated_gpus).
  virtual bool emulated() const = 0;
  // For logs: "NVML, driver 550.54.15" or "emulated 8xH100-80GB".
  virtual std::string Describe() const = 0;
  // Each GPU's utilisation now, in percent (NVML's "GPU busy" share of the
  // last sample period), by index; empty when unknown. Cheap: called for
  // every heartbeat.
  virtual std::vector<int> Utilisation() { return {}; }
};

// Loads `library` (normally "libnvidia-ml.so.1") with dlopen. Discover()
// fails cleanly (kUnsupported) when the library or a driver is absent.
class NvmlDiscovery : public GpuDiscovery {
 public:
  explicit NvmlDiscovery(std::string library = "libnvidia-ml.so.1");
  ~NvmlDiscovery() override;
  NvmlDiscovery(const NvmlDiscovery&) = delete;
  NvmlDiscovery& operator=(const NvmlDiscovery&) = delete;

  Result<std::vector<api::GpuInfo>> Discover() override;
  bool emulated() const override { return false; }
  std::string Describe() const override;
  std::vector<int> Utilisation() override;

  // The full names NVML reported ("NVIDIA H100 80GB HBM3"), by index, after
  // a successful Discover().
  const std::vector<std::string>& full_names() const { return full_names_; }
  const std::string& driver_version() const { return driver_version_; }

 private:
  std::string library_;
  void* handle_ = nullptr;
  bool util_ready_ = false;  // NVML initialised for Utilisation() (shut down at destruction)
  bool util_broken_ = false;
  std::vector<std::string> full_names_;
  std::string driver_version_;
};

// GPUs made up from a spec: comma-separated groups COUNTxMODEL, where MODEL
// may end in a memory size ("H100-80GB"): model "H100", 81920 MiB. Without
// a size, memory comes from a small table of known models, else 0. A group
// may split each of its GPUs by MIG: "1xH100-80GB:mig=1g.10gb*7" is seven
// GPUs of model "H100-1g.10gb" (10240 MiB, UUIDs "MIG-EMU-<node>-<gpu>-<i>"),
// "2xA100:mig=3g.40gb*1+4g.40gb*1" four; the slices of one GPU add up to at
// most 7 (4 on an A30).
class EmulatedDiscovery : public GpuDiscovery {
 public:
  // Checks the spec; `node` names the GPUs' UUIDs ("EMU-<node>-<i>").
  static Result<std::unique_ptr<EmulatedDiscovery>> Create(const std::string& spec,
                                                            const std::string& node);
  Result<std::vector<api::GpuInfo>> Discover() override { return gpus_; }
  bool emulated() const override { return true; }
  std::string Describe() const override { return "emulated " + spec_; }
  // Read from `util_file` when set: whitespace-separated percents by GPU
  // index (missing ones 0), so that tests can set what the GPUs report;
  // all 0 without a file.
  std::vector<int> Utilisation() override;
  void set_util_file(std::string path) { util_file_ = std::move(path); }

 private:
  std::string util_file_;
  EmulatedDiscovery(std::string spec, std::vector<api::GpuInfo> gpus)
      : spec_(std::move(spec)), gpus_(std::move(gpus)) {}
  std::string spec_;
  std::vector<api::GpuInfo> gpus_;
};

// The short model kojo schedules by, from NVML's marketing name:
// "NVIDIA H100 80GB HBM3" -> "H100", "NVIDIA A100-SXM4-80GB" -> "A100",
// "Tesla T4" -> "T4", "NVIDIA GeForce RTX 4090" -> "RTX4090".
std::string NormaliseGpuModel(std::string_view full_name);

// A MIG instance's profile from its NVML name ("NVIDIA H100 80GB HBM3 MIG
// 1g.10gb" -> "1g.10gb"); from its memory ("mig.10gb") when the name has none.
// The instance's model is MigModel(GPU model, profile) (model/org.h).
std::string MigProfile(std::string_view mig_name, MiB mem_mib);

// Memory of a known model in MiB ("H100" -> 81920), 0 when unknown.
MiB KnownGpuMemory(std::string_view model);

// This machine's CPUs (online, in milli-CPUs) and memory (MemTotal of
// /proc/meminfo, in MiB).
MilliCpu HostCpuMilli();
MiB HostMemMib();

}  // namespace kojo::agent
