#include "agent/gpu_discovery.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "model/org.h"

namespace kojo::agent {

namespace {

// The few NVML declarations kojo needs, with NVML's documented signatures
// (nvml.h). No build dependency on CUDA.
using nvmlReturn_t = int;
constexpr nvmlReturn_t NVML_SUCCESS = 0;
struct nvmlDevice_st;
using nvmlDevice_t = nvmlDevice_st*;
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
using InitFn = nvmlReturn_t (*)();
using ShutdownFn = nvmlReturn_t (*)();
using GetCountFn = nvmlReturn_t (*)(unsigned int*);
using GetHandleFn = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
using GetNameFn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
using GetUuidFn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
using GetMemoryFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*);
using DriverVersionFn = nvmlReturn_t (*)(char*, unsigned int);
using ErrorStringFn = const char* (*)(nvmlReturn_t);
struct nvmlUtilization_t {
  unsigned int gpu;
  unsigned int memory;
};
using GetUtilFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlUtilization_t*);
using GetMigModeFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*, unsigned int*);
using GetMaxMigFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*);
using GetMigHandleFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int, nvmlDevice_t*);
constexpr unsigned int kMigEnabled = 1;  // NVML_DEVICE_MIG_ENABLE
constexpr unsigned int kNameBuffer = 96;     // NVML_DEVICE_NAME_V2_BUFFER_SIZE
constexpr unsigned int kUuidBuffer = 96;     // NVML_DEVICE_UUID_V2_BUFFER_SIZE
constexpr unsigned int kDriverBuffer = 80;   // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE

