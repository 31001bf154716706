import { UsageError } from "../cli-error.js";
import type { Session } from "../command.js";
import { parseTimerDuration } from "../duration.js";

/** What `lockstep recover` was asked to do, validated. */
export interface RecoverSettings {
  readonly workers: number;
  readonly limit: number;
  readonly maxAttempts: number;
  readonly leaseTtlMs: number;
  /** Whether to keep polling until a signal (`--watch`) rather than stop once the log is drained. */
  readonly watch: boolean;
  readonly pollIntervalMs: number;
  readonly maxPollIntervalMs: number;
}

/** Reads and checks `recover`'s options; throws a usage error naming a bad value. */
export function readRecoverSettings(session: Session): RecoverSettings {
  const watch = session.values.watch === true;
  for (const option of ["interval", "max-interval"]) {
    if (!watch && session.string(option) !== undefined) {
      throw new UsageError(
        `--${option} needs --watch: without it, recover stops once a pass claims nothing.`,
        "recover",
      );
    }
  }
  const duration = (option: string, fallback: number) => {
    const value = session.string(option);
    return value === undefined ? fallback : parseTimerDuration(option, value, "recover");
  };
  const pollIntervalMs = duration("interval", 1_000);
  const maxPollIntervalMs = duration("max-interval", Math.max(30_000, pollIntervalMs));
  if (maxPollIntervalMs < pollIntervalMs) {
    throw new UsageError(
      `Expected --max-interval to be at least --interval (${session.string("interval")}), got "${session.string("max-interval")}".`,
      "recover",
    );
  }
  return {
    workers: session.integer("workers", 1, 1),
    limit: session.integer("limit", 1, 100),
    maxAttempts: session.integer("max-attempts", 1, 10),
    leaseTtlMs: duration("lease-ttl", 30_000),
    watch,
    pollIntervalMs,
    maxPollIntervalMs,
  };
}

/** The owner name of worker `n` of this process, in lease records. */
export function workerOwner(n: number): string {
  return `lockstep-cli-${process.pid}-w${n}`;
}
