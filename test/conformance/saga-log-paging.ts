import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cursorOf, type SagaLog } from "../../src/log/saga-log.js";
import { AttentionReason } from "../../src/model/attention-reason.js";
import { type SagaRecord, SagaStatus } from "../../src/model/records.js";
import type { SagaLogFactory } from "./saga-log.js";
import { sagaRecord } from "./saga-log.js";

const T0 = 1_700_000_000_000;

/** Twelve sagas: created a second apart (two pairs share a time), some needing attention. */
async function seed(log: SagaLog): Promise<SagaRecord[]> {
  const records: SagaRecord[] = [];
  for (let i = 0; i < 12; i++) {
    // Pairs share a creation time, so the saga id must break the ties.
    const created = T0 + Math.floor(i / 2) * 1_000;
    const record = sagaRecord(`saga-${String(i).padStart(2, "0")}`, {
      createdAt: created,
      updatedAt: created + (11 - i) * 10_000,
      definition: { ...sagaRecord("x").definition, name: i % 3 === 0 ? "refund" : "order" },
      leaseOwner: null,
      leaseExpiresAt: null,
    });
    await log.create(record);
    records.push(record);
  }
  // Two need attention for a guard that failed, one because its compensation kept failing.
  const attention = (sagaId: string, reason: AttentionReason) =>
    log.write(sagaId, 1, {
      status: SagaStatus.NeedsAttention,
      attention: {
        reason,
        step: "reserve",
        message: `"${reason}" with "quotes" and 100% _odd_ text`,
      },
      now: (records.find((r) => r.sagaId === sagaId) as SagaRecord).updatedAt,
    });
  await attention("saga-03", AttentionReason.GuardFailed);
  await attention("saga-07", AttentionReason.GuardFailed);
  await attention("saga-10", AttentionReason.CompensationFailed);
  return records;
}

/** Every saga of `filter`, fetched `size` at a time by keyset paging. */
async function allPages(log: SagaLog, filter: Parameters<SagaLog["list"]>[0], size: number) {
  const order = filter?.orderBy ?? "created";
  const pages: string[][] = [];
  let before: ReturnType<typeof cursorOf> | undefined;
  for (let guard = 0; guard < 50; guard++) {
    const page = await log.list({
      ...filter,
      limit: size,
      ...(before === undefined ? {} : { before }),
    });
    if (page.length === 0) break;
    pages.push(page.map((r) => r.sagaId));
    before = cursorOf(page[page.length - 1] as SagaRecord, order);
  }
  return pages;
}

/**
 * Holds a saga log to `list`'s paging and its time and attention filters: pages that follow each
 * other by keyset cursor cover the whole order exactly once, equal times included.
 */
export function sagaLogPagingConformance(name: string, factory: SagaLogFactory): void {
  describe(`SagaLog paging conformance: ${name}`, () => {
    let log: SagaLog;
    let close: () => Promise<void>;
    beforeEach(async () => {
      const opened = await factory();
      log = opened.log;
      close = () => opened.close();
    });
    afterEach(async () => {
      await close();
    });

    it("pages by keyset cursor through every saga exactly once, in order, by creation and by update", async () => {
      await seed(log);
      for (const orderBy of ["created", "updated"] as const) {
        const whole = (await log.list({ orderBy })).map((r) => r.sagaId);
        expect(whole).toHaveLength(12);
        const pages = await allPages(log, { orderBy }, 5);
        expect(
          pages.map((p) => p.length),
          `page sizes by ${orderBy}`,
        ).toEqual([5, 5, 2]);
        expect(pages.flat(), `pages by ${orderBy} join into the whole list`).toEqual(whole);
      }
    });

    it("pages within a filter, and bounds the ordering time with since and until", async () => {
      const records = await seed(log);
      const orders = (await log.list({ name: "order" })).map((r) => r.sagaId);
      expect(orders).toHaveLength(8);
      expect((await allPages(log, { name: "order" }, 3)).flat()).toEqual(orders);
      const since = T0 + 2_000;
      const until = T0 + 4_000;
      const bounded = (await log.list({ since, until })).map((r) => r.sagaId);
      const expected = records
        .filter((r) => r.createdAt >= since && r.createdAt < until)
        .sort((a, b) => b.createdAt - a.createdAt || (a.sagaId < b.sagaId ? 1 : -1))
        .map((r) => r.sagaId);
      expect(expected.length, "the bounds cut the seed").toBeGreaterThan(1);
      expect(expected.length).toBeLessThan(12);
      expect(bounded).toEqual(expected);
    });

    it("filters by attention reason, as the record states it", async () => {
      await seed(log);
      const guard = await log.list({ attention: [AttentionReason.GuardFailed] });
      expect(guard.map((r) => r.sagaId)).toEqual(["saga-07", "saga-03"]);
      const both = await log.list({
        attention: [AttentionReason.GuardFailed, AttentionReason.CompensationFailed],
      });
      expect(both.map((r) => r.sagaId)).toEqual(["saga-10", "saga-07", "saga-03"]);
      expect(await log.list({ attention: [AttentionReason.Escalated] })).toEqual([]);
      expect(await log.list({ attention: [] })).toEqual([]);
    });

    it("refuses a malformed filter, naming the value", async () => {
      await expect(log.list({ before: { time: 1.5, sagaId: "a" } })).rejects.toThrow(
        "Expected `before.time` to be an integer",
      );
      await expect(log.list({ attention: ["nope" as AttentionReason] })).rejects.toThrow(
        'got "nope"',
      );
      await expect(log.list({ since: Number.NaN })).rejects.toThrow("Expected `since`");
    });
  });
}
