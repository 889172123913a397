// Lumen CUDA emulation: everything vector_types.h would declare comes from cuda_emu.h.
#pragma once
#include "cuda_emu.h"
