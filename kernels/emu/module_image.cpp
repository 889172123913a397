// Module images as nvcc makes them (see module_image.h). A fatbin is a 16-byte header (magic
// 0xBA55ED50, version, header size, payload size) followed by members, each with its own header:
// kind (1 PTX, 2 ELF cubin), header size, padded payload size, compressed size, architecture,
// flags and uncompressed size; nvcc 12.8+ compresses members with zstd, earlier ones with LZ4.
// Cubin entry points are the global functions marked STO_CUDA_ENTRY; PTX ones are `.entry NAME(`.
#include "module_image.h"

#include <dlfcn.h>
#include <elf.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace cuda_emu {
namespace {

constexpr uint32_t kFatbinMagic = 0xBA55ED50u;
constexpr unsigned char kSTOCudaEntry = 0x10;

template <class T> T rd(const unsigned char* p) { T v; std::memcpy(&v, p, sizeof v); return v; }

std::string elf_entries(const unsigned char* img, size_t n, std::set<std::string>* out) {
    if (n < sizeof(Elf64_Ehdr) || std::memcmp(img, ELFMAG, SELFMAG) != 0) return "not an ELF cubin";
    auto eh = rd<Elf64_Ehdr>(img);
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shoff + uint64_t(eh.e_shnum) * sizeof(Elf64_Shdr) > n)
        return "truncated ELF cubin";
    for (int i = 0; i < eh.e_shnum; i++) {
        auto sh = rd<Elf64_Shdr>(img + eh.e_shoff + i * sizeof(Elf64_Shdr));
        if (sh.sh_type != SHT_SYMTAB) continue;
        if (sh.sh_link >= eh.e_shnum || sh.sh_offset + sh.sh_size > n) return "bad ELF symbol table";
        auto str = rd<Elf64_Shdr>(img + eh.e_shoff + sh.sh_link * sizeof(Elf64_Shdr));
        if (str.sh_offset + str.sh_size > n) return "bad ELF string table";
        for (uint64_t k = 0; k < sh.sh_size / sizeof(Elf64_Sym); k++) {
            auto s = rd<Elf64_Sym>(img + sh.sh_offset + k * sizeof(Elf64_Sym));
            if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || ELF64_ST_BIND(s.st_info) != STB_GLOBAL) continue;
            if (!(s.st_other & kSTOCudaEntry) || s.st_name >= str.sh_size) continue;
            const char* name = reinterpret_cast<const char*>(img + str.sh_offset + s.st_name);
            out->insert(std::string(name, strnlen(name, str.sh_size - s.st_name)));
        }
    }
    return "";
}

void ptx_entries(const char* text, size_t n, std::set<std::string>* out) {
    std::string s(text, strnlen(text, n));
    for (size_t at = s.find(".entry"); at != std::string::npos; at = s.find(".entry", at + 6)) {
        size_t b = s.find_first_not_of(" \t", at + 6), e = s.find_first_of(" \t\r\n(", b);
        if (b != std::string::npos && e != std::string::npos) out->insert(s.substr(b, e - b));
    }
}

// The decompressors come from the system's libzstd / liblz4 at first use (no build dependency).
std::string decompress(const unsigned char* src, size_t n, size_t raw, uint64_t flags, std::vector<unsigned char>* out) {
    out->resize(raw);
    bool zstd = n >= 4 && rd<uint32_t>(src) == 0xFD2FB528u;
    if (zstd) {
        static void* lib = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL);
        auto fn = lib ? reinterpret_cast<size_t (*)(void*, size_t, const void*, size_t)>(dlsym(lib, "ZSTD_decompress")) : nullptr;
        auto err = lib ? reinterpret_cast<unsigned (*)(size_t)>(dlsym(lib, "ZSTD_isError")) : nullptr;
        if (!fn || !err) return "the fatbin is zstd-compressed and libzstd.so.1 cannot be loaded";
        size_t got = fn(out->data(), raw, src, n);
        if (err(got) || got != raw) return "corrupt zstd member in the fatbin";
        return "";
    }
    if (flags & 0x2000) {
        static void* lib = dlopen("liblz4.so.1", RTLD_NOW | RTLD_LOCAL);
        auto fn = lib ? reinterpret_cast<int (*)(const char*, char*, int, int)>(dlsym(lib, "LZ4_decompress_safe")) : nullptr;
        if (!fn) return "the fatbin is LZ4-compressed and liblz4.so.1 cannot be loaded";
        int got = fn(reinterpret_cast<const char*>(src), reinterpret_cast<char*>(out->data()), int(n), int(raw));
        if (got < 0) return "corrupt LZ4 member in the fatbin";
        out->resize(size_t(got));
        return "";
    }
    out->assign(src, src + n);
    return "";
}

