import { describe, expect, it } from "vitest";
import { coCommitMode, defineStore } from "../../src/core/store.js";
import { LockstepDefinitionError } from "../../src/model/definition-error.js";

const deferredBatch = async <T>(work: (batch: unknown) => Promise<T>) => work({});
const batch = async () => [];

describe("a store's deferredBatch", () => {
  it("is refused without atomicBatch, naming the store", () => {
    expect(() => defineStore({ id: "kv", handle: {}, deferredBatch })).toThrow(
      LockstepDefinitionError,
    );
    expect(() => defineStore({ id: "kv", handle: {}, deferredBatch })).toThrow(
      /"kv".*deferredBatch.*atomicBatch/,
    );
  });

  it("that is not a function is refused", () => {
    expect(() =>
      defineStore({
        id: "kv",
        handle: {},
        capabilities: { atomicBatch: true },
        batch,
        deferredBatch: 1 as never,
      }),
    ).toThrow(LockstepDefinitionError);
  });

  it("makes a store on the log's database co-commit by batch; transactions win when both are there", () => {
    const batchOnly = defineStore({
      id: "db",
      handle: {},
      capabilities: { atomicBatch: true },
      batch,
      deferredBatch,
    });
    expect(coCommitMode(batchOnly, "db")).toBe("batch");
    expect(coCommitMode(batchOnly, "other")).toBeUndefined();
    expect(coCommitMode(batchOnly, undefined)).toBeUndefined();
    const both = defineStore({
      id: "db",
      handle: {},
      capabilities: { atomicBatch: true, transactions: true },
      batch,
      deferredBatch,
      transaction: async (work) => work({}),
    });
    expect(coCommitMode(both, "db")).toBe("transaction");
    const plain = defineStore({ id: "db", handle: {}, capabilities: { atomicBatch: true }, batch });
    expect(
      coCommitMode(plain, "db"),
      "a batch without deferredBatch cannot carry log records",
    ).toBeUndefined();
  });
});
