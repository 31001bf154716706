/**
 * The warning of a run in which no invariant judged the stores, naming them and how to check them.
 * It is the failure's message too, unless the scenario allows such a run.
 */
export function uncheckedStoresWarning(tool: string, stores: readonly string[]): string {
  const names = stores.map((s) => `"${s}"`).join(", ");
  return `${tool} checked only the saga log: no invariant read the stores, so nothing looked at what the saga left in them (the standard invariants read only the log, and a saga whose compensation undoes nothing keeps them all). Add \`allOrNothing({ … })\` with one predicate per store (${names || "none given"}), or any invariant that reads \`world\` (declare \`reads: "stores"\` on one that reads the stores another way); set \`allowUncheckedStores: true\` only to check the log on purpose.`;
}
