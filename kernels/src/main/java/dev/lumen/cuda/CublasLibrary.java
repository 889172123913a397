package dev.lumen.cuda;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Finds the cuBLAS shared library to bind. In order: the file that the system property
 * lumen.cublas.library or the environment variable LUMEN_CUBLAS_LIBRARY names; under the
 * emulated driver, libcublas_emu.so beside it (emulated device memory is host memory, which only
 * the emulated cuBLAS understands); otherwise libcublas.so.13, then .12, through the dynamic
 * loader (LD_LIBRARY_PATH, the loader cache) and then in the lib folders of NVIDIA's pip wheels.
 */
final class CublasLibrary {
    static final String PROPERTY = "lumen.cublas.library";
    static final String ENV = "LUMEN_CUBLAS_LIBRARY";
    static final List<String> SONAMES = List.of("libcublas.so.13", "libcublas.so.12");
    static final String EMULATED = "libcublas_emu.so";

    /** A loaded library and the name it was found under, for messages. */
    record Found(String name, SymbolLookup lookup) {}

    private CublasLibrary() {}

    /** The library to bind, or a CudaException whose message is the one-line reason there is none. */
    static Found locate() {
        String named = System.getProperty(PROPERTY);
        if (named == null || named.isBlank()) named = System.getenv(ENV);
        if (named != null && !named.isBlank()) return named(named.strip());
        CudaDriver driver = CudaDriver.get();
        if (driver.isEmulated()) return besideEmulatedDriver(driver.library());
        return bySoname(SONAMES, wheelLibDirs());
    }

    /** The library a user named: a path, or a bare name for the dynamic loader. */
    static Found named(String name) {
        if (name.contains("/")) {
            Path p = Path.of(name);
            if (!Files.isRegularFile(p)) throw unavailable(name + " not found (named by " + PROPERTY + " or " + ENV + ")");
            return load(p);
        }
        return dlopen(name).orElseThrow(() -> unavailable(name + " not found by the dynamic loader (named by "
                + PROPERTY + " or " + ENV + "; LD_LIBRARY_PATH=" + ldLibraryPath() + ")"));
    }

    /** The emulated cuBLAS in the emulated driver's folder (where `make kernels` builds both). */
    static Found besideEmulatedDriver(String driverLibrary) {
        if (driverLibrary.contains("/")) {
            Path p = Path.of(driverLibrary).toAbsolutePath().resolveSibling(EMULATED);
            if (!Files.isRegularFile(p)) {
                throw unavailable(EMULATED + " not found (looked in " + p.getParent()
                        + ", the emulated driver's folder; `make kernels` builds it)");
            }
            return load(p);
        }
        return dlopen(EMULATED).orElseThrow(() -> unavailable(EMULATED + " not found by the dynamic loader (LD_LIBRARY_PATH="
                + ldLibraryPath() + ", where the emulated driver " + driverLibrary + " was found; `make kernels` builds it)"));
    }

    /** The first soname that the dynamic loader finds, or failing that, one in the given folders. */
    static Found bySoname(List<String> sonames, List<Path> dirs) {
        for (String soname : sonames) {
            var viaLoader = dlopen(soname);
            if (viaLoader.isPresent()) return viaLoader.get();
            for (Path dir : dirs) {
                Path p = dir.resolve(soname);
                if (Files.isRegularFile(p)) return load(p);
            }
        }
        String where = "the dynamic loader's path (LD_LIBRARY_PATH=" + ldLibraryPath() + ", ld.so.cache)";
        where += dirs.isEmpty()
                ? " and no pip wheel folder (site-packages/nvidia/{cu13,cublas}/lib under the python3 prefixes)"
                : " and " + String.join(", ", dirs.stream().map(Path::toString).toList());
        String alternatives = sonames.size() > 1 ? "; also tried " + String.join(", ", sonames.subList(1, sonames.size())) : "";
        throw unavailable(sonames.getFirst() + " not found (looked in " + where + alternatives + ")");
    }

    private static Optional<Found> dlopen(String soname) {
        try {
            return Optional.of(new Found(soname, SymbolLookup.libraryLookup(soname, Arena.global())));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    private static Found load(Path p) {
        try {
            return new Found(p.toString(), SymbolLookup.libraryLookup(p, Arena.global()));
        } catch (IllegalArgumentException e) {
            // The file is there, so the loader failed on it or on a dependency (libcublasLt for cuBLAS).
            throw unavailable(p + " exists but cannot be loaded (a missing dependency such as libcublasLt, or the wrong architecture)");
        }
    }

    /** The lib folders of NVIDIA's cuBLAS wheels: nvidia/cu13/lib (cuBLAS 13) and nvidia/cublas/lib (cuBLAS 12). */
    static List<Path> wheelLibDirs() { return wheelLibDirs("nvidia/cu13/lib", "nvidia/cublas/lib"); }

    /**
     * The given folders of NVIDIA's pip wheels (such as nvidia/nccl/lib) that exist under the
     * usual python3 prefixes: every site-packages or dist-packages folder of the system,
     * /usr/local, the user's ~/.local, an active virtualenv or conda environment, and pyenv's versions.
     */
    static List<Path> wheelLibDirs(String... subfolders) {
        Set<Path> libRoots = new LinkedHashSet<>();
        for (String env : new String[] {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
            String v = System.getenv(env);
            if (v != null && !v.isBlank()) libRoots.add(Path.of(v, "lib"));
        }
        String home = System.getProperty("user.home");
        libRoots.add(Path.of(home, ".local", "lib"));
        for (Path v : children(Path.of(home, ".pyenv", "versions"), "*")) libRoots.add(v.resolve("lib"));
        for (String p : new String[] {"/usr/local/lib", "/usr/lib", "/usr/lib64", "/opt/conda/lib"}) libRoots.add(Path.of(p));

        Set<Path> sites = new LinkedHashSet<>();
        for (Path root : libRoots) {
            for (Path py : children(root, "python3*")) {
                sites.add(py.resolve("site-packages"));
                sites.add(py.resolve("dist-packages"));
            }
        }
        List<Path> dirs = new ArrayList<>();
        for (Path site : sites) {
            for (String sub : subfolders) {
                Path d = site.resolve(sub);
                if (Files.isDirectory(d)) dirs.add(d);
            }
        }
        return dirs;
    }

    private static List<Path> children(Path dir, String glob) {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, glob)) {
            for (Path p : ds) if (Files.isDirectory(p)) out.add(p);
        } catch (IOException e) {
            // An unreadable folder holds no library we could load.
        }
        out.sort(null);
        return out;
    }

    static String ldLibraryPath() {
        String v = System.getenv("LD_LIBRARY_PATH");
        return v == null || v.isBlank() ? "unset" : v;
    }

    private static CudaException unavailable(String reason) {
        return new CudaException("cuBLAS unavailable: " + reason, -1);
    }
}
