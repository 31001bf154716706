import { applyChange } from "../log/log-rules.js";
import { type SagaChange, SagaLogError } from "../log/saga-log.js";
import type { NewOutboxMessage } from "../model/outbox.js";
import type { NewStepEntry, SagaRecord, SagaSnapshot } from "../model/records.js";
import { callWithDeadline } from "./deadline.js";
import type { ExecutionEnv } from "./execution-env.js";

/** Raised when the log refuses a write because another runner owns the saga. */
export class LeaseLost extends Error {}

/** Raised when creating the saga's record finds one with its id already there. */
export class SagaExists extends Error {}

/**
 * How a new execution's saga stands in the log: created (and whether the first step's first intent
 * went with it), or not yet, because its first steps co-commit and their transaction creates it.
 */
export type Creation =
  | { readonly created: true; readonly firstIntentRecorded: boolean }
  | { readonly created: false; readonly record: SagaRecord };

/** A change to the saga's record, without the time: the journal stamps it when it writes. */
export type Change = Omit<SagaChange, "now">;

/**
 * One execution's side of the saga log: what it has written, what waits to ride along with its next
 * write, and the lease (with its fencing token) that lets it write at all. Every log call goes
 * through here, with a deadline; a refusal by the fencing token becomes {@link LeaseLost}, and a
 * creation that finds the saga's id taken becomes {@link SagaExists}.
 */
export class SagaJournal {
  readonly #env: ExecutionEnv;
  readonly #sagaId: string;
  /** The fencing token of the lease this execution holds; raised by {@link SagaJournal.fence}. */
  #token: number;
  #leaseExpiresAt: number;
  /** Set by the heartbeat when a renewal is refused: another runner owns the saga now. */
  #leaseLost = false;
  /** Whether step 0's first intent was written with the saga record. */
  #firstIntentRecorded: boolean;
  /** The saga's record while it is not in the log yet; the first log write creates it. */
  #draft: SagaRecord | undefined;
  /** Entries not yet durable; they ride along with the next log write. */
  #pending: NewStepEntry[] = [];
  /** Outbox messages of committed steps not yet durable; they ride with the next write too. */
  #messages: NewOutboxMessage[] = [];
  /**
   * The saga's record version as this execution knows it, the number of its last entry: every write
   * expects it, so one computed from a stale snapshot is refused. `undefined` after a write whose
   * outcome is unknown, until the saga's record is read again.
   */
  #lastSeq: number | undefined;
  /** What {@link SagaJournal.#lastSeq} becomes if the co-committed group being written lands. */
  #landingSeq: number | undefined;

  /**
   * @param lastSeq The number of the saga's last entry as loaded (0 for none; for a saga this
   *   execution has just created, the entries it was created with).
   */
  constructor(
    env: ExecutionEnv,
    sagaId: string,
    token: number,
    creation: Creation,
    lastSeq: number,
  ) {
    this.#env = env;
    this.#sagaId = sagaId;
    this.#token = token;
    this.#lastSeq = creation.created ? lastSeq : 0;
    this.#firstIntentRecorded = creation.created && creation.firstIntentRecorded;
    this.#draft = creation.created ? undefined : creation.record;
    this.#leaseExpiresAt = env.clock.now() + env.leaseTtlMs;
  }

  /** The fencing token of the lease this execution holds now. */
  get token(): number {
    return this.#token;
  }

  /** The saga's record while the log does not hold it yet. */
  get draft(): SagaRecord | undefined {
    return this.#draft;
  }

  /** The entries waiting for the next write. */
  get pending(): readonly NewStepEntry[] {
    return this.#pending;
  }

  /** The outbox messages waiting for the next write. */
  get pendingMessages(): readonly NewOutboxMessage[] {
    return this.#messages;
  }

  /** Adds outbox messages to those that ride along with the next write. */
  stageMessages(messages: readonly NewOutboxMessage[]): void {
    this.#messages.push(...messages);
  }

  /** Adds an entry to those that ride along with the next write. */
  stage(entry: NewStepEntry): void {
    this.#pending.push(entry);
  }

