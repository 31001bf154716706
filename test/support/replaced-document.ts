import { expect } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  committed,
  compensated,
  createRunner,
  defineSaga,
  ErrorCode,
  explain,
  guardFailed,
  notCommitted,
  PlanGapCode,
  SagaStatus,
  type StepStore,
  StoreError,
} from "../../src/index.js";

/** A version as a store hands it out: a number, or an ETag. */
export type Version = number | string;

/**
 * How the replaced-document race drives one store: the step's own writes go through the handle the
 * runner gives it; the other writer's through whatever that writer would use.
 */
export interface ReplacedDocumentFixture<Handle> {
  readonly store: StepStore<Handle>;
  /** Creates `key` only if it is absent, and resolves with the version it wrote. */
  create(handle: Handle, key: string, value: unknown): Promise<Version>;
  /** Reads `key` fresh: its value and version, or `undefined`. */
  read(handle: Handle, key: string): Promise<{ value: unknown; version: Version } | undefined>;
  /** Deletes `key` only at `version`, and resolves with whether it deleted anything. */
  deleteAt(handle: Handle, key: string, version: Version): Promise<boolean>;
  /** The other writer: `key` disappears (deleted, or lost) and is created again holding `value`. */
  replace(key: string, value: unknown): Promise<void>;
}

/**
 * Runs a saga whose compensatable step creates `key` and whose pivot then fails, after another
 * writer deleted that document and created a new one under the same key. The compensation deletes
 * the document only at the version its step wrote, so it must refuse: the saga ends
 * `needs_attention` naming the step, and the other writer's document survives.
 */
export async function expectReplacedDocumentSurvives<Handle>(
  fixture: ReplacedDocumentFixture<Handle>,
  key: string,
): Promise<void> {
  const orders = createMemoryStore({ tier: "plain", id: "memory:orders" });
  let replaced = 0;
  const saga = defineSaga("replaced-document", { input: z.object({ key: z.string() }) })
    .step("hold", {
      store: fixture.store,
      kind: "compensatable",
      output: z.object({ version: z.union([z.number(), z.string()]) }),
      execute: async ({ input, handle }) => ({
        version: await fixture.create(handle, input.key, { owner: "saga" }),
      }),
      probe: async ({ input, handle }) => {
        const doc = await fixture.read(handle, input.key);
        return doc === undefined ? notCommitted() : committed({ version: doc.version });
      },
      compensate: async ({ input, handle, output }) =>
        (await fixture.deleteAt(handle, input.key, output.version))
          ? compensated()
          : guardFailed("the hold was replaced by another writer"),
    })
    .step("confirm", {
      store: orders,
      kind: "pivot",
      output: z.object({ confirmed: z.boolean() }),
      retry: { attempts: 1 },
      execute: async ({ input }) => {
        await fixture.replace(input.key, { owner: "other" });
        replaced++;
        throw new StoreError("not_committed", "orders refused the order");
      },
      probe: async () => notCommitted(),
    })
    .build();

  const result = await createRunner().run(saga, { key });
  expect(replaced, "the other writer must really have replaced the document").toBe(1);
  const survivor = await fixture.read(fixture.store.handle, key);
  expect(
    survivor?.value,
    "the compensation must not delete the document another writer created (ABA)",
  ).toEqual({ owner: "other" });
  const error = result._unsafeUnwrapErr();
  expect(error.code, "the refused compensation must stop the saga for a person").toBe(
    ErrorCode.NeedsAttention,
  );
  if (error.code !== ErrorCode.NeedsAttention) return;
  expect(error.step).toBe("hold");
  expect(error.reason).toBe("guard_failed");
  expect(error.report.status).toBe(SagaStatus.NeedsAttention);
  expect(
    fixture.store.capabilities.versionsNeverReused,
    "a store whose versions are never reused declares it",
  ).toBe(true);
  expect(
    explain(saga).gaps.map((gap) => gap.code),
    "explain must find nothing missing from a guard on such a store",
  ).not.toContain(PlanGapCode.ReusableVersions);
}
