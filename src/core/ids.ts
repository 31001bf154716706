import { monotonicFactory } from "ulid";

/**
 * Random numbers in [0, 1) for ULIDs, drawn from a pool of cryptographically random words refilled
 * 1,024 at a time: a ULID takes 16 of them, and asking the system for each one was a noticeable part
 * of starting a saga.
 */
const pooledRandom = (() => {
  const pool = new Uint32Array(1024);
  let next = pool.length;
  return (): number => {
    if (next === pool.length) {
      // The Web Crypto global: Node ≥ 20, Bun, Deno and Workers all have it, without `node:crypto`.
      globalThis.crypto.getRandomValues(pool);
      next = 0;
    }
    return (pool[next++] as number) / 0x1_0000_0000;
  };
})();

const nextUlid = monotonicFactory(pooledRandom);

/** A new saga id: a ULID, so ids sort by creation time. */
export function newSagaId(): string {
  return nextUlid();
}

/**
 * The idempotency key of a step: derived from the saga id and the step name, so it exists as soon as
 * the saga id is durable — before the first attempt — and is the same on every retry and recovery.
 */
export function stepKey(sagaId: string, stepName: string): string {
  return `${sagaId}:${stepName}`;
}
