// The checking library's sanitizer (sanitizer.cpp), as the driver and the runtime see it. The
// plain library does not link it: the declarations are weak and its functions then null.
#pragma once
#include <cstddef>

namespace cuda_emu {
// Device memory of exactly `bytes`, 256-byte aligned, between guard zones; null when the arena is
// exhausted.
__attribute__((weak)) void* san_alloc(size_t bytes);
// Frees memory from san_alloc (false if p is not one); its addresses are never handed out again.
__attribute__((weak)) bool san_free(void* p);
// Called by the runtime around every launch in checking mode (1 before, 0 after).
__attribute__((weak)) void san_launch(int begin);
// Reports printed so far.
__attribute__((weak)) long san_reports();
}  // namespace cuda_emu
