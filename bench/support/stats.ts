/**
 * Timing and summary helpers. Every workload measures the same way: a warm-up that is thrown away
 * (JIT, connection pools, SQLite page cache, Postgres plan cache), then several timed rounds in which
 * lockstep and its baseline alternate, so a burst of background load lands on both sides alike.
 */

/** The median of `values` (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The `p`-th percentile (0–100) by nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** What one timed batch of operations did. */
export interface Batch {
  /** Wall-clock time of the whole batch, in milliseconds. */
  readonly elapsedMs: number;
  /** The latency of each operation, in milliseconds. */
  readonly latenciesMs: readonly number[];
  /**
   * CPU time this process spent during the batch, in milliseconds. Steadier than wall time on a
   * shared machine, and it excludes what the databases' own processes spend.
   */
  readonly cpuMs: number;
}

/** Operations per second of a batch. */
export function throughput(batch: Batch): number {
  return (batch.latenciesMs.length / batch.elapsedMs) * 1000;
}

/**
 * Runs `total` operations, `concurrency` at a time (each worker takes the next index as soon as it
 * finishes one), and times each. An operation that throws fails the benchmark: a figure measured
 * over failed operations would flatter whoever failed.
 */
export async function runBatch(
  total: number,
  concurrency: number,
  op: (index: number) => Promise<void>,
): Promise<Batch> {
  const latenciesMs: number[] = new Array(total);
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const index = next++;
      const started = performance.now();
      await op(index);
      latenciesMs[index] = performance.now() - started;
    }
  };
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  const used = process.cpuUsage(cpu);
  return {
    elapsedMs: performance.now() - started,
    latenciesMs,
    cpuMs: (used.user + used.system) / 1000,
  };
}

/** The summary of one side of a comparison over all its timed rounds. */
export interface Summary {
  /** Median over rounds of each round's throughput, in operations per second. */
  readonly opsPerSec: number;
  /** Median latency over every timed operation, in milliseconds. */
  readonly p50Ms: number;
  /** 99th-percentile latency over every timed operation, in milliseconds. */
  readonly p99Ms: number;
  /** CPU time of this process per operation, in milliseconds, over every timed round. */
  readonly cpuMsPerOp: number;
  /** How many operations were timed. */
  readonly operations: number;
}

export function summarize(batches: readonly Batch[]): Summary {
  const all = batches.flatMap((b) => b.latenciesMs);
  return {
    opsPerSec: median(batches.map(throughput)),
    p50Ms: median(all),
    p99Ms: percentile(all, 99),
    cpuMsPerOp: batches.reduce((sum, b) => sum + b.cpuMs, 0) / all.length,
    operations: all.length,
  };
}

/** One contender in a comparison: a name and a function that runs operation `index`. */
export interface Contender {
  readonly name: string;
  readonly op: (index: number) => Promise<void>;
}

/** How a comparison is run. */
export interface Plan {
  /** Operations per round. */
  readonly perRound: number;
  /** Operations in flight at once. */
  readonly concurrency: number;
  /** Timed rounds per contender (the warm-up round is extra and discarded). */
  readonly rounds: number;
  /** Operations in the warm-up round. @default perRound */
  readonly warmup?: number;
}

/**
 * Measures several contenders under one plan: one discarded warm-up round each, then `rounds` timed
 * rounds in which the contenders take turns, their order rotating every round so none always runs
 * right after another's writes (checkpoints, autovacuum) or always first. Operation indexes never
 * repeat across rounds, so every write inserts a fresh key.
 */
export async function compare(
  plan: Plan,
  contenders: readonly Contender[],
): Promise<Record<string, Summary>> {
  let offset = 0;
  const take = (n: number) => {
    const base = offset;
    offset += n;
    return base;
  };
  for (const c of contenders) {
    const base = take(plan.warmup ?? plan.perRound);
    await runBatch(plan.warmup ?? plan.perRound, plan.concurrency, (i) => c.op(base + i));
  }
  const batches = new Map<string, Batch[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < plan.rounds; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(round + k) % contenders.length] as Contender;
      const base = take(plan.perRound);
      const batch = await runBatch(plan.perRound, plan.concurrency, (i) => c.op(base + i));
      batches.get(c.name)?.push(batch);
    }
  }
  return Object.fromEntries(contenders.map((c) => [c.name, summarize(batches.get(c.name) ?? [])]));
}
