// Lumen CUDA emulation: everything cuda_runtime_api.h would declare comes from cuda_emu.h.
#pragma once
#include "cuda_emu.h"
