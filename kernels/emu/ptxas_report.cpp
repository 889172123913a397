// Reads the ptxas -v report of the fatbin build (see ptxas_report.h). The report is looked up as
// $LUMEN_EMU_PTXAS_REPORT, else ../ptxas-report.txt from this library's folder.
#include "ptxas_report.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

namespace cuda_emu {
namespace {

std::map<std::string, PtxasInfo> g_info;
std::once_flag g_once;

int number_before(const char* line, const char* unit) {
    const char* at = std::strstr(line, unit);
    if (!at) return 0;
    while (at > line && at[-1] == ' ') at--;
    while (at > line && (at[-1] >= '0' && at[-1] <= '9')) at--;
    return std::atoi(at);
}

void load() {
    std::string path;
    if (const char* env = std::getenv("LUMEN_EMU_PTXAS_REPORT")) {
        path = env;
    } else {
        Dl_info info;
        if (!dladdr(reinterpret_cast<void*>(&load), &info) || !info.dli_fname) return;
        path = info.dli_fname;
        path = path.substr(0, path.rfind('/') + 1) + "../ptxas-report.txt";
    }
    FILE* f = std::fopen(path.c_str(), "r");
    if (!f) return;
    char line[4096];
    std::string kernel;
    bool sm90 = false;
    while (std::fgets(line, sizeof line, f)) {
        if (const char* e = std::strstr(line, "Compiling entry function '")) {
            const char* b = e + std::strlen("Compiling entry function '");
            const char* q = std::strchr(b, '\'');
            kernel = q ? std::string(b, q) : "";
            sm90 = std::strstr(line, "for 'sm_90'") != nullptr;
        } else if (sm90 && !kernel.empty() && std::strstr(line, "bytes stack frame")) {
            g_info[kernel].stack_bytes = number_before(line, "bytes stack frame");
        } else if (sm90 && !kernel.empty() && std::strstr(line, "registers")) {
            PtxasInfo& i = g_info[kernel];
            i.registers = number_before(line, "registers");
            i.shared_bytes = number_before(line, "bytes smem");
            i.const_bytes = number_before(line, "bytes cmem[0]");
        }
    }
    std::fclose(f);
}

}  // namespace

const PtxasInfo* ptxas_info(const char* kernel) {
    std::call_once(g_once, load);
    auto it = g_info.find(kernel);
    return it == g_info.end() ? nullptr : &it->second;
}

int max_threads(int launch_bounds, const PtxasInfo* info) {
    int limit = launch_bounds > 0 && launch_bounds < 1024 ? launch_bounds : 1024;
    if (info && info->registers > 0) {
        int regs = (info->registers + 7) / 8 * 8;          // allocated per thread in units of 8
        int warps = 65536 / (regs * 32);                   // 64 Ki registers per block
        if (warps * 32 < limit) limit = warps * 32;
    }
    return limit;
}

}  // namespace cuda_emu
