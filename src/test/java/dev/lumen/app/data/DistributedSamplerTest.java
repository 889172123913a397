package dev.lumen.app.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lumen.app.data.transform.Transform;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The ranks' shards of an epoch: PyTorch's DistributedSampler (drop_last=False) over the loader's seeded permutation. */
class DistributedSamplerTest {
    private static final Transform IDENTITY = (img, rng) -> img;

    @Test
    void shardsArePyTorchsInterleavedSlicesOfThePaddedPermutation() {
        int[] p = {9, 4, 7, 0, 2, 8, 1, 6, 3, 5}; // 10 samples over 4 ranks: padded to 12 with p[0], p[1]
        assertArrayEquals(new int[] {9, 2, 3}, new DistributedSampler(0, 4, true).shard(p));
        assertArrayEquals(new int[] {4, 8, 5}, new DistributedSampler(1, 4, true).shard(p));
        assertArrayEquals(new int[] {7, 1, 9}, new DistributedSampler(2, 4, true).shard(p));
        assertArrayEquals(new int[] {0, 6, 4}, new DistributedSampler(3, 4, true).shard(p));
        // fewer samples than ranks: the permutation repeats, as torch's (indices * ceil(padding / len))[:padding]
        int[] q = {2, 0, 1};
        List<Integer> all = new ArrayList<>();
        for (int r = 0; r < 8; r++) for (int v : new DistributedSampler(r, 8, true).shard(q)) all.add(v);
        assertEquals(List.of(2, 0, 1, 2, 0, 1, 2, 0), all);
    }

    @Test
    void unpaddedShardsCoverEverySampleExactlyOnce() {
        int[] p = new int[11];
        for (int i = 0; i < p.length; i++) p[i] = i;
        List<Integer> all = new ArrayList<>();
        int[] sizes = new int[3];
        for (int r = 0; r < 3; r++) {
            int[] s = new DistributedSampler(r, 3, false).shard(p);
            sizes[r] = s.length;
            assertEquals(s.length, new DistributedSampler(r, 3, false).shardSize(11));
            for (int v : s) all.add(v);
        }
        assertArrayEquals(new int[] {4, 4, 3}, sizes);
        all.sort(null);
        assertEquals(Arrays.stream(p).boxed().toList(), all);
    }

    @Test
    void theLoadersOfAllRanksShareOneSeededPermutationPerEpochAndSplitItDisjointly() {
        Dataset ds = TestImages.synthetic(50, 3, 1, 2, 2, List.of());
        int world = 4;
        for (int epoch = 0; epoch < 3; epoch++) {
            int[] whole;
            try (DataLoader l = DataLoader.builder(ds, IDENTITY).batchSize(5).seed(3).shuffle(true).build()) {
                whole = l.order(epoch);
            }
            TreeSet<Integer> seen = new TreeSet<>();
            int total = 0;
            for (int r = 0; r < world; r++) {
                try (DataLoader l = DataLoader.builder(ds, IDENTITY).batchSize(5).seed(3).shuffle(true).sampler(new DistributedSampler(r, world, true)).build()) {
                    int[] mine = l.order(epoch);
                    assertEquals(13, mine.length); // ceil(50 / 4)
                    assertEquals(13, l.samplesPerEpoch());
                    assertEquals(3, l.batchesPerEpoch());
                    assertArrayEquals(new DistributedSampler(r, world, true).shard(whole), mine);
                    for (int i = 0; i < mine.length; i++) {
                        // disjoint apart from the 2 padding slots at the end, which repeat the permutation's start
                        if (r * 1 + i * world < 50) assertFalse(!seen.add(mine[i]), "sample " + mine[i] + " in two shards");
                    }
                    total += mine.length;
                }
            }
            assertEquals(52, total);
            assertEquals(50, seen.size());
        }
        try (DataLoader a = DataLoader.builder(ds, IDENTITY).seed(3).sampler(new DistributedSampler(1, 4, true)).build();
             DataLoader b = DataLoader.builder(ds, IDENTITY).seed(3).sampler(new DistributedSampler(1, 4, true)).build()) {
            assertArrayEquals(a.order(5), b.order(5), "a pure function of (seed, epoch)");
            assertFalse(Arrays.equals(a.order(5), a.order(6)), "a new permutation each epoch");
        }
    }

    @Test
    void aRankOutsideTheWorldIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new DistributedSampler(4, 4, true));
        assertThrows(IllegalArgumentException.class, () -> new DistributedSampler(-1, 2, true));
    }
}
