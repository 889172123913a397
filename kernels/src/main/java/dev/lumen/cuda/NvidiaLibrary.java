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
 * Finds one of NVIDIA's shared libraries (cuBLAS, NCCL) to bind. In order: the file that a system
 * property or an environment variable names; under the emulated driver, the emulated library
 * beside it (emulated device memory is host memory, which only the emulated library understands);
 * otherwise its sonames, newest first, through the dynamic loader (LD_LIBRARY_PATH, the loader
 * cache) and then in the lib folders of NVIDIA's pip wheels (as PyTorch installs them).
 *
 * @param label     the library's name in messages ("cuBLAS")
 * @param property  the system property that names a file (lumen.cublas.library)
 * @param env       the environment variable that names a file (LUMEN_CUBLAS_LIBRARY)
 * @param sonames   the sonames to try, in order
 * @param emulated  the emulated library's file name, built beside the emulated driver
 * @param wheelDirs the lib folders of its pip wheels under site-packages (nvidia/nccl/lib)
 * @param dependency what else a present but unloadable file may be missing, for the message
 */
record NvidiaLibrary(String label, String property, String env, List<String> sonames, String emulated, List<String> wheelDirs,
                     String dependency) {
    /** cuBLAS 13 from nvidia-cublas (nvidia/cu13/lib), or 12 (nvidia/cublas/lib). */
    static final NvidiaLibrary CUBLAS = new NvidiaLibrary("cuBLAS", "lumen.cublas.library", "LUMEN_CUBLAS_LIBRARY",
            List.of("libcublas.so.13", "libcublas.so.12"), "libcublas_emu.so", List.of("nvidia/cu13/lib", "nvidia/cublas/lib"),
            "a missing dependency such as libcublasLt");
    /** NCCL 2 from nvidia-nccl-cu13 (nvidia/nccl/lib). */
    static final NvidiaLibrary NCCL = new NvidiaLibrary("NCCL", "lumen.nccl.library", "LUMEN_NCCL_LIBRARY",
            List.of("libnccl.so.2"), "libnccl_emu.so", List.of("nvidia/nccl/lib"), "a missing dependency");

    /** A loaded library and the name it was found under, for messages. */
    record Found(String name, SymbolLookup lookup) {}

    /** The library to bind, or a CudaException whose message is the one-line reason there is none. */
    Found locate() {
        String named = System.getProperty(property);
        if (named == null || named.isBlank()) named = System.getenv(env);
        if (named != null && !named.isBlank()) return named(named.strip());
        CudaDriver driver = CudaDriver.get();
        if (driver.isEmulated()) return besideEmulatedDriver(driver.library());
        return bySoname(sonames, wheelLibDirs(wheelDirs.toArray(String[]::new)));
    }

    /** The library a user named: a path, or a bare name for the dynamic loader. */
    Found named(String name) {
        if (name.contains("/")) {
            Path p = Path.of(name);
            if (!Files.isRegularFile(p)) throw unavailable(name + " not found (named by " + property + " or " + env + ")");
            return load(p);
        }
        return dlopen(name).orElseThrow(() -> unavailable(name + " not found by the dynamic loader (named by "
                + property + " or " + env + "; LD_LIBRARY_PATH=" + ldLibraryPath() + ")"));
    }

    /** The emulated library in the emulated driver's folder (where `make kernels` builds both). */
    Found besideEmulatedDriver(String driverLibrary) {
        if (driverLibrary.contains("/")) {
            Path p = Path.of(driverLibrary).toAbsolutePath().resolveSibling(emulated);
            if (!Files.isRegularFile(p)) {
                throw unavailable(emulated + " not found (looked in " + p.getParent()
                        + ", the emulated driver's folder; `make kernels` builds it)");
            }
            return load(p);
        }
        return dlopen(emulated).orElseThrow(() -> unavailable(emulated + " not found by the dynamic loader (LD_LIBRARY_PATH="
                + ldLibraryPath() + ", where the emulated driver " + driverLibrary + " was found; `make kernels` builds it)"));
    }

    /** The first soname that the dynamic loader finds, or failing that, one in the given folders. */
    Found bySoname(List<String> names, List<Path> dirs) {
        for (String soname : names) {
            var viaLoader = dlopen(soname);
            if (viaLoader.isPresent()) return viaLoader.get();
            for (Path dir : dirs) {
                Path p = dir.resolve(soname);
                if (Files.isRegularFile(p)) return load(p);
            }
        }
        String where = "the dynamic loader's path (LD_LIBRARY_PATH=" + ldLibraryPath() + ", ld.so.cache)";
        where += dirs.isEmpty()
                ? " and no pip wheel folder (site-packages/" + String.join(", ", wheelDirs) + " under the python3 prefixes)"
                : " and " + String.join(", ", dirs.stream().map(Path::toString).toList());
        String alternatives = names.size() > 1 ? "; also tried " + String.join(", ", names.subList(1, names.size())) : "";
        throw unavailable(names.getFirst() + " not found (looked in " + where + alternatives + ")");
    }

    private static Optional<Found> dlopen(String soname) {
        try {
            return Optional.of(new Found(soname, SymbolLookup.libraryLookup(soname, Arena.global())));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    private Found load(Path p) {
        try {
            return new Found(p.toString(), SymbolLookup.libraryLookup(p, Arena.global()));
        } catch (IllegalArgumentException e) {
            // The file is there, so the loader failed on it or on a dependency.
            throw unavailable(p + " exists but cannot be loaded (" + dependency + ", or the wrong architecture)");
        }
    }

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

    private CudaException unavailable(String reason) {
        return new CudaException(label + " unavailable: " + reason, -1);
    }
}
