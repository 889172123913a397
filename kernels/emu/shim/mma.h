// Lumen CUDA emulation: nvcuda::wmma (what mma.h would declare) comes from cuda_emu.h.
#pragma once
#include "cuda_emu.h"
