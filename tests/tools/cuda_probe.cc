// kojo-cuda-probe: a real CUDA job for the `gpu` tests, built without CUDA.
//
// Loads the driver API (libcuda.so.1) with dlopen, lists the devices the
// process can see (so CUDA_VISIBLE_DEVICES is honoured exactly as by any
// CUDA program), then on device 0 JIT-compiles a small PTX kernel, runs it
// over `n` values, copies them back and checks every one. Prints one
// `key=value` line per fact:
//   cuda-devices=N
//   device0=GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx   (per device)
//   name0=NVIDIA H100 80GB HBM3
//   kernel=ok 1048576                                  (or kernel=bad ...)
//   busy=ok 12.0s 345 launches          (with a second argument: keeps the
//                                        GPU busy that many seconds)
// Exit status: 0 when the kernel's results are right or when no device is
// visible (cuda-devices=0), 2 when the driver is missing, 1 on any CUDA error.
#include <dlfcn.h>

#include <chrono>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

using CUresult = int;
using CUdevice = int;
using CUcontext = void*;
using CUmodule = void*;
using CUfunction = void*;
using CUdeviceptr = unsigned long long;
struct CUuuid {
  unsigned char bytes[16];
};
constexpr CUresult kSuccess = 0;
constexpr CUresult kNoDevice = 100;  // CUDA_ERROR_NO_DEVICE

// out[i] = 3 * i + 1 for i < n; one thread per value.
constexpr const char* kPtx = R"(
.version 6.0
.target sm_50
.address_size 64

.visible .entry fill(.param .u64 out, .param .u32 n)
{
  .reg .pred %p<2>;
  .reg .b32 %r<7>;
  .reg .b64 %rd<5>;
  ld.param.u64 %rd1, [out];
  ld.param.u32 %r6, [n];
  cvta.to.global.u64 %rd2, %rd1;
  mov.u32 %r1, %ctaid.x;
  mov.u32 %r2, %ntid.x;
  mov.u32 %r3, %tid.x;
  mad.lo.s32 %r4, %r1, %r2, %r3;
  setp.ge.u32 %p1, %r4, %r6;
  @%p1 bra DONE;
  mad.lo.s32 %r5, %r4, 3, 1;
  mul.wide.u32 %rd3, %r4, 4;
  add.s64 %rd4, %rd2, %rd3;
  st.global.u32 [%rd4], %r5;
DONE:
  ret;
}

.visible .entry spin(.param .u64 out, .param .u32 iters)
{
  .reg .pred %p<2>;
  .reg .b32 %r<5>;
  .reg .f32 %f<2>;
  .reg .b64 %rd<5>;
  ld.param.u64 %rd1, [out];
  ld.param.u32 %r1, [iters];
  mov.u32 %r2, 0;
  mov.f32 %f1, 0f3F800000;
SPIN:
  fma.rn.f32 %f1, %f1, 0f3F7FFFFF, 0f3F800000;
  add.u32 %r2, %r2, 1;
  setp.lt.u32 %p1, %r2, %r1;
  @%p1 bra SPIN;
  cvta.to.global.u64 %rd2, %rd1;
  mov.u32 %r3, %tid.x;
  mul.wide.u32 %rd3, %r3, 4;
  add.s64 %rd4, %rd2, %rd3;
  st.global.f32 [%rd4], %f1;
  ret;
}
)";

struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGetCount)(int*);
  CUresult (*cuDeviceGet)(CUdevice*, int);
  CUresult (*cuDeviceGetName)(char*, int, CUdevice);
  CUresult (*cuDeviceGetUuid)(CUuuid*, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuModuleLoadData)(CUmodule*, const void*);
  CUresult (*cuModuleGetFunction)(CUfunction*, CUmodule, const char*);
  CUresult (*cuMemAlloc)(CUdeviceptr*, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void*,
                             void**, void**);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuMemcpyDtoH)(void*, CUdeviceptr, size_t);
  CUresult (*cuGetErrorString)(CUresult, const char**);
};

template <typename F>
bool Load(void* lib, const char* name, F& f) {
  f = reinterpret_cast<F>(dlsym(lib, name));
  if (!f) std::fprintf(stderr, "libcuda.so.1 has no %s\n", name);
  return f != nullptr;
}

const Driver* g_driver = nullptr;

bool Check(CUresult r, const char* what) {
  if (r == kSuccess) return true;
  const char* text = "unknown error";
  if (g_driver && g_driver->cuGetErrorString) g_driver->cuGetErrorString(r, &text);
  std::printf("error=%s: %s (%d)\n", what, text, r);
  return false;
}

