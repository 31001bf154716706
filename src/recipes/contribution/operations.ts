import { errAsync, ResultAsync } from "neverthrow";
import { z } from "zod";
import {
  type Clock,
  classifyError,
  committed,
  defineSaga,
  ErrorCode,
  type InvalidInputError,
  lockstepError,
  notCommitted,
  type Runner,
  type SagaError,
  systemClock,
  type WriteFailedError,
} from "../../index.js";
import {
  type Contribution,
  type ContributionContent,
  contentAddress,
  contributionContentSchema,
  type Handoff,
  handoffId,
  normalizeRoutes,
} from "./model.js";
import type { ContributionStore, HandoffStore } from "./ports.js";

/** The stores a contribution is written to. */
export interface ContributionPorts {
  // biome-ignore lint/suspicious/noExplicitAny: each port may live on any kind of store.
  readonly contributions: ContributionStore<any>;
  // biome-ignore lint/suspicious/noExplicitAny: each port may live on any kind of store.
  readonly handoffs: HandoffStore<any>;
}

/** What {@link Contributions.contribute} reports. */
export interface ContributeResult {
  /** The contribution's content address. It is committed whenever the result is `Ok`. */
  readonly cid: string;
  /** The handoff ids, one per routed role, in role order. */
  readonly handoffIds: readonly string[];
  /** `"transaction"` when contribution and handoffs committed together; `"saga"` otherwise. */
  readonly strategy: "transaction" | "saga";
  /** `"pending"` when some handoffs are not written yet: recovery (or a resubmission) writes exactly those. */
  readonly handoffs: "complete" | "pending";
  /** What `onCommitted` threw, if it did; the contribution is committed regardless. */
  readonly sideEffectError?: unknown;
}

/** Why a contribution was not committed. */
export type ContributeError = SagaError | WriteFailedError | InvalidInputError;

/** Options of one contribution. */
export interface ContributeOptions {
  /**
   * The client's idempotency key: a resubmission with the same key and content creates nothing new
   * and returns the recorded outcome.
   */
  readonly idempotencyKey?: string;
  /** Runs after the contribution is durable (a notification, a webhook); its failure is reported, not thrown. */
  readonly onCommitted?: (result: ContributeResult) => Promise<void> | void;
  /** Cancels the write. */
  readonly signal?: AbortSignal;
}

/** Writes contributions with the handoffs that route them. */
export interface Contributions {
  /** The saga used when contributions and handoffs live in different stores. */
  readonly saga: ReturnType<typeof contributionSaga>;
  /** Which strategy a contribution gets on these ports. */
  readonly strategy: "transaction" | "saga";
  /**
   * Writes a contribution and one handoff per routed role: in one transaction when both stores are
   * the same transactional database, else as a saga whose pivot is the contribution and whose
   * retriable step writes the handoffs with ids derived from (cid, role).
   */
  contribute(
    content: ContributionContent,
    options?: ContributeOptions,
  ): ResultAsync<ContributeResult, ContributeError>;
}

/** The contribution saga: the contribution (pivot) → its handoffs (retriable). */
export function contributionSaga(ports: ContributionPorts, clock: Clock = systemClock) {
  const { contributions, handoffs } = ports;
  // The pivot is an idempotent, content-addressed put: an interrupted contribution is finished, not unwound.
  return defineSaga("contribution.contribute", {
    input: contributionContentSchema,
    recovery: "roll_forward",
  })
    .step("contribution", {
      store: contributions.store,
      kind: "pivot",
      output: z.object({ cid: z.string() }),
      execute: async ({ input, handle }) => {
        const cid = contentAddress(input);
        await contributions.put(handle, {
          ...input,
          routes: normalizeRoutes(input.routes),
          cid,
          createdAt: clock.now(),
        });
        return { cid };
      },
      probe: async ({ input, handle }) => {
        const cid = contentAddress(input);
        return (await contributions.get(handle, cid)) ? committed({ cid }) : notCommitted();
      },
    })
    .step("handoffs", {
      store: handoffs.store,
      kind: "retriable",
      output: z.object({ handoffIds: z.array(z.string()) }),
      execute: async ({ input, outputs, handle }) => {
        const ids: string[] = [];
        for (const role of normalizeRoutes(input.routes)) {
          ids.push(
            (await handoffs.put(handle, handoffFor(outputs.contribution.cid, role, clock.now())))
              .handoffId,
          );
        }
        return { handoffIds: ids };
      },
      probe: async ({ input, outputs, handle }) => {
        const have = new Set(
          (await handoffs.listBySource(handle, outputs.contribution.cid)).map((h) => h.toRole),
        );
        const roles = normalizeRoutes(input.routes);
        return roles.every((r) => have.has(r))
          ? committed({ handoffIds: roles.map((r) => handoffId(outputs.contribution.cid, r)) })
          : notCommitted();
      },
    })
    .build();
}

