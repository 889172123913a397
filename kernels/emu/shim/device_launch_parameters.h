// Lumen CUDA emulation: everything device_launch_parameters.h would declare comes from cuda_emu.h.
#pragma once
#include "cuda_emu.h"
