import { z } from "zod";

const time = z.number().int();
const count = z.number().int().min(0);

/**
 * What a recovery worker reports to the log after each of its passes and when it stops
 * (`SagaLog.operations`), so an operator can see which workers run and what they last did.
 */
export const workerStatusSchema = z.object({
  /** The worker's name: its runner's `owner`, as lease records show it. */
  workerId: z.string().min(1).max(200),
  /** The machine it runs on, as it was told. */
  host: z.string().max(255).nullable(),
  /** Its process id, when it runs in a process that has one. */
  pid: z.number().int().min(0).nullable(),
  /** When it started. */
  startedAt: time,
  /** When it last reported. */
  heartbeatAt: time,
  /**
   * The longest it waits between passes (its `maxPollIntervalMs`). It reports after every pass, so
   * a report much older than this says it stopped without saying so, or a pass is taking long.
   */
  intervalMs: z.number().int().min(1),
  /** When it stopped, once it has; `null` while it runs. */
  stoppedAt: time.nullable(),
  /** How many passes it has run, failed ones included. */
  passes: count,
  /** How many of them failed. */
  failedPasses: count,
  /** What its last pass that ran did: how many sagas it claimed, and how many ended each way. */
  lastPass: z
    .object({
      startedAt: time,
      at: time,
      claimed: count,
      counts: z.record(z.string(), count),
    })
    .nullable(),
  /** Why its last failed pass failed, and when; `null` if none has. */
  lastError: z.object({ at: time, message: z.string().max(2000) }).nullable(),
});

/** What a recovery worker reports to the log; see {@link workerStatusSchema}. */
export type WorkerStatus = z.infer<typeof workerStatusSchema>;