function handoffFor(cid: string, role: string, now: number): Handoff {
  return {
    handoffId: handoffId(cid, role),
    sourceCid: cid,
    toRole: role,
    status: "pending_pickup",
    createdAt: now,
  };
}

/**
 * Sets up contributions over the given ports. The runner records the saga when one is needed.
 *
 * @example
 * ```ts
 * const contributions = createContributions({ ports, runner });
 * const result = await contributions.contribute({ author: "ada", kind: "patch", body: { diff: "…" }, routes: ["reviewer"] });
 * ```
 */
export function createContributions(options: {
  readonly ports: ContributionPorts;
  readonly runner: Runner;
  readonly clock?: Clock;
}): Contributions {
  const { ports, runner } = options;
  const clock = options.clock ?? systemClock;
  const saga = contributionSaga(ports, clock);
  const store = ports.contributions.store;
  const oneDatabase =
    store.id === ports.handoffs.store.id &&
    store.capabilities.transactions &&
    store.transaction !== undefined;

  const afterCommit = async (
    result: ContributeResult,
    hook: ContributeOptions["onCommitted"],
  ): Promise<ContributeResult> => {
    if (hook === undefined) return result;
    try {
      await hook(result);
      return result;
    } catch (error) {
      return { ...result, sideEffectError: error };
    }
  };

  const inTransaction = (
    content: ContributionContent,
    opts: ContributeOptions,
  ): ResultAsync<ContributeResult, ContributeError> => {
    const cid = contentAddress(content);
    const roles = normalizeRoutes(content.routes);
    const transaction = store.transaction as NonNullable<typeof store.transaction>;
    const controller = new AbortController();
    const forward = () => controller.abort(opts.signal?.reason);
    opts.signal?.addEventListener("abort", forward, { once: true });
    const work = transaction(
      async (tx) => {
        const now = clock.now();
        const contribution: Contribution = { ...content, routes: roles, cid, createdAt: now };
        await ports.contributions.put(tx, contribution);
        for (const role of roles) await ports.handoffs.put(tx, handoffFor(cid, role, now));
      },
      { signal: controller.signal, deadline: clock.now() + 30_000 },
    ).finally(() => opts.signal?.removeEventListener("abort", forward));
    return ResultAsync.fromPromise(
      work,
      (error): ContributeError =>
        lockstepError({
          code: ErrorCode.WriteFailed,
          message: `The contribution ${cid} and its handoffs were not written: ${error instanceof Error ? error.message : String(error)}.`,
          store: store.id,
          index: 0,
          write: "contribution",
          kind: classifyError(error, store.classifyError),
          cause: error,
        }),
    ).andThen(() =>
      ResultAsync.fromSafePromise(
        afterCommit(
          {
            cid,
            handoffIds: roles.map((r) => handoffId(cid, r)),
            strategy: "transaction",
            handoffs: "complete",
          },
          opts.onCommitted,
        ),
      ),
    );
  };

  const asSaga = (
    content: ContributionContent,
    opts: ContributeOptions,
  ): ResultAsync<ContributeResult, ContributeError> => {
    const cid = contentAddress(content);
    const handoffIds = normalizeRoutes(content.routes).map((r) => handoffId(cid, r));
    const runOptions = {
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.idempotencyKey ? { sagaId: opts.idempotencyKey } : {}),
    };
    const run = async (): Promise<{ ok: ContributeResult } | { error: ContributeError }> => {
      const result = await runner.run(saga, content, runOptions);
      if (result.isOk()) return { ok: { cid, handoffIds, strategy: "saga", handoffs: "complete" } };
      const error = result.error;
      // Past the pivot the contribution is committed; the handoffs are left to recovery.
      if (
        error.code === ErrorCode.Incomplete ||
        (error.code === ErrorCode.InDoubt && error.step === "handoffs")
      ) {
        return { ok: { cid, handoffIds, strategy: "saga", handoffs: "pending" } };
      }
      return { error };
    };
    return ResultAsync.fromSafePromise(run()).andThen((outcome) =>
      "ok" in outcome
        ? ResultAsync.fromSafePromise(afterCommit(outcome.ok, opts.onCommitted))
        : errAsync<ContributeResult, ContributeError>(outcome.error),
    );
  };

  return {
    saga,
    strategy: oneDatabase ? "transaction" : "saga",
    contribute(content, opts = {}) {
      const parsed = contributionContentSchema.safeParse(content);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const path = issue?.path.map(String).join(".") ?? "";
        return errAsync(
          lockstepError({
            code: ErrorCode.InvalidInput,
            message: `The contribution is invalid at \`${path || "(root)"}\`: ${issue?.message ?? "invalid"}. Nothing was written.`,
            saga: saga.name,
            issues: parsed.error.issues.map((i) => ({
              path: i.path.map(String).join("."),
              message: i.message,
            })),
          }),
        );
      }
      return oneDatabase ? inTransaction(parsed.data, opts) : asSaga(parsed.data, opts);
    },
  };
}
