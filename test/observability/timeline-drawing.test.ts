import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  defineSaga,
  EntryType,
  OPERATOR_STEP,
  renderTimelineSvg,
  renderTimelineText,
  SCHEMA_VERSION,
  sagaTimeline,
  stepEntrySchema,
  timelineLayout,
} from "../../src/index.js";
import { replaySteps } from "../../src/log/replay.js";
import { drawnSaga } from "./support/drawn-saga.js";

const count = (text: string, pattern: RegExp) => (text.match(pattern) ?? []).length;

describe("timelineLayout", () => {
  it("groups entries into attempts, keeps a probed answer in the attempt it settles, and finds the takeovers", () => {
    const layout = timelineLayout(sagaTimeline(drawnSaga()));
    expect(layout.lanes.map((l) => [l.step, l.kind])).toEqual([
      ["reserve", "compensatable"],
      ["charge", "pivot"],
      ["notify", "retriable"],
      [OPERATOR_STEP, "operator"],
    ]);
    const spans = layout.lanes.flatMap((l) =>
      l.spans.map((s) => `${l.step}#${s.attempt}:${s.end}`),
    );
    expect(spans).toEqual([
      "reserve#1:committed",
      "charge#1:committed",
      "notify#1:not_committed",
      "notify#2:committed",
    ]);
    expect(layout.lanes[1]?.spans[0]?.via).toBe("probe");
    expect(layout.takeovers.map((t) => [t.seq, t.token])).toEqual([
      [4, 2],
      [10, 3],
    ]);
    expect(layout.end - layout.start).toBe(1100);
  });
});

describe("renderTimelineSvg", () => {
  const svg = renderTimelineSvg(drawnSaga());

  it("draws one bar per attempt, the probe, and a line per takeover labelled with its token", () => {
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(count(svg, /data-kind="attempt"/g), "attempt bars").toBe(4);
    expect(count(svg, /data-kind="probe"/g), "probed commits").toBe(1);
    expect(count(svg, /data-kind="takeover"/g), "takeovers").toBe(2);
    expect(svg).toContain('data-kind="takeover" data-token="2"');
    expect(svg).toContain(">token 3</text>");
    expect(count(svg, /data-kind="operator"/g), "operator notes").toBe(1);
    expect(count(svg, /<g\b/g), "every group closed").toBe(count(svg, /<\/g>/g));
  });

  it("escapes everything the log holds: a hostile error message and operator name show as text", () => {
    expect(svg).not.toContain("<script");
    expect(svg).not.toContain("<b>");
    expect(svg).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    expect(svg).toContain("note by ops &lt;b&gt;");
  });

  it("draws compensations under their step and an open attempt dashed", () => {
    const base = drawnSaga();
    const at = base.record.createdAt;
    const entry = (seq: number, step: string, type: string, extra: object = {}) =>
      stepEntrySchema.parse({
        schemaVersion: SCHEMA_VERSION,
        sagaId: base.record.sagaId,
        seq,
        step,
        type,
        attempt: 1,
        token: 1,
        at: at + seq,
        ...extra,
      });
    const snapshot = {
      record: { ...base.record, status: "compensating" as const },
      entries: [
        entry(1, "reserve", EntryType.Intent),
        entry(2, "reserve", EntryType.Committed, { via: "execute" }),
        entry(3, "charge", EntryType.Intent),
        entry(4, "charge", EntryType.NotCommitted),
        entry(5, "reserve", EntryType.CompensationIntent),
        entry(6, "reserve", EntryType.CompensationFailed, {
          error: { kind: "transient", message: "down" },
        }),
        entry(7, "reserve", EntryType.CompensationIntent),
        entry(8, "reserve", EntryType.Compensated),
        entry(9, "notify", EntryType.Intent),
      ],
    };
    const drawn = renderTimelineSvg(snapshot);
    expect(count(drawn, /data-kind="compensation"/g)).toBe(2);
    expect(drawn).toContain(
      'data-kind="compensation" data-attempt="1" data-end="compensation_failed"',
    );
    expect(drawn).toContain('data-kind="compensation" data-attempt="1" data-end="compensated"');
    expect(drawn).toMatch(/data-end="open"[^>]*><rect[^>]*stroke-dasharray/);
    expect(count(drawn, /data-kind="takeover"/g)).toBe(0);
  });

  it("refuses a width it cannot draw in, naming it", () => {
    expect(() => renderTimelineSvg(drawnSaga(), { width: 10 })).toThrow(
      "Expected `width` to be an integer >= 400, got 10.",
    );
  });
});

describe("renderTimelineText", () => {
  it("draws a lane per step, a column per entry, and the takeovers with their tokens", () => {
    expect(renderTimelineText(drawnSaga()).split("\n")).toEqual([
      "tokens      1     2           3",
      "reserve     ▶─✔  ┃           ┃",
      "charge          ▶┃?─✔        ┃",
      "notify           ┃    ▶─✘ ▶─✔┃",
      "(operator)       ┃           ┃◆",
    ]);
  });

  it("draws nothing for a saga with no entries", () => {
    expect(renderTimelineText({ ...drawnSaga(), entries: [] })).toBe("");
  });
});

describe("operator entries", () => {
  it("move no step when replayed", () => {
    const { record, entries } = drawnSaga();
    const withNote = replaySteps(record.definition, entries);
    const without = replaySteps(
      record.definition,
      entries.filter((e) => e.type !== "operator"),
    );
    expect(withNote).toEqual(without);
  });

  it("are validated: an operator entry without an actor is refused, naming the field", () => {
    const parsed = stepEntrySchema.safeParse({
      ...drawnSaga().entries[9],
      operator: { actor: "", action: "retry", note: "" },
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(["operator", "actor"]);
  });

  it("have a step name no saga can use", () => {
    const store = createMemoryStore({ id: "m", tier: "plain" });
    expect(() =>
      defineSaga("s", { input: z.object({}) }).step(OPERATOR_STEP, {
        store,
        kind: "retriable",
        output: z.object({}),
        execute: async () => ({}),
      }),
    ).toThrow(`A step cannot be named "${OPERATOR_STEP}"`);
  });
});
