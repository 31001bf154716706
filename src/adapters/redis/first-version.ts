import { randomBytes } from "node:crypto";

/** The largest first version: 2^52, so a document can take 2^52 more writes as safe integers. */
const FIRST_VERSION_SPAN = 2 ** 52;

/**
 * The version a newly created document starts at: a random integer in [1, 2^52], drawn anew for
 * every creation, after which each write adds 1.
 *
 * Why random, and not 1 or a counter: Redis forgets a key entirely when it is deleted, and so does
 * a restart without persistence, a flush, an eviction or a failover to a replica that never saw
 * it. A version that restarted at 1 (or a counter kept in Redis, which is lost the same way) would
 * hand a re-created document the very version an earlier one had, and a compensation guarded by
 * that version would undo another writer's document. A random start keeps no state to lose: two
 * incarnations of one key meet only if their version ranges overlap, a chance of about the number
 * of writes to the key divided by 2^52. What no version scheme survives is a Redis that loses
 * writes it acknowledged while the key survives (it rolls the key back to an earlier version); that
 * takes durable writes, which docs/adapters.md describes.
 */
export function firstVersion(): number {
  const bytes = randomBytes(8);
  const high = bytes.readUInt32BE(0) % (FIRST_VERSION_SPAN / 2 ** 32);
  return high * 2 ** 32 + bytes.readUInt32BE(4) + 1;
}
