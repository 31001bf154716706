import type { StepStore } from "../../index.js";
import type { Contribution, Handoff } from "./model.js";

/** Where contributions live: immutable, content-addressed, `put` idempotent by cid. */
export interface ContributionStore<Handle = unknown> {
  readonly store: StepStore<Handle>;
  /** Writes the contribution unless one with its cid exists (then a no-op returning it). */
  put(handle: Handle, contribution: Contribution): Promise<Contribution>;
  /** A fresh read. */
  get(handle: Handle, cid: string): Promise<Contribution | undefined>;
  /** Every contribution. */
  list(handle: Handle): Promise<readonly Contribution[]>;
}

/** Where handoffs live: one per (source cid, role), `put` idempotent by handoff id. */
export interface HandoffStore<Handle = unknown> {
  readonly store: StepStore<Handle>;
  /** Writes the handoff unless one with its id exists (then a no-op returning it). */
  put(handle: Handle, handoff: Handoff): Promise<Handoff>;
  /** The handoffs of one contribution. */
  listBySource(handle: Handle, cid: string): Promise<readonly Handoff[]>;
  /** Every handoff. */
  list(handle: Handle): Promise<readonly Handoff[]>;
}
