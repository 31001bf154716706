/**
 * B5, in a fresh process started with `--expose-gc`: what lockstep keeps on the heap.
 *
 * - Per in-flight saga: thousands of sagas are started on the memory log and held inside their
 *   second step; the heap growth per saga is compared with the same number of bare async calls
 *   parked on the same kind of promise (what any in-flight request costs, with or without lockstep).
 * - Retention: 100,000 sagas run through the memory log, which is pruned of finished sagas as it
 *   goes, as a service with retention would; the heap after 20,000 is the baseline for the heap
 *   after 100,000, and a ratio near 1 means nothing accumulates.
 *
 * Heap figures are taken after two forced collections, so they measure what is retained, not what
 * is merely not yet collected.
 */
import { createRunner, defineSaga, defineStore, MemorySagaLog } from "lockstep";
import { z } from "zod";
import { sendResult } from "../support/child.js";
import { runBatch } from "../support/stats.js";

export interface MemoryResult {
  readonly inFlight: number;
  readonly bytesPerSaga: number;
  readonly bytesPerBareCall: number;
  readonly heapAt: Record<string, number>;
  readonly logSizeAt: Record<string, number>;
}

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("B5 needs node --expose-gc");
const collect = gc;

function heap(): number {
  collect();
  collect();
  return process.memoryUsage().heapUsed;
}

const IN_FLIGHT = 5_000;
const TOTAL = 100_000;
const CHECKPOINTS = [20_000, 100_000];
const PRUNE_EVERY = 1_000;
const CONCURRENCY = 16;

// A store with no capabilities: steps are plain saga steps with probes, the costliest path.
const store = defineStore({ id: "memory:b5", handle: null });
const output = z.object({ id: z.string() });
let hold: Promise<void> = Promise.resolve();
let parked = 0;

const saga = defineSaga("b5", { input: z.object({ n: z.number().int() }) })
  .step("reserve", {
    store,
    kind: "compensatable",
    output,
    execute: ({ key }) => ({ id: key }),
    probe: ({ key }) => ({ status: "committed", output: { id: key } }),
    compensate: () => ({ status: "compensated" }),
  })
  .step("charge", {
    store,
    kind: "pivot",
    output,
    execute: async ({ key }) => {
      parked++;
      await hold;
      return { id: key };
    },
    probe: ({ key }) => ({ status: "committed", output: { id: key } }),
  })
  .step("notify", {
    store,
    kind: "retriable",
    output,
    execute: ({ key }) => ({ id: key }),
  })
  .build();

async function perInFlight(): Promise<{ saga: number; bare: number }> {
  const log = new MemorySagaLog();
  const runner = createRunner({ log, leaseTtlMs: 600_000 });
  // Warm up so compiled code and lazily built objects are not counted as per-saga cost.
  for (let n = 0; n < 2_000; n++) await runner.run(saga, { n });
  await log.prune(Date.now() + 1);

  let release = () => {};
  hold = new Promise<void>((resolve) => {
    release = resolve;
  });
  parked = 0;
  const before = heap();
  const runs = Array.from({ length: IN_FLIGHT }, (_, n) => runner.run(saga, { n }));
  while (parked < IN_FLIGHT) await new Promise((resolve) => setTimeout(resolve, 5));
  const during = heap();
  release();
  for (const run of runs) if ((await run).isErr()) throw new Error("an in-flight saga failed");
  await log.prune(Date.now() + 1);

  // The baseline: the same number of async calls, each parked on a shared promise with its input.
  let releaseBare = () => {};
  const bareHold = new Promise<void>((resolve) => {
    releaseBare = resolve;
  });
  const beforeBare = heap();
  const bare = Array.from({ length: IN_FLIGHT }, async (_, n) => {
    const input = { n };
    await bareHold;
    return input;
  });
  const duringBare = heap();
  releaseBare();
  await Promise.all(bare);
  return { saga: (during - before) / IN_FLIGHT, bare: (duringBare - beforeBare) / IN_FLIGHT };
}

async function retention(): Promise<{
  heapAt: Record<string, number>;
  sizeAt: Record<string, number>;
}> {
  const log = new MemorySagaLog();
  const runner = createRunner({ log, leaseTtlMs: 600_000 });
  hold = Promise.resolve();
  const heapAt: Record<string, number> = {};
  const sizeAt: Record<string, number> = {};
  for (let done = 0; done < TOTAL; done += PRUNE_EVERY) {
    await runBatch(PRUNE_EVERY, CONCURRENCY, async (i) => {
      if ((await runner.run(saga, { n: done + i })).isErr()) throw new Error("a saga failed");
    });
    await log.prune(Date.now() + 1);
    if (CHECKPOINTS.includes(done + PRUNE_EVERY)) {
      heapAt[done + PRUNE_EVERY] = heap();
      sizeAt[done + PRUNE_EVERY] = log.size;
    }
  }
  return { heapAt, sizeAt };
}

const inFlight = await perInFlight();
const kept = await retention();
sendResult({
  inFlight: IN_FLIGHT,
  bytesPerSaga: inFlight.saga,
  bytesPerBareCall: inFlight.bare,
  heapAt: kept.heapAt,
  logSizeAt: kept.sizeAt,
} satisfies MemoryResult);
