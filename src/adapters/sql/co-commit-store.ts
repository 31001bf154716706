import { assertName, describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";

/**
 * How a SQL saga log declares whose transactions its records may ride in. Each names the store's
 * logical id; give at most one, or several that agree.
 */
export interface CoCommitDeclaration {
  /** The store itself: its `id` is the one co-committed with. */
  readonly store?: { readonly id: string } | undefined;
  /** The store's logical id, e.g. `"orders-db"`. */
  readonly coCommitWith?: string | undefined;
  /** The older spelling of `coCommitWith`. */
  readonly storeId?: string | undefined;
}

/**
 * The id a log's `coCommit.storeId` takes: the declared one when the options declare one (`store`,
 * `coCommitWith` or `storeId`), otherwise `derived()`, the id the adapter derives from the
 * connection, as its store derives it by default. Declarations that disagree are refused, naming
 * each value.
 */
export function coCommitStoreId(options: CoCommitDeclaration, derived: () => string): string {
  const declared: [string, string][] = [];
  if (options.store !== undefined) {
    const id = (options.store as { id?: unknown } | null)?.id;
    if (typeof id !== "string") {
      throw new LockstepDefinitionError(
        `Expected \`store\` to be a lockstep store (an object with a string \`id\`), got ${describeValue(options.store)}.`,
      );
    }
    declared.push(["store.id", id]);
  }
  if (options.coCommitWith !== undefined) declared.push(["coCommitWith", options.coCommitWith]);
  if (options.storeId !== undefined) declared.push(["storeId", options.storeId]);
  for (const [name, value] of declared) assertName(name, value);
  const [first, ...rest] = declared;
  if (first === undefined) return derived();
  const other = rest.find(([, value]) => value !== first[1]);
  if (other !== undefined) {
    throw new LockstepDefinitionError(
      `The saga log was told to co-commit with two stores, \`${first[0]}\` ${JSON.stringify(first[1])} and \`${other[0]}\` ${JSON.stringify(other[1])}; declare one.`,
    );
  }
  return first[1];
}
