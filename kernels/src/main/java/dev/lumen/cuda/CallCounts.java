package dev.lumen.cuda;

/**
 * What a GPU profile of a stretch of work would show, as counted by the emulated driver:
 * device allocations and frees, kernel launches, host waits (synchronizing calls and
 * synchronous copies), copies by direction and memsets. Tests assert on differences of two
 * snapshots.
 */
public record CallCounts(long allocations, long frees, long launches, long hostWaits, long copiesHtoD, long copiesDtoH,
                         long copiesDtoD, long memsets) {
    /** this - earlier, counter by counter. */
    public CallCounts since(CallCounts earlier) {
        return new CallCounts(allocations - earlier.allocations, frees - earlier.frees, launches - earlier.launches,
                hostWaits - earlier.hostWaits, copiesHtoD - earlier.copiesHtoD, copiesDtoH - earlier.copiesDtoH,
                copiesDtoD - earlier.copiesDtoD, memsets - earlier.memsets);
    }
}
