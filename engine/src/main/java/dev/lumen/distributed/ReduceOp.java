package dev.lumen.distributed;

/** How a collective combines the ranks' values (NCCL's ncclRedOp_t, in the same order). */
public enum ReduceOp { SUM, PROD, MAX, MIN, AVG }
