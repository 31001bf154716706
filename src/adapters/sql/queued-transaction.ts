import type { AbortWatch } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import { messageOf } from "../../core/message-of.js";
import { type ControlResult, SqlTransaction, type TransactionScope } from "./sql-transaction.js";
import { refuseTransactionControl } from "./transaction-control.js";

/**
 * A transaction on a driver that answers with promises (pg, mysql2, @libsql/client), over the one
 * connection it owns. Statements run one at a time in the order issued, so the driver never queues
 * them itself, and a statement queued behind others is checked again when its turn comes: its
 * scope may have ended while it waited. A dialect adds how one statement is sent
 * ({@link QueuedTransaction.send}) and its handle's shape.
 *
 * @typeParam Raw what the driver answers one statement with
 */
export abstract class QueuedTransaction<Handle, Sql, Raw> extends SqlTransaction<Handle, Sql> {
  #lost: unknown;
  /** The last statement enqueued; a statement queued behind it waits for it to settle. */
  #last: Promise<unknown> = Promise.resolve();
  #inFlight = 0;
  readonly #afterValue: <R>(value: R) => R;
  readonly #afterError: (error: unknown) => never;

  constructor(storeId: string, abort: AbortWatch) {
    super(storeId, abort);
    this.#afterValue = QueuedTransaction.#countsDown(this);
    this.#afterError = QueuedTransaction.#countsDownThrowing(this);
  }

  // Factories rather than arrow-function fields, so that transpilers that keep function names (tsx,
  // esbuild's keepNames) do not rename fresh functions for every transaction.
  static #countsDown(context: QueuedTransaction<unknown, unknown, unknown>): <R>(value: R) => R {
    return (value) => {
      context.#inFlight--;
      return value;
    };
  }

  static #countsDownThrowing(
    context: QueuedTransaction<unknown, unknown, unknown>,
  ): (error: unknown) => never {
    return (error) => {
      context.#inFlight--;
      throw error;
    };
  }

  /**
   * Sends one statement on the transaction's connection; `params` is `undefined` for none. `extra`
   * is what the dialect's driver takes beside them (pg's `rowMode` and `types`), passed through
   * {@link QueuedTransaction.statement} as given.
   */
  protected abstract send(
    sql: string,
    params: readonly unknown[] | undefined,
    extra?: unknown,
  ): Promise<Raw>;

  /** How many statements are running or queued on the connection. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The connection error the driver reported while this transaction held the connection, if any. */
  get lost(): unknown {
    return this.#lost;
  }

  /** Records a connection error reported by the driver (pg's `error` event, say). */
  connectionFailed(error: unknown): void {
    this.#lost ??= error;
  }

  /** Runs a statement of lockstep's own (`BEGIN`, `COMMIT`, …) after every queued one. */
  override control(sql: string): Promise<Raw> {
    return this.#enqueue(() => this.#dispatch(sql, undefined));
  }

  protected override beginSavepoint(
    parent: TransactionScope<SqlTransaction<Handle, Sql>>,
    sql: string,
  ): ControlResult {
    return this.#enqueue(() => {
      this.check(parent);
      return this.#dispatch(sql, undefined);
    });
  }

  /** Runs one statement through `scope`, with every check its handle makes. */
  protected statement(
    scope: TransactionScope<SqlTransaction<Handle, Sql>>,
    sql: string,
    params: readonly unknown[] | undefined,
    extra?: unknown,
  ): Promise<Raw> {
    try {
      this.check(scope);
      refuseTransactionControl(this.dialect, sql);
    } catch (error) {
      return Promise.reject(error);
    }
    // Checked again when a queued statement's turn comes: the scope may have ended while it waited.
    // One that goes out at once was checked just now.
    return this.#inFlight === 0
      ? this.#enqueue(() => this.#dispatch(sql, params, extra))
      : this.#enqueue(async () => {
          this.check(scope);
          return this.#dispatch(sql, params, extra);
        });
  }

  #dispatch(sql: string, params: readonly unknown[] | undefined, extra?: unknown): Promise<Raw> {
    if (this.#lost !== undefined) {
      return Promise.reject(
        new StoreError(
          "transient",
          `The connection of the transaction on "${this.storeId}" failed before this statement was sent (${messageOf(this.#lost)}); ${this.dialect.name} rolls the transaction back.`,
          { cause: this.#lost },
        ),
      );
    }
    return this.send(sql, params, extra);
  }

  /**
   * Runs `run` once every statement enqueued before it has settled, whatever its outcome; at once,
   * without waiting a turn, when none is running or queued.
   */
  #enqueue<R>(run: () => Promise<R>): Promise<R> {
    let result: Promise<R>;
    if (this.#inFlight === 0) {
      try {
        result = run();
      } catch (error) {
        result = Promise.reject(error);
      }
    } else {
      result = this.#last.then(run, run);
    }
    this.#inFlight++;
    const settled = result.then(this.#afterValue, this.#afterError);
    this.#last = settled;
    return settled;
  }
}
