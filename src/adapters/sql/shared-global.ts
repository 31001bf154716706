/**
 * The value kept on `globalThis` under `key` (a `Symbol.for` key), created the first time it is
 * asked for, so the ESM and CJS copies of lockstep loaded in one process share one value: one
 * registry of open transactions, whichever copy opened them.
 */
export function sharedGlobal<T>(key: symbol, create: () => T): T {
  const holder = globalThis as Record<symbol, unknown>;
  const existing = holder[key] as T | undefined;
  if (existing !== undefined) return existing;
  const created = create();
  holder[key] = created;
  return created;
}
