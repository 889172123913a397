package dev.lumen.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Finds the NCCL shared library to bind, the way {@link CublasLibrary} finds cuBLAS: the file
 * that the system property lumen.nccl.library or the environment variable LUMEN_NCCL_LIBRARY
 * names; under the emulated driver, libnccl_emu.so beside it (emulated device memory is host
 * memory, which only the emulated NCCL understands); otherwise libnccl.so.2 through the dynamic
 * loader (LD_LIBRARY_PATH, the loader cache) and then in the lib folder of NVIDIA's pip wheel
 * (site-packages/nvidia/nccl/lib, as PyTorch installs it).
 */
final class NcclLibrary {
    static final String PROPERTY = "lumen.nccl.library";
    static final String ENV = "LUMEN_NCCL_LIBRARY";
    static final String SONAME = "libnccl.so.2";
    static final String EMULATED = "libnccl_emu.so";

    /** A loaded library and the name it was found under, for messages. */
    record Found(String name, SymbolLookup lookup) {}

    private NcclLibrary() {}

    /** The library to bind, or a CudaException whose message is the one-line reason there is none. */
    static Found locate() {
        String named = System.getProperty(PROPERTY);
        if (named == null || named.isBlank()) named = System.getenv(ENV);
        if (named != null && !named.isBlank()) return named(named.strip());
        CudaDriver driver = CudaDriver.get();
        if (driver.isEmulated()) return besideEmulatedDriver(driver.library());
        return bySoname(wheelLibDirs());
    }

    static Found named(String name) {
        if (name.contains("/")) {
            Path p = Path.of(name);
            if (!Files.isRegularFile(p)) throw unavailable(name + " not found (named by " + PROPERTY + " or " + ENV + ")");
            return load(p);
        }
        Found f = dlopen(name);
        if (f == null) throw unavailable(name + " not found by the dynamic loader (named by " + PROPERTY + " or " + ENV
                + "; LD_LIBRARY_PATH=" + ldLibraryPath() + ")");
        return f;
    }

    /** The emulated NCCL in the emulated driver's folder (where `make kernels` builds both). */
    static Found besideEmulatedDriver(String driverLibrary) {
        Path p = Path.of(driverLibrary).toAbsolutePath().resolveSibling(EMULATED);
        if (!Files.isRegularFile(p)) {
            throw unavailable(EMULATED + " not found (looked in " + p.getParent() + ", the emulated driver's folder; `make kernels` builds it)");
        }
        return load(p);
    }

    static Found bySoname(List<Path> dirs) {
        Found f = dlopen(SONAME);
        if (f != null) return f;
        for (Path dir : dirs) {
            Path p = dir.resolve(SONAME);
            if (Files.isRegularFile(p)) return load(p);
        }
        throw unavailable(SONAME + " not found (looked in the dynamic loader's path (LD_LIBRARY_PATH=" + ldLibraryPath()
                + ", ld.so.cache) and " + (dirs.isEmpty() ? "no pip wheel folder (site-packages/nvidia/nccl/lib under the python3 prefixes)"
                : String.join(", ", dirs.stream().map(Path::toString).toList())) + ")");
    }

    private static Found dlopen(String soname) {
        try {
            return new Found(soname, SymbolLookup.libraryLookup(soname, Arena.global()));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static Found load(Path p) {
        try {
            return new Found(p.toString(), SymbolLookup.libraryLookup(p, Arena.global()));
        } catch (IllegalArgumentException e) {
            throw unavailable(p + " exists but cannot be loaded (a missing dependency or the wrong architecture)");
        }
    }

    /** site-packages/nvidia/nccl/lib, where NVIDIA's nvidia-nccl-cu13 wheel (and PyTorch's install) puts it. */
    static List<Path> wheelLibDirs() { return CublasLibrary.wheelLibDirs("nvidia/nccl/lib"); }

    private static String ldLibraryPath() { return CublasLibrary.ldLibraryPath(); }

    private static CudaException unavailable(String reason) {
        return new CudaException("NCCL unavailable: " + reason, -1);
    }
}