struct KnownModel {
  std::string_view model;
  MiB mem_mib;
};
constexpr KnownModel kKnownModels[] = {
    {"B200", 184320}, {"GB200", 189440}, {"H200", 143360}, {"GH200", 98304},
    {"H100", 81920},  {"H800", 81920},   {"A100", 81920},  {"A800", 81920},
    {"L40S", 46068},  {"L40", 46068},    {"L4", 23034},    {"A40", 46068},
    {"A30", 24576},   {"A10", 23028},    {"A10G", 23028},  {"V100", 32768},
    {"T4", 15360},    {"P100", 16384},   {"RTX4090", 24564}, {"RTX3090", 24576},
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<long> ParseLong(std::string_view s) {
  long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

bool ValidModel(std::string_view m) {
  if (m.empty() || m.size() > 64) return false;
  for (char c : m)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

}  // namespace

MiB KnownGpuMemory(std::string_view model) {
  for (const auto& k : kKnownModels)
    if (k.model == model) return k.mem_mib;
  return 0;
}

std::string MigProfile(std::string_view mig_name, MiB mem_mib) {
  // "NVIDIA H100 80GB HBM3 MIG 1g.10gb" -> "1g.10gb"
  const size_t at = mig_name.find(" MIG ");
  if (at != std::string_view::npos) {
    std::string_view p = Trim(mig_name.substr(at + 5));
    p = p.substr(0, p.find(' '));
    std::string out;
    for (char c : p)
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '+') out += c;
    if (!out.empty()) return out;
  }
  return fmt::format("mig.{}gb", (mem_mib + 512) / 1024);
}

std::string NormaliseGpuModel(std::string_view full) {
  full = Trim(full);
  for (std::string_view prefix : {"NVIDIA ", "Tesla ", "GeForce ", "Quadro "})
    if (full.substr(0, prefix.size()) == prefix) full.remove_prefix(prefix.size());
  std::string_view first = full.substr(0, full.find(' '));
  std::string model;
  if ((first == "RTX" || first == "GTX" || first == "TITAN") && first.size() < full.size()) {
    std::string_view rest = Trim(full.substr(first.size()));
    model = std::string(first) + std::string(rest.substr(0, rest.find(' ')));
  } else {
    model = std::string(first.substr(0, first.find('-')));
  }
  std::string out;
  for (char c : model)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') out += c;
  return out.empty() ? "GPU" : out;
}

NvmlDiscovery::NvmlDiscovery(std::string library) : library_(std::move(library)) {}

NvmlDiscovery::~NvmlDiscovery() {
  if (util_ready_)
    if (auto shutdown = reinterpret_cast<ShutdownFn>(dlsym(handle_, "nvmlShutdown"))) shutdown();
  if (handle_) dlclose(handle_);
}

std::vector<int> NvmlDiscovery::Utilisation() {
  if (!handle_ || util_broken_) return {};
  auto init = reinterpret_cast<InitFn>(dlsym(handle_, "nvmlInit_v2"));
  auto get_count = reinterpret_cast<GetCountFn>(dlsym(handle_, "nvmlDeviceGetCount_v2"));
  auto get_handle = reinterpret_cast<GetHandleFn>(dlsym(handle_, "nvmlDeviceGetHandleByIndex_v2"));
  auto get_util = reinterpret_cast<GetUtilFn>(dlsym(handle_, "nvmlDeviceGetUtilizationRates"));
  if (!init || !get_count || !get_handle || !get_util) {
    util_broken_ = true;
    return {};
  }
  if (!util_ready_) {
    if (init() != NVML_SUCCESS) {
      util_broken_ = true;
      return {};
    }
    util_ready_ = true;
  }
  unsigned int count = 0;
  if (get_count(&count) != NVML_SUCCESS) return {};
  std::vector<int> out;
  for (unsigned int i = 0; i < count && i < static_cast<unsigned>(kMaxGpusPerNode); ++i) {
    nvmlDevice_t dev = nullptr;
    nvmlUtilization_t u{};
    if (get_handle(i, &dev) != NVML_SUCCESS || get_util(dev, &u) != NVML_SUCCESS) return {};
    out.push_back(static_cast<int>(std::min(100u, u.gpu)));
  }
  return out;
}

std::vector<int> EmulatedDiscovery::Utilisation() {
  std::vector<int> out(gpus_.size(), 0);
  if (util_file_.empty()) return out;
  std::ifstream f(util_file_);
  int v = 0;
  for (size_t i = 0; i < out.size() && (f >> v); ++i) out[i] = std::clamp(v, 0, 100);
  return out;
}

std::string NvmlDiscovery::Describe() const {
  return driver_version_.empty() ? "NVML" : "NVML, driver " + driver_version_;
}

Result<std::vector<api::GpuInfo>> NvmlDiscovery::Discover() {
  if (!handle_) {
    handle_ = dlopen(library_.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
      const char* why = dlerror();
      return Error{ErrorCode::kUnsupported,
                   fmt::format("NVML not available: cannot load {}: {}", library_, why ? why : "unknown error")};
    }
  }
  auto sym = [&](const char* name) { return dlsym(handle_, name); };
  auto init = reinterpret_cast<InitFn>(sym("nvmlInit_v2"));
  auto shutdown = reinterpret_cast<ShutdownFn>(sym("nvmlShutdown"));
  auto get_count = reinterpret_cast<GetCountFn>(sym("nvmlDeviceGetCount_v2"));
  auto get_handle = reinterpret_cast<GetHandleFn>(sym("nvmlDeviceGetHandleByIndex_v2"));
  auto get_name = reinterpret_cast<GetNameFn>(sym("nvmlDeviceGetName"));
  auto get_uuid = reinterpret_cast<GetUuidFn>(sym("nvmlDeviceGetUUID"));
  auto get_memory = reinterpret_cast<GetMemoryFn>(sym("nvmlDeviceGetMemoryInfo"));
  auto driver_version = reinterpret_cast<DriverVersionFn>(sym("nvmlSystemGetDriverVersion"));
  auto error_string = reinterpret_cast<ErrorStringFn>(sym("nvmlErrorString"));
  // MIG (drivers from R450 on); absent = no MIG.
  auto get_mig_mode = reinterpret_cast<GetMigModeFn>(sym("nvmlDeviceGetMigMode"));
  auto get_max_mig = reinterpret_cast<GetMaxMigFn>(sym("nvmlDeviceGetMaxMigDeviceCount"));
  auto get_mig_handle = reinterpret_cast<GetMigHandleFn>(sym("nvmlDeviceGetMigDeviceHandleByIndex"));
  if (!init || !shutdown || !get_count || !get_handle || !get_name || !get_uuid || !get_memory)
    return Error{ErrorCode::kUnsupported, fmt::format("NVML: {} lacks a needed function", library_)};
  auto why = [&](nvmlReturn_t r) {
    const char* s = error_string ? error_string(r) : nullptr;
    return s ? std::string(s) : fmt::format("NVML error {}", r);
  };
  if (nvmlReturn_t r = init(); r != NVML_SUCCESS)
    return Error{ErrorCode::kUnsupported, "NVML: nvmlInit failed: " + why(r)};
  struct Shutdown {
    ShutdownFn fn;
    ~Shutdown() { fn(); }
  } guard{shutdown};

  if (driver_version) {
    char buf[kDriverBuffer] = {};
    if (driver_version(buf, kDriverBuffer) == NVML_SUCCESS) driver_version_ = buf;
  }
  unsigned int count = 0;
  if (nvmlReturn_t r = get_count(&count); r != NVML_SUCCESS)
    return Error{ErrorCode::kIo, "NVML: nvmlDeviceGetCount failed: " + why(r)};
  if (count > static_cast<unsigned>(kMaxGpusPerNode))
    return Error{ErrorCode::kUnsupported,
                 fmt::format("NVML reports {} GPUs; kojo handles at most {} per node", count, kMaxGpusPerNode)};
  std::vector<api::GpuInfo> gpus;
  full_names_.clear();
  for (unsigned int i = 0; i < count; ++i) {
    nvmlDevice_t dev = nullptr;
    if (nvmlReturn_t r = get_handle(i, &dev); r != NVML_SUCCESS)
      return Error{ErrorCode::kIo, fmt::format("NVML: GPU {}: nvmlDeviceGetHandleByIndex failed: {}", i, why(r))};
    char name[kNameBuffer] = {};
    char uuid[kUuidBuffer] = {};
    nvmlMemory_t mem{};
    if (nvmlReturn_t r = get_name(dev, name, kNameBuffer); r != NVML_SUCCESS)
      return Error{ErrorCode::kIo, fmt::format("NVML: GPU {}: nvmlDeviceGetName failed: {}", i, why(r))};
    if (nvmlReturn_t r = get_uuid(dev, uuid, kUuidBuffer); r != NVML_SUCCESS)
      return Error{ErrorCode::kIo, fmt::format("NVML: GPU {}: nvmlDeviceGetUUID failed: {}", i, why(r))};
    if (nvmlReturn_t r = get_memory(dev, &mem); r != NVML_SUCCESS)
      return Error{ErrorCode::kIo, fmt::format("NVML: GPU {}: nvmlDeviceGetMemoryInfo failed: {}", i, why(r))};
    // A GPU split by MIG: each instance is a GPU of its own model.
    unsigned int mig_now = 0, mig_pending = 0, mig_max = 0;
    if (get_mig_mode && get_max_mig && get_mig_handle && get_mig_mode(dev, &mig_now, &mig_pending) == NVML_SUCCESS &&
        mig_now == kMigEnabled && get_max_mig(dev, &mig_max) == NVML_SUCCESS) {
      for (unsigned int m = 0; m < mig_max; ++m) {
        nvmlDevice_t mig = nullptr;
        if (get_mig_handle(dev, m, &mig) != NVML_SUCCESS) continue;  // no instance at this index
        char mig_name[kNameBuffer] = {};
        char mig_uuid[kUuidBuffer] = {};
        nvmlMemory_t mig_mem{};
        if (get_uuid(mig, mig_uuid, kUuidBuffer) != NVML_SUCCESS) continue;
        get_name(mig, mig_name, kNameBuffer);
        get_memory(mig, &mig_mem);
        if (gpus.size() >= static_cast<size_t>(kMaxGpusPerNode))
          return Error{ErrorCode::kUnsupported,
                       fmt::format("NVML reports more than {} GPUs and MIG instances; kojo handles at most {} per node",
                                   kMaxGpusPerNode, kMaxGpusPerNode)};
        api::GpuInfo g;
        g.index = static_cast<int>(gpus.size());
        const MiB mib = static_cast<MiB>(mig_mem.total / (1024ULL * 1024ULL));
        g.model = MigModel(NormaliseGpuModel(name), MigProfile(mig_name, mib));
        g.mem_mib = mib;
        g.uuid = mig_uuid;
        gpus.push_back(std::move(g));
        full_names_.emplace_back(mig_name);
      }
      continue;
    }
    if (gpus.size() >= static_cast<size_t>(kMaxGpusPerNode))
      return Error{ErrorCode::kUnsupported,
                   fmt::format("NVML reports more than {} GPUs and MIG instances; kojo handles at most {} per node",
                               kMaxGpusPerNode, kMaxGpusPerNode)};
    api::GpuInfo g;
    g.index = static_cast<int>(gpus.size());
    g.model = NormaliseGpuModel(name);
    g.mem_mib = static_cast<MiB>(mem.total / (1024ULL * 1024ULL));
    g.uuid = uuid;
    gpus.push_back(std::move(g));
    full_names_.emplace_back(name);
  }
  return gpus;
}

Result<std::unique_ptr<EmulatedDiscovery>> EmulatedDiscovery::Create(const std::string& spec,
                                                                      const std::string& node) {
  auto fail = [&](std::string_view what) -> Error {
    return InvalidArgument(fmt::format(
        "--emulate-gpus '{}': {} (expected COUNTxMODEL groups separated by commas, e.g. 8xH100-80GB or "
        "2xA100,2xT4)", spec, what));
  };
  std::vector<api::GpuInfo> gpus;
  std::string_view rest = spec;
  if (Trim(rest).empty()) return fail("empty");
  while (!rest.empty()) {
    std::string_view group = rest.substr(0, rest.find(','));
    rest = group.size() < rest.size() ? rest.substr(group.size() + 1) : std::string_view();
    group = Trim(group);
    // ":mig=PROFILE*N+PROFILE*N": each GPU of the group split into MIG instances.
    std::vector<std::pair<std::string, long>> slices;
    if (size_t colon = group.find(':'); colon != std::string_view::npos) {
      std::string_view mig = group.substr(colon + 1);
      group = group.substr(0, colon);
      if (mig.substr(0, 4) != "mig=" || mig.size() == 4)
        return fail(fmt::format("group '{}': expected :mig=PROFILE*COUNT after the model", group));
      mig.remove_prefix(4);
      while (!mig.empty()) {
        std::string_view one = mig.substr(0, mig.find('+'));
        mig = one.size() < mig.size() ? mig.substr(one.size() + 1) : std::string_view();
        const size_t star = one.find('*');
        const std::string_view profile = one.substr(0, star);
        auto n = star == std::string_view::npos ? std::optional<long>(1) : ParseLong(one.substr(star + 1));
        if (!MigShareMilli(MigModel("X", profile)) || !n || *n < 1 || *n > 7)
          return fail(fmt::format("group '{}': MIG slice '{}' is not PROFILE*COUNT like 1g.10gb*7", group, one));
        slices.emplace_back(std::string(profile), *n);
      }
    }
    size_t x = group.find('x');
    if (x == std::string_view::npos) return fail(fmt::format("group '{}' lacks 'x'", group));
    auto count = ParseLong(group.substr(0, x));
    if (!count || *count < 1 || *count > kMaxGpusPerNode)
      return fail(fmt::format("group '{}': count must be 1..{}", group, kMaxGpusPerNode));
    std::string_view model = group.substr(x + 1);
    MiB mem = -1;
    if (size_t dash = model.rfind('-'); dash != std::string_view::npos) {
      std::string_view size = model.substr(dash + 1);
      if (size.size() > 2 && (size.substr(size.size() - 2) == "GB" || size.substr(size.size() - 2) == "gb")) {
        auto gb = ParseLong(size.substr(0, size.size() - 2));
        if (!gb || *gb < 1 || *gb > 1024 * 1024) return fail(fmt::format("group '{}': bad memory size", group));
        mem = *gb * 1024;
        model = model.substr(0, dash);
      }
    }
    if (!ValidModel(model))
      return fail(fmt::format("group '{}': GPU model must be a name like H100 or A100", group));
    if (mem < 0) mem = KnownGpuMemory(model);
    if (!slices.empty()) {
      const int of = *MigShareMilli(MigModel(model, "4g.1gb")) == 1000 ? 4 : 7;
      long used = 0;
      for (const auto& [profile, n] : slices) used += n * std::stol(profile);
      if (used > of)
        return fail(fmt::format("group '{}': the MIG slices use {} compute slices of a GPU that has {}", group, used, of));
      for (long i = 0; i < *count; ++i) {
        int k = 0;
        for (const auto& [profile, n] : slices)
          for (long j = 0; j < n; ++j, ++k) {
            if (gpus.size() >= static_cast<size_t>(kMaxGpusPerNode))
              return fail(fmt::format("more than {} GPUs", kMaxGpusPerNode));
            api::GpuInfo g;
            g.index = static_cast<int>(gpus.size());
            g.model = MigModel(model, profile);
            const size_t dot = profile.find('.');
            auto gb = ParseLong(std::string_view(profile).substr(dot + 1, profile.size() - dot - 3));
            g.mem_mib = gb ? *gb * 1024 : 0;
            g.uuid = fmt::format("MIG-EMU-{}-{}-{}", node, i, k);
            gpus.push_back(std::move(g));
          }
      }
      continue;
    }
    for (long i = 0; i < *count; ++i) {
      if (gpus.size() >= static_cast<size_t>(kMaxGpusPerNode))
        return fail(fmt::format("more than {} GPUs", kMaxGpusPerNode));
      api::GpuInfo g;
      g.index = static_cast<int>(gpus.size());
      g.model = std::string(model);
      g.mem_mib = mem;
      g.uuid = fmt::format("EMU-{}-{}", node, g.index);
      gpus.push_back(std::move(g));
    }
  }
  return std::unique_ptr<EmulatedDiscovery>(new EmulatedDiscovery(spec, std::move(gpus)));
}

MilliCpu HostCpuMilli() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return static_cast<MilliCpu>(n > 0 ? n : 1) * 1000;
}

MiB HostMemMib() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemTotal:", 0) != 0) continue;
    std::istringstream s(line.substr(9));
    long long kib = 0;
    s >> kib;
    return static_cast<MiB>(kib / 1024);
  }
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<MiB>(pages / (1024 * 1024 / page)) : 0;
}

}  // namespace kojo::agent
