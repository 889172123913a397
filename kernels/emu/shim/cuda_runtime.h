// Lumen CUDA emulation: everything cuda_runtime.h would declare comes from cuda_emu.h.
#pragma once
#include "cuda_emu.h"
