import type { MemoryFaultPoint, MemoryStore } from "../../src/adapters/memory/index.js";

/** Which fault points a rule matches. */
export interface FaultMatch {
  readonly phase: MemoryFaultPoint["phase"];
  /** Matches writes whose key starts with this prefix (ignored for `committed`). */
  readonly keyPrefix?: string;
}

/** What a rule does when it fires. */
export type FaultAction =
  | { readonly type: "throw"; readonly error: unknown }
  | { readonly type: "hang" }
  | {
      readonly type: "run";
      readonly fn: () => Promise<void> | void;
    };

/**
 * Installs a fault rule on a memory store that fires `times` times (default once) at the first
 * matching points, and returns a counter of how often it fired, so a test can assert its fault was
 * actually injected.
 */
export function injectFault(
  store: MemoryStore,
  match: FaultMatch,
  action: FaultAction,
  times = 1,
): { readonly fired: () => number } {
  let fired = 0;
  const previous = store.faults;
  store.faults = async (point) => {
    await previous?.(point);
    if (fired >= times || point.phase !== match.phase) return;
    if (
      point.phase !== "committed" &&
      match.keyPrefix !== undefined &&
      !point.write.key.startsWith(match.keyPrefix)
    )
      return;
    if (
      point.phase === "committed" &&
      match.keyPrefix !== undefined &&
      !point.writes.some((w) => w.key.startsWith(match.keyPrefix as string))
    )
      return;
    fired++;
    if (action.type === "throw") throw action.error;
    if (action.type === "hang") await new Promise<never>(() => {});
    if (action.type === "run") await action.fn();
  };
  return { fired: () => fired };
}
