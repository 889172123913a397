package dev.lumen.app.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** SLURM_JOB_NODELIST expansion, as `scontrol show hostnames` prints it. */
class SlurmHostListTest {
    @Test
    void expandsRangesListsAndPlainNamesInOrder() {
        assertEquals(List.of("node01", "node02", "node03", "node04", "node07"), SlurmHostList.expand("node[01-04,07]"));
        assertEquals(List.of("gpu-a1-x", "gpu-a2-x", "login", "n9", "n10", "n11"), SlurmHostList.expand("gpu-a[1-2]-x,login,n[9-11]"));
        assertEquals(List.of("single"), SlurmHostList.expand("single"));
    }

    @Test
    void keepsTheZeroPaddingOfTheLowerBoundAndMultipliesBracketGroups() {
        assertEquals(List.of("c008", "c009", "c010"), SlurmHostList.expand("c[008-010]"));
        assertEquals(List.of("r1n1", "r1n2", "r2n1", "r2n2"), SlurmHostList.expand("r[1-2]n[1-2]"));
        assertEquals(List.of("a1", "b1", "b2"), SlurmHostList.expand("a1, b[1-2]"));
    }

    @Test
    void malformedListsFailNamingThePart() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SlurmHostList.expand("node[01-04")).getMessage().contains("unclosed '['"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SlurmHostList.expand("node[4-1]")).getMessage().contains("descending range '4-1'"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SlurmHostList.expand("node[a-b]")).getMessage().contains("bad range 'a-b'"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SlurmHostList.expand("n[1-99999999]")).getMessage().contains("more than"));
        assertThrows(IllegalArgumentException.class, () -> SlurmHostList.expand("a,,b"));
        assertThrows(IllegalArgumentException.class, () -> SlurmHostList.expand(""));
    }
}
