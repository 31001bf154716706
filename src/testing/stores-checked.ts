/**
 * The warning of a run in which no invariant judged the stores, naming them and how to check them.
 * It is the failure's message too, unless the scenario allows such a run.
 */
export function uncheckedStoresWarning(tool: string, stores: readonly string[]): string {
  const names = stores.map((s) => `"${s}"`).join(", ");
  return `${tool} checked only the saga log: no invariant read the stores, so nothing looked at what the saga left in them (the standard invariants read only the log, and a saga whose compensation undoes nothing keeps them all). Add \`allOrNothing({ … })\` with one predicate per store (${names || "none given"}), or any invariant that reads \`world\` (declare \`reads: "stores"\` on one that reads the stores another way); set \`allowUncheckedStores: true\` only to check the log on purpose.`;
}

/**
 * The warning of a run in which the kit stopped waiting for real calls in flight (see the
 * scenario's `realIo` and `ioStallMs`), so its outcome may depend on timing.
 */
export function ioStallWarning(tool: string, stalls: number, where: string): string {
  return `${tool} stopped waiting for calls to the stores still in flight ${stalls} time(s) (${where}), after \`ioStallMs\` of real time each, and went on as if the program were idle: those outcomes may depend on timing. A call that cannot answer until another simulated process moves (one blocked on a row lock an open transaction of that process holds) stalls this way; raise \`ioStallMs\` if the stores are merely slow.`;
}
