package dev.lumen.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** F32 Vector API shortcuts for kernels: loads and stores by element index, and horizontal sums. */
final class Vec {
    private Vec() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** The vector at element index i of a float segment. */
    static FloatVector ld(MemorySegment s, long i) { return FloatVector.fromMemorySegment(S, s, i * 4, NATIVE); }

    static void st(MemorySegment s, long i, FloatVector v) { v.intoMemorySegment(s, i * 4, NATIVE); }

    static FloatVector of(float v) { return FloatVector.broadcast(S, v); }

    /**
     * Lane sum in lane order. reduceLanes(ADD) leaves the order open, and C2's intrinsic adds in
     * another order than the interpreter and C1, so a run's last bits would depend on when the JIT
     * compiled what; a fixed order makes a resumed run in a fresh JVM bit-identical to an unbroken one.
     */
    static float sum(FloatVector v) {
        float s = v.lane(0);
        for (int i = 1; i < v.length(); i++) s += v.lane(i);
        return s;
    }

    /** Lane sum in lane order (see the float version). */
    static double sum(DoubleVector v) {
        double s = v.lane(0);
        for (int i = 1; i < v.length(); i++) s += v.lane(i);
        return s;
    }

    /** Sum of n contiguous floats from element index i, in float lanes per block of 1024 and double across blocks. */
    static double sumRow(MemorySegment s, long i, int n) {
        double total = 0;
        for (int blk = 0; blk < n; blk += 1024) {
            int m = Math.min(1024, n - blk);
            long b = i + blk;
            int up = S.loopBound(m), k = 0;
            FloatVector acc = FloatVector.zero(S);
            for (; k < up; k += L) acc = acc.add(ld(s, b + k));
            float part = sum(acc);
            for (; k < m; k++) part += s.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, b + k);
            total += part;
        }
        return total;
    }
}
