import type { FastCheckScheduler } from "./fast-check-types.js";
import type { CallGate } from "./seeded-scheduler.js";
import type { TaskScheduler } from "./virtual-clock.js";

/**
 * Adapts fast-check's scheduler (`fc.scheduler()`) to the kit: every call held at the gate becomes a
 * task fast-check orders, and `VirtualClock.settle` releases them one by one, moving time only when
 * none is waiting. fast-check then shrinks a failing interleaving and replays it from its seed and
 * path. fast-check is an optional peer: the kit never imports it, it only receives your `s`.
 *
 * @example
 * ```ts
 * await fc.assert(fc.asyncProperty(fc.scheduler(), async (s) => {
 *   const scheduler = fastCheckScheduler(s);
 *   const log = withFaults(new MemorySagaLog(), NO_FAULTS, { gate: scheduler });
 *   // …start concurrent runs over `log`, then:
 *   await clock.settle(Promise.all(runs), { scheduler });
 * }));
 * ```
 */
export function fastCheckScheduler(s: FastCheckScheduler): TaskScheduler & CallGate {
  return Object.freeze({
    pending: () => s.count(),
    releaseOne: () => s.waitNext(1),
    hold: <T>(label: string, call: () => Promise<T>): Promise<T> =>
      s.schedule(Promise.resolve(label), label).then(call),
  });
}
