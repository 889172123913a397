package dev.lumen.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One device's primary context, its two streams and Lumen's kernels module (the fatbin that
 * `make kernels` builds, a resource of this jar), loaded into that context. One per device and
 * process ({@link #of(int)}), made on first use; {@link #get()} is device 0's.
 *
 * <p>All compute goes to one stream, so work is ordered without events and memory freed by one
 * op can be reused by the next at once (the caching allocator relies on it). Host-to-device
 * batch copies go to a second stream and meet the compute stream through an event.
 * The driver's current context is per thread: {@link #bind()} makes it current where it is
 * used, so any thread (a data loader, the GC's cleaner) may call in, and one thread per device
 * can drive several devices at once.
 */
public final class CudaContext {
    static final String FATBIN = "/dev/lumen/cuda/lumen_kernels.fatbin";
    static final String NVCC_VERSION = "/dev/lumen/cuda/nvcc-version.txt";
    private static final ConcurrentHashMap<Integer, CudaContext> CONTEXTS = new ConcurrentHashMap<>();

    private final CudaDriver driver;
    private final int ordinal;
    private final int device;
    private final MemorySegment context;
    private final MemorySegment module;
    private final ConcurrentHashMap<String, Kernel> kernels = new ConcurrentHashMap<>();
    private final MemorySegment computeStream;
    private final MemorySegment copyStream;
    private final LaunchLimits launchLimits;

    private CudaContext(CudaDriver driver, int ordinal) {
        this.driver = driver;
        this.ordinal = ordinal;
        this.device = driver.device(ordinal);
        this.context = driver.primaryContextRetain(device);
        MemorySegment previous = driver.currentContext();
        driver.setCurrentContext(context);
        this.module = loadModule(driver);
        this.launchLimits = LaunchLimits.of(driver, device);
        this.computeStream = driver.streamCreate(CudaDriver.STREAM_NON_BLOCKING);
        this.copyStream = driver.streamCreate(CudaDriver.STREAM_NON_BLOCKING);
        // Made on whichever thread asked first: leave that thread's current device as it was.
        if (previous != null) driver.setCurrentContext(previous);
    }

    /** Device 0's context. */
    public static CudaContext get() { return of(0); }

    /**
     * The context of device ordinal (cuda:ordinal), made on first use; a CudaException with a
     * one-line reason when the driver has no such device.
     */
    public static CudaContext of(int ordinal) {
        CudaContext c = CONTEXTS.get(ordinal);
        if (c != null) return c;
        synchronized (CudaContext.class) {
            c = CONTEXTS.get(ordinal);
            if (c != null) return c;
            CudaDriver driver = CudaDriver.get();
            int count = driver.deviceCount();
            if (count < 1) throw new CudaException("no CUDA device found by " + driver.library(), -1);
            if (ordinal < 0 || ordinal >= count) {
                throw new CudaException("cuda:" + ordinal + " requested but the driver reports " + count
                        + (count == 1 ? " device" : " devices") + " (cuda:0" + (count > 1 ? " to cuda:" + (count - 1) : "") + ")", -1);
            }
            c = new CudaContext(driver, ordinal);
            CONTEXTS.put(ordinal, c);
            return c;
        }
    }

    /** How many devices the driver reports; a CudaException with the reason where there is no driver. */
    public static int deviceCount() { return CudaDriver.get().deviceCount(); }

    private static MemorySegment loadModule(CudaDriver driver) {
        byte[] image = resource(FATBIN);
        if (image == null) {
            throw new CudaException("the kernels fatbin " + FATBIN + " is not on the class path (build with `make kernels`)", -1);
        }
        MemorySegment seg = Arena.global().allocate(image.length + 16L, 16);
        MemorySegment.copy(image, 0, seg, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, image.length);
        try {
            return driver.moduleLoadData(seg);
        } catch (CudaException e) {
            byte[] v = resource(NVCC_VERSION);
            String nvcc = v == null ? "unknown nvcc" : lastLine(new String(v, StandardCharsets.UTF_8));
            throw new CudaException("cannot load the Lumen kernels (built by " + nvcc + ") into driver "
                    + formatVersion(driver.driverVersion()) + ": " + e.getMessage(), e.code());
        }
    }

    private static String lastLine(String s) {
        String[] lines = s.strip().split("\n");
        return lines[lines.length - 1].strip();
    }

    static String formatVersion(int v) { return "CUDA " + v / 1000 + "." + (v % 1000) / 10; }

    private static byte[] resource(String path) {
        try (InputStream in = CudaContext.class.getResourceAsStream(path)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            return null;
        }
    }

    public CudaDriver driver() { return driver; }

    /** The device's ordinal: N of cuda:N. */
    public int ordinal() { return ordinal; }

    /** The driver's CUcontext, for calls that name a context (peer copies, NCCL). */
    public MemorySegment handle() { return context; }

    /** Makes this context current on the calling thread (the driver's current context is per thread). */
    public CudaContext bind() {
        driver.ensureCurrentContext(context);
        return this;
    }

    /** The stream every kernel, cuBLAS and cuDNN call runs on. */
    public MemorySegment stream() { return computeStream; }

    /** The stream of host-to-device batch copies, which overlap with compute. */
    public MemorySegment copyStream() { return copyStream; }

    /** The device's grid, block and shared-memory limits, which every launch is checked against. */
    public LaunchLimits launchLimits() { return launchLimits; }

    public Kernel kernel(String name) {
        bind();
        return kernels.computeIfAbsent(name, n -> new Kernel(this, driver.moduleGetFunction(module, n), n));
    }

    public DeviceBuffer allocate(long bytes) {
        bind();
        return new DeviceBuffer(this, bytes);
    }

    /** Waits until the compute stream has drained (a host wait: use only where a value must reach the host). */
    public void synchronize() {
        bind();
        driver.streamSynchronize(computeStream);
    }

    /** Milliseconds that body takes on the device, between two events on the compute stream. */
    public float time(Runnable body) {
        bind();
        MemorySegment a = driver.eventCreate(), b = driver.eventCreate();
        try {
            driver.eventRecord(a, computeStream);
            body.run();
            driver.eventRecord(b, computeStream);
            driver.eventSynchronize(b);
            return driver.eventElapsedMs(a, b);
        } finally {
            driver.eventDestroy(a);
            driver.eventDestroy(b);
        }
    }

    /** One line for logs: the device, the driver and its version. */
    public String describe() {
        return "cuda:" + ordinal + " " + driver.deviceName(device) + ", driver " + formatVersion(driver.driverVersion()) + " (" + driver.library() + ")";
    }
}
