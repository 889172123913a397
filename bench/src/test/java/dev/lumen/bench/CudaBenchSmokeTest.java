package dev.lumen.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.Backends;
import dev.lumen.cuda.CudaException;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Parameter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Keeps the CUDA benchmarks from rotting: every benchmark method of every *CudaBench, for every
 * @Param combination, gets its states made and set up as JMH would, one invocation, and its
 * teardown, under the emulated driver at the benchmarks' tiny sizes. The invocation must have
 * timed REPS calls on the device and counted the traffic. Every kernel family runs on CUDA now,
 * so a family the backend lacks fails here rather than being skipped.
 */
class CudaBenchSmokeTest {
    static final List<Class<?>> BENCHES = List.of(OutlookCudaBench.class, SelectiveScanCudaBench.class, AdditiveAttentionCudaBench.class,
            DepthwiseConvCudaBench.class, DepthwiseConvTensorCoreCudaBench.class, GlueCudaBench.class, GemmCudaBench.class, ConvCudaBench.class, DataMovementCudaBench.class,
            PoolNormCudaBench.class);

    @BeforeAll
    static void cuda() {
        String why = Backends.cudaStatus();
        if (why != null && Boolean.getBoolean("lumen.cuda.required")) throw new CudaException(why, -1);
        Assumptions.assumeTrue(why == null, why);
    }

    @Test
    void everyCudaBenchIsSmokeTested() throws IOException, URISyntaxException {
        Path dir = Path.of(OutlookCudaBench.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                .resolve(OutlookCudaBench.class.getPackageName().replace('.', '/'));
        Set<String> compiled;
        try (Stream<Path> files = Files.list(dir)) {
            compiled = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith("CudaBench.class"))
                    .map(n -> n.substring(0, n.length() - ".class".length())).collect(Collectors.toCollection(TreeSet::new));
        }
        Set<String> listed = BENCHES.stream().map(Class::getSimpleName).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(compiled, listed, "BENCHES must list every *CudaBench class");
    }

    @TestFactory
    Stream<DynamicTest> eachBenchmarkRunsOnceAtTinySize() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Class<?> bench : BENCHES) {
            for (Method m : bench.getMethods()) {
                if (!m.isAnnotationPresent(Benchmark.class)) continue;
                for (Map<String, String> params : paramCombinations(bench, m)) {
                    tests.add(DynamicTest.dynamicTest(bench.getSimpleName() + "." + m.getName() + " " + params, () -> invokeOnce(bench, m, params)));
                }
            }
        }
        tests.sort((a, b) -> a.getDisplayName().compareTo(b.getDisplayName()));
        return tests.stream();
    }

    /** The classes whose states a benchmark method uses: the benchmark class if it is a @State, and its state arguments. */
    private static List<Class<?>> stateClasses(Class<?> bench, Method m) {
        List<Class<?>> states = new ArrayList<>();
        if (bench.isAnnotationPresent(State.class)) states.add(bench);
        for (Parameter p : m.getParameters()) {
            if (p.getType().isAnnotationPresent(State.class) && p.getType() != DeviceTimer.class) states.add(p.getType());
        }
        return states;
    }

    private static List<Map<String, String>> paramCombinations(Class<?> bench, Method m) {
        List<Map<String, String>> combos = new ArrayList<>(List.of(new LinkedHashMap<>()));
        for (Class<?> s : stateClasses(bench, m)) {
            for (Field f : s.getFields()) {
                Param p = f.getAnnotation(Param.class);
                if (p == null) continue;
                List<Map<String, String>> next = new ArrayList<>();
                for (Map<String, String> c : combos) {
                    for (String v : p.value()) {
                        Map<String, String> n = new LinkedHashMap<>(c);
                        n.put(f.getName(), v);
                        next.add(n);
                    }
                }
                combos = next;
            }
        }
        return combos;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object paramValue(Class<?> type, String v) {
        if (type.isEnum()) return Enum.valueOf((Class<? extends Enum>) type, v);
        if (type == int.class) return Integer.parseInt(v);
        if (type == String.class) return v;
        throw new IllegalArgumentException("no conversion of @Param '" + v + "' to " + type);
    }

    private static void callLifecycle(Object state, Class<? extends java.lang.annotation.Annotation> kind, Level level) throws Exception {
        for (Method m : state.getClass().getMethods()) {
            java.lang.annotation.Annotation a = m.getAnnotation(kind);
            if (a == null) continue;
            Level l = a instanceof Setup s ? s.value() : ((TearDown) a).value();
            if (l == level) m.invoke(state);
        }
    }

    private static void invokeOnce(Class<?> bench, Method m, Map<String, String> params) throws Exception {
        Object instance = bench.getConstructor().newInstance();
        Map<Class<?>, Object> states = new LinkedHashMap<>();
        for (Class<?> s : stateClasses(bench, m)) states.put(s, s == bench ? instance : s.getConstructor().newInstance());
        for (Object s : states.values()) {
            for (Field f : s.getClass().getFields()) {
                if (f.isAnnotationPresent(Param.class)) f.set(s, paramValue(f.getType(), params.get(f.getName())));
            }
        }
        DeviceTimer timer = new DeviceTimer();
        List<Object> setUp = new ArrayList<>();
        try {
            for (Object s : states.values()) {
                setUp.add(s);
                callLifecycle(s, Setup.class, Level.Trial);
            }
            timer.reset();
            Object[] args = Arrays.stream(m.getParameterTypes()).map(t -> t == DeviceTimer.class ? timer : states.get(t)).toArray();
            m.invoke(instance, args);
        } catch (InvocationTargetException e) {
            throw e.getCause() instanceof Exception x ? x : e;
        } finally {
            for (Object s : setUp) callLifecycle(s, TearDown.class, Level.Trial);
        }
        assertEquals(BenchDevice.REPS, timer.calls, "one invocation times REPS calls");
        assertTrue(timer.deviceUs > 0, "the device events measured the calls: " + timer.deviceUs + " us");
        assertTrue(timer.bytes > 0, "the benchmark counts its compulsory traffic");
    }
}
