// What the emulated cuBLAS and cuDNN ask the emulated driver loaded in the same process: the
// calling thread's current device, and which device a pointer's allocation belongs to. A real
// cuBLAS or cuDNN handle belongs to the device current when it was made; used while another
// device is current, or given another device's memory, its kernels fail on a GPU. The emulated
// libraries check both and fail the call the same way, with a line on stderr.
//
// The driver is found among the loaded libraries (libcuda_emu*.so, loaded first by the Java
// binding, which finds these libraries beside it); without one the checks are skipped.
#pragma once
#include <dlfcn.h>
#include <link.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>

namespace {
namespace emulated_device {

struct Driver {
    int (*ctx_get_device)(int*) = nullptr;                 // cuCtxGetDevice
    int (*pointer_device)(unsigned long long) = nullptr;   // lumen_emu_pointer_device
};

inline int find_driver(dl_phdr_info* info, size_t, void* out) {
    if (info->dlpi_name && std::strstr(info->dlpi_name, "libcuda_emu")) {
        *static_cast<const char**>(out) = info->dlpi_name;
        return 1;
    }
    return 0;
}

inline const Driver& driver() {
    static const Driver d = [] {
        Driver r;
        const char* path = nullptr;
        dl_iterate_phdr(find_driver, &path);
        void* lib = path ? dlopen(path, RTLD_NOW | RTLD_NOLOAD) : nullptr;
        if (lib) {
            r.ctx_get_device = reinterpret_cast<int (*)(int*)>(dlsym(lib, "cuCtxGetDevice"));
            r.pointer_device = reinterpret_cast<int (*)(unsigned long long)>(dlsym(lib, "lumen_emu_pointer_device"));
        }
        return r;
    }();
    return d;
}

// The calling thread's current device, or -1 (no driver, or no current context).
inline int current() {
    int dev = -1;
    const Driver& d = driver();
    return d.ctx_get_device && d.ctx_get_device(&dev) == 0 ? dev : -1;
}

// True when a handle of device `device` (-1: unknown, unchecked) may run `call` on the calling
// thread with these pointers: that device is current, and each pointer is its memory or no
// device memory at all.
inline bool usable(const char* lib, const char* call, int device, std::initializer_list<const void*> pointers) {
    if (device < 0) return true;
    int cur = current();
    if (cur != device) {
        std::fprintf(stderr, "lumen-emu: %s: %s with a handle of device %d while device %d's context is current\n", lib, call,
                     device, cur);
        return false;
    }
    const Driver& d = driver();
    if (!d.pointer_device) return true;
    int i = 0;
    for (const void* p : pointers) {
        int owner = p ? d.pointer_device(uintptr_t(p)) : -1;
        if (owner >= 0 && owner != device) {
            std::fprintf(stderr, "lumen-emu: %s: %s on device %d given device %d's memory (pointer argument %d, %p)\n", lib,
                         call, device, owner, i, p);
            return false;
        }
        i++;
    }
    return true;
}

}  // namespace emulated_device
}  // namespace