  /**
   * Whether the first intent of the saga's first step is durable already, written with the saga's
   * record: true once, for the attempt that would otherwise write it.
   */
  takeFirstIntent(): boolean {
    if (!this.#firstIntentRecorded || this.#pending.length > 0) return false;
    this.#firstIntentRecorded = false;
    return true;
  }

  /** Writes pending entries plus `change` in one log write, renewing the lease when it runs low. */
  async write(change: Change): Promise<void> {
    const now = this.#env.clock.now();
    if (!change.releaseLease) await this.renewLease();
    const entries = [...this.#pending, ...(change.entries ?? [])];
    const messages = [...this.#messages, ...(change.messages ?? [])];
    const outboxed = messages.length === 0 ? {} : { messages };
    const draft = this.#draft;
    const expected = this.#lastSeq;
    this.#lastSeq = undefined;
    try {
      if (draft === undefined) {
        const expectSeq = expected === undefined ? {} : { expectSeq: expected };
        await this.call(() =>
          this.#env.log.write(this.#sagaId, this.token, {
            ...change,
            ...expectSeq,
            ...outboxed,
            entries,
            now,
          }),
        );
        if (expected !== undefined) this.#lastSeq = expected + entries.length;
      } else {
        // The first co-committed group did not land: the saga's record is created now, with it.
        await this.call(() =>
          this.#env.log.create(this.#created(draft, change, now), entries, messages),
        );
        this.#draft = undefined;
        this.#lastSeq = entries.length;
      }
    } catch (error) {
      if (SagaLogError.is(error) && error.reason === "stale_token") throw new LeaseLost();
      if (draft !== undefined && SagaLogError.is(error) && error.reason === "exists") {
        throw new SagaExists();
      }
      throw error;
    }
    this.#pending = [];
    this.#messages = [];
    if (change.fence) this.#token += 1;
  }

  /**
   * Writes `entries` and `change` in the transaction `tx` of a co-committed group, through the log's
   * co-commit port: checked against the fencing token (or, for a saga not created yet, against an
   * existing id) when the transaction commits, so a refusal rolls the group back.
   */
  async writeIn(
    tx: unknown,
    change: Change,
    entries: readonly NewStepEntry[],
    messages: readonly NewOutboxMessage[] = [],
  ): Promise<void> {
    const coCommit = this.#env.log.coCommit as NonNullable<ExecutionEnv["log"]["coCommit"]>;
    const now = this.#env.clock.now();
    const draft = this.#draft;
    if (draft === undefined) {
      const expected = this.#lastSeq;
      const expectSeq = expected === undefined ? {} : { expectSeq: expected };
      this.#landingSeq = expected === undefined ? undefined : expected + entries.length;
      await coCommit.write(tx, this.#sagaId, this.token, {
        ...change,
        ...expectSeq,
        ...(messages.length === 0 ? {} : { messages: [...messages] }),
        entries: [...entries],
        now,
      });
    } else {
      this.#landingSeq = entries.length;
      await coCommit.create(tx, this.#created(draft, change, now), [...entries], [...messages]);
    }
  }

  /** Takes note that a co-committed group's transaction wrote the pending entries (and the record). */
  landed(): void {
    this.#pending = [];
    this.#messages = [];
    this.#draft = undefined;
    this.#lastSeq = this.#landingSeq;
  }

  /** The record that creates the saga with `change` applied, leased from `now` unless released. */
  #created(draft: SagaRecord, change: Change, now: number): SagaRecord {
    this.#leaseExpiresAt = now + this.#env.leaseTtlMs;
    return applyChange(
      { ...draft, leaseExpiresAt: this.#leaseExpiresAt, updatedAt: now },
      { ...change, now },
    );
  }

  /**
   * Calls the log with a deadline, like every other call: a log write that hangs would otherwise
   * hold the saga forever, its lease kept alive by the heartbeat while nothing moves. A write that
   * lands after its deadline is harmless: its fencing token keeps it from overriding a new owner.
   */
  async call<T>(call: () => Promise<T>): Promise<T> {
    const outcome = await callWithDeadline(this.#env.clock, this.#env.timeoutMs, undefined, call);
    if (outcome.status === "ok") return outcome.value;
    if (outcome.status === "error") throw outcome.error;
    throw new SagaLogError(
      "io",
      this.#sagaId,
      `The saga log did not answer within ${this.#env.timeoutMs} ms while running saga "${this.#sagaId}".`,
    );
  }

  /** The saga as the log holds it now, read with a deadline; `undefined` when it cannot be read. */
  async readBack(): Promise<{ readonly snapshot: SagaSnapshot | undefined } | undefined> {
    try {
      return { snapshot: await this.call(() => this.#env.log.load(this.#sagaId)) };
    } catch {
      return undefined;
    }
  }

  /** Extends the lease once half of it has run out; a refused renewal means another runner owns it. */
  async renewLease(): Promise<void> {
    if (this.#leaseLost) throw new LeaseLost();
    if (this.#draft !== undefined) return;
    const { clock, log, leaseTtlMs } = this.#env;
    const now = clock.now();
    if (now < this.#leaseExpiresAt - leaseTtlMs / 2) return;
    const renewed = await this.call(() =>
      log.renewLease(this.#sagaId, this.token, leaseTtlMs, now),
    );
    if (!renewed) throw new LeaseLost();
    this.#leaseExpiresAt = now + leaseTtlMs;
  }

  /**
   * Renews the lease every third of its time-to-live until the returned function is called, so a
   * step that runs longer than the lease does not lose it. A refused renewal means another runner
   * owns the saga: the next log write stops this one.
   */
  heartbeat(): () => void {
    const { clock, log, leaseTtlMs } = this.#env;
    const every = Math.max(1, Math.floor(leaseTtlMs / 3));
    let stopped = false;
    let cancel = () => {};
    const tick = () => {
      if (stopped) return;
      if (this.#draft !== undefined) {
        // Nothing to renew before the saga's record exists; its creation sets the lease.
        cancel = clock.setTimer(tick, every);
        return;
      }
      const now = clock.now();
      const token = this.#token;
      log.renewLease(this.#sagaId, token, leaseTtlMs, now).then(
        (renewed) => {
          if (renewed) this.#leaseExpiresAt = Math.max(this.#leaseExpiresAt, now + leaseTtlMs);
          // A renewal refused because this execution itself raised the token is not a takeover.
          else if (!stopped && token === this.#token) this.#leaseLost = true;
          if (!stopped) cancel = clock.setTimer(tick, every);
        },
        () => {
          // A failed renewal is tried again at the next beat; if the log stays down the lease lapses.
          if (!stopped) cancel = clock.setTimer(tick, every);
        },
      );
    };
    cancel = clock.setTimer(tick, every);
    return () => {
      stopped = true;
      cancel();
    };
  }
}
