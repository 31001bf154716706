import type { StoreCapabilities } from "../../core/capabilities.js";
import {
  defineStore,
  type Store,
  type StoreDefinition,
  type WriteStore,
} from "../../core/store.js";
import { sendUnlessAborted } from "../sql/root-query.js";
import type { DrizzleDriver } from "./drizzle-dialect.js";
import { affectedRows, type DrizzleWriteOn } from "./drizzle-types.js";

/** The methods a Drizzle store hands out typed with Drizzle's own objects. */
type DrizzleMethods = Partial<Record<"transaction" | "batch" | "deferredBatch", unknown>>;

/** What a Drizzle store on one driver declares: what the driver's store gives it. */
export interface DrizzleStoreParts<Handle>
  extends Omit<
    StoreDefinition<Handle, DrizzleWriteOn<Handle>, unknown>,
    "apply" | "affected" | "capabilities" | "transaction" | "batch" | "deferredBatch"
  > {
  readonly driver: DrizzleDriver;
  /** The driver's capabilities besides conditional writes, which every Drizzle store has. */
  readonly capabilities: Pick<Partial<StoreCapabilities>, "transactions" | "atomicBatch">;
  /** As the user declared it (`versionsNeverReused`). */
  readonly versionsNeverReused: boolean | undefined;
  /** How many rows a write's result says it changed. @default affectedRows */
  readonly affected?: (result: unknown) => number;
  /** Closes what lockstep opened for the store. @default nothing to close */
  readonly close?: () => void;
}

/** What {@link defineDrizzleStore} returns. */
type DefinedDrizzleStore<Handle, Methods> = WriteStore<Handle, DrizzleWriteOn<Handle>, unknown> &
  Methods & { readonly driver: DrizzleDriver; close(): void };

/**
 * A Drizzle store: the driver's `parts` and `methods` (its transaction, batch and deferred batch,
 * typed with Drizzle's objects), with what every Drizzle store shares — conditional writes, and
 * `apply`, which sends a prepared write through the handle unless its call was aborted already.
 */
export function defineDrizzleStore<Handle, Methods extends DrizzleMethods>(
  parts: DrizzleStoreParts<Handle>,
  methods: Methods,
): DefinedDrizzleStore<Handle, Methods> {
  const {
    driver,
    close = () => {},
    affected = affectedRows,
    versionsNeverReused,
    capabilities,
    ...definition
  } = parts;
  const store = defineStore<Handle, DrizzleWriteOn<Handle>, unknown>({
    ...definition,
    ...(methods as Pick<Store<Handle, DrizzleWriteOn<Handle>, unknown>, keyof DrizzleMethods>),
    capabilities: {
      ...capabilities,
      conditionalWrite: true,
      versionsNeverReused: versionsNeverReused ?? false,
    },
    // A write whose call was aborted before it was sent is provably not applied.
    apply: (target, write, scope) => sendUnlessAborted(scope, async () => write(target)),
    affected,
  });
  return Object.freeze({ ...store, ...methods, driver, close }) as DefinedDrizzleStore<
    Handle,
    Methods
  >;
}
