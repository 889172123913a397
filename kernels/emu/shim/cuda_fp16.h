// Lumen CUDA emulation: everything cuda_fp16.h would declare comes from cuda_emu.h.
#pragma once
#include "cuda_emu.h"