std::string fatbin_entries(const unsigned char* img, ImageEntries* out) {
    uint16_t header = rd<uint16_t>(img + 6);
    uint64_t size = rd<uint64_t>(img + 8);
    if (header < 16 || size > (uint64_t(1) << 34)) return "bad fatbin header";
    const unsigned char* p = img + header;
    const unsigned char* end = p + size;
    while (p + 64 <= end) {
        uint16_t kind = rd<uint16_t>(p);
        uint32_t hsize = rd<uint32_t>(p + 4);
        uint64_t padded = rd<uint64_t>(p + 8);
        uint32_t packed = rd<uint32_t>(p + 16);
        uint32_t arch = rd<uint32_t>(p + 28);
        uint64_t flags = rd<uint64_t>(p + 40);
        uint64_t raw = rd<uint64_t>(p + 56);
        if (hsize < 64 || p + hsize + padded > end) return "truncated fatbin member";
        const unsigned char* payload = p + hsize;
        size_t n = packed && packed <= padded ? packed : padded;
        std::vector<unsigned char> data;
        std::string err = decompress(payload, n, raw ? raw : n, flags, &data);
        if (!err.empty()) return err;
        std::string name = (kind == 1 ? "compute_" : "sm_") + std::to_string(arch);
        std::set<std::string>& names = (*out)[name];
        if (kind == 2) {
            err = elf_entries(data.data(), data.size(), &names);
            if (!err.empty()) return name + ": " + err;
        } else if (kind == 1) {
            ptx_entries(reinterpret_cast<const char*>(data.data()), data.size(), &names);
        }
        p += hsize + padded;
    }
    if (out->empty()) return "fatbin without members";
    return "";
}

}  // namespace

std::string read_module_image(const void* image, ImageEntries* out) {
    const unsigned char* img = static_cast<const unsigned char*>(image);
    out->clear();
    if (rd<uint32_t>(img) == kFatbinMagic) return fatbin_entries(img, out);
    if (std::memcmp(img, ELFMAG, SELFMAG) == 0) {
        // A cubin's size is in its header: the section headers come last.
        auto eh = rd<Elf64_Ehdr>(img);
        size_t n = eh.e_shoff + size_t(eh.e_shnum) * sizeof(Elf64_Shdr);
        return elf_entries(img, n, &(*out)["cubin"]);
    }
    const char* text = static_cast<const char*>(image);
    size_t len = strnlen(text, size_t(1) << 30);
    if (len > 0 && std::string(text, std::min<size_t>(len, 4096)).find(".version") != std::string::npos) {
        ptx_entries(text, len, &(*out)["ptx"]);
        return "";
    }
    return "neither a fatbin, a cubin nor PTX";
}

std::set<std::string> common_entries(const ImageEntries& e) {
    std::set<std::string> common;
    bool first = true;
    for (const auto& [arch, names] : e) {
        if (first) { common = names; first = false; continue; }
        std::set<std::string> keep;
        for (const std::string& n : common)
            if (names.count(n)) keep.insert(n);
        common.swap(keep);
    }
    return common;
}

}  // namespace cuda_emu
