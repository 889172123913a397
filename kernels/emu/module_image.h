// What a real driver finds in a module image: the kernel entry points of each architecture.
// Used by the emulated cuModuleLoadData so that a stale or wrong image fails as on a GPU.
#pragma once
#include <map>
#include <set>
#include <string>

namespace cuda_emu {
// Architecture ("sm_90", "compute_90" for PTX) -> entry points.
using ImageEntries = std::map<std::string, std::set<std::string>>;
// Reads a fatbin (zstd- or LZ4-compressed members included), a cubin (ELF) or PTX text. Returns
// "" on success, else why the image is not one.
std::string read_module_image(const void* image, ImageEntries* out);
// Entry points present for every architecture of the image.
std::set<std::string> common_entries(const ImageEntries& e);
}  // namespace cuda_emu