// NVML's spelling of a UUID: GPU-8-4-4-4-12 hex digits.
void PrintUuid(int i, const CUuuid& u) {
  std::printf("device%d=GPU-", i);
  for (int b = 0; b < 16; ++b) {
    std::printf("%02x", u.bytes[b]);
    if (b == 3 || b == 5 || b == 7 || b == 9) std::printf("-");
  }
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned n = argc > 1 ? static_cast<unsigned>(std::strtoul(argv[1], nullptr, 10)) : (1u << 20);
  const double busy_s = argc > 2 ? std::strtod(argv[2], nullptr) : 0;
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    std::printf("error=no CUDA driver: %s\n", dlerror());
    return 2;
  }
  Driver d{};
  bool ok = Load(lib, "cuInit", d.cuInit) && Load(lib, "cuDeviceGetCount", d.cuDeviceGetCount) &&
            Load(lib, "cuDeviceGet", d.cuDeviceGet) && Load(lib, "cuDeviceGetName", d.cuDeviceGetName) &&
            Load(lib, "cuDeviceGetUuid", d.cuDeviceGetUuid) &&
            Load(lib, "cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain) &&
            Load(lib, "cuDevicePrimaryCtxRelease_v2", d.cuDevicePrimaryCtxRelease) &&
            Load(lib, "cuCtxSetCurrent", d.cuCtxSetCurrent) && Load(lib, "cuModuleLoadData", d.cuModuleLoadData) &&
            Load(lib, "cuModuleGetFunction", d.cuModuleGetFunction) && Load(lib, "cuMemAlloc_v2", d.cuMemAlloc) &&
            Load(lib, "cuMemFree_v2", d.cuMemFree) && Load(lib, "cuLaunchKernel", d.cuLaunchKernel) &&
            Load(lib, "cuCtxSynchronize", d.cuCtxSynchronize) && Load(lib, "cuMemcpyDtoH_v2", d.cuMemcpyDtoH) &&
            Load(lib, "cuGetErrorString", d.cuGetErrorString);
  if (!ok) return 1;
  g_driver = &d;

  const CUresult init = d.cuInit(0);
  if (init == kNoDevice) {
    std::printf("cuda-devices=0\n");
    return 0;
  }
  if (!Check(init, "cuInit")) return 1;
  int count = 0;
  if (!Check(d.cuDeviceGetCount(&count), "cuDeviceGetCount")) return 1;
  std::printf("cuda-devices=%d\n", count);
  for (int i = 0; i < count; ++i) {
    CUdevice dev = 0;
    char name[256] = {};
    CUuuid uuid{};
    if (!Check(d.cuDeviceGet(&dev, i), "cuDeviceGet") || !Check(d.cuDeviceGetName(name, sizeof name, dev), "name") ||
        !Check(d.cuDeviceGetUuid(&uuid, dev), "uuid"))
      return 1;
    PrintUuid(i, uuid);
    std::printf("name%d=%s\n", i, name);
  }
  if (count == 0) return 0;

  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  CUmodule mod = nullptr;
  CUfunction fill = nullptr;
  CUdeviceptr out = 0;
  if (!Check(d.cuDeviceGet(&dev, 0), "cuDeviceGet") || !Check(d.cuDevicePrimaryCtxRetain(&ctx, dev), "context") ||
      !Check(d.cuCtxSetCurrent(ctx), "cuCtxSetCurrent") || !Check(d.cuModuleLoadData(&mod, kPtx), "load PTX") ||
      !Check(d.cuModuleGetFunction(&fill, mod, "fill"), "kernel") ||
      !Check(d.cuMemAlloc(&out, sizeof(unsigned) * n), "cuMemAlloc"))
    return 1;
  unsigned count_arg = n;
  void* params[] = {&out, &count_arg};
  const unsigned block = 256, grid = (n + block - 1) / block;
  if (!Check(d.cuLaunchKernel(fill, grid, 1, 1, block, 1, 1, 0, nullptr, params, nullptr), "launch") ||
      !Check(d.cuCtxSynchronize(), "synchronise"))
    return 1;
  std::vector<unsigned> host(n);
  if (!Check(d.cuMemcpyDtoH(host.data(), out, sizeof(unsigned) * n), "copy back")) return 1;
  unsigned wrong = 0;
  for (unsigned i = 0; i < n; ++i) wrong += host[i] != 3 * i + 1;
  if (wrong != 0) {
    std::printf("kernel=bad %u of %u wrong\n", wrong, n);
    return 1;
  }
  std::printf("kernel=ok %u\n", n);
  std::fflush(stdout);
  if (busy_s > 0 && n >= 256) {
    // Keeps every multiprocessor busy (a dependent chain of multiply-adds
    // per thread) until busy_s have passed, so that NVML reports the GPU in use.
    CUfunction spin = nullptr;
    if (!Check(d.cuModuleGetFunction(&spin, mod, "spin"), "kernel spin")) return 1;
    unsigned iters = 1u << 18;
    void* spin_params[] = {&out, &iters};
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    unsigned launches = 0;
    while (elapsed < busy_s) {
      if (!Check(d.cuLaunchKernel(spin, 1024, 1, 1, 256, 1, 1, 0, nullptr, spin_params, nullptr), "launch spin") ||
          !Check(d.cuCtxSynchronize(), "synchronise spin"))
        return 1;
      ++launches;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    std::printf("busy=ok %.1fs %u launches\n", elapsed, launches);
  }
  d.cuMemFree(out);
  d.cuDevicePrimaryCtxRelease(dev);
  return 0;
}
