/** How long lockstep waits for an ended connection to be gone before it gives up. @default 10 s */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

const POLL_MS = 10;

/**
 * Asks `listed` (a query of the server's list of connections for one of them) until it lists
 * nothing, and resolves `true` then; `false` once `until` (a `Date.now()` time) has passed with the
 * connection still listed. A failure of `listed` rejects.
 */
export async function pollUntilGone(
  listed: () => Promise<readonly unknown[]>,
  until: number,
): Promise<boolean> {
  for (;;) {
    if ((await listed()).length === 0) return true;
    if (Date.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
