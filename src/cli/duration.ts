import { durationProblem, MAX_DURATION_MS } from "../core/validate.js";
import { UsageError } from "./cli-error.js";

const UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parses a duration such as `30d`, `12h`, `90s`, `500ms` or `1h30m` into milliseconds. Throws a
 * usage error naming the option and the value otherwise.
 */
export function parseDuration(option: string, value: string, command: string): number {
  const parts = [...value.matchAll(/(\d+)(ms|s|m|h|d|w)/g)];
  const rebuilt = parts.map((p) => p[0]).join("");
  if (parts.length === 0 || rebuilt !== value) {
    throw new UsageError(
      `Expected --${option} to be a duration such as 30d, 12h, 90s, 500ms or 1h30m, got "${value}".`,
      command,
    );
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * (UNITS[p[2] as string] as number), 0);
}

/**
 * Parses a duration a timer will wait (a lease, a deadline, a polling interval): like
 * {@link parseDuration}, but refused outside 1 ms to 2^31 − 1 ms (about 24.8 days), the longest a
 * timer can wait; a longer one would fire after about 1 ms.
 */
export function parseTimerDuration(option: string, value: string, command: string): number {
  const ms = parseDuration(option, value, command);
  if (durationProblem(option, ms) !== undefined) {
    throw new UsageError(
      `Expected --${option} to be a duration from 1ms to ${MAX_DURATION_MS}ms (about 24.8 days), got "${value}".`,
      command,
    );
  }
  return ms;
}
