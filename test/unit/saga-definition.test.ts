import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import { committed, compensated, defineSaga } from "../../src/index.js";
import { definitionError } from "./fixtures/definition-error.js";

const store = createMemoryStore({ tier: "plain" });
const out = z.object({ ok: z.boolean() });
const exec = async () => ({ ok: true });
const probe = async () => committed({ ok: true });
const comp = async () => compensated();
const base = () => defineSaga("s", { input: z.object({}) });

describe("saga definition", () => {
  it("accepts compensatable* → pivot → retriable* and records the shape as data", () => {
    const saga = base()
      .step("a", {
        store,
        kind: "compensatable",
        output: out,
        execute: exec,
        probe,
        compensate: comp,
      })
      .step("b", {
        store,
        kind: "compensatable",
        output: out,
        execute: exec,
        probe,
        compensate: comp,
      })
      .step("p", { store, kind: "pivot", output: out, execute: exec, probe })
      .step("r", { store, kind: "retriable", output: out, execute: exec })
      .build();
    expect(saga.forwardFrom).toBe(3);
    expect(saga.definition).toEqual({
      name: "s",
      version: 1,
      steps: [
        { name: "a", kind: "compensatable", store: "memory:plain", probe: true, compensate: true },
        { name: "b", kind: "compensatable", store: "memory:plain", probe: true, compensate: true },
        { name: "p", kind: "pivot", store: "memory:plain", probe: true, compensate: false },
        { name: "r", kind: "retriable", store: "memory:plain", probe: false, compensate: false },
      ],
    });
    expect(JSON.parse(JSON.stringify(saga.definition))).toEqual(saga.definition);
  });

  it("without a pivot, the first retriable step starts the forward-only part", () => {
    const saga = base()
      .step("a", {
        store,
        kind: "compensatable",
        output: out,
        execute: exec,
        probe,
        compensate: comp,
      })
      .step("r", { store, kind: "retriable", output: out, execute: exec })
      .build();
    expect(saga.forwardFrom).toBe(1);
  });

  const cases: [string, () => unknown, string][] = [
    [
      "a compensatable step after the pivot",
      () =>
        base().step("p", { store, kind: "pivot", output: out, execute: exec, probe }).step("a", {
          store,
          kind: "compensatable",
          output: out,
          execute: exec,
          probe,
          compensate: comp,
        }),
      'Step "a" of saga "s" is compensatable but comes after the pivot step "p"',
    ],
    [
      "a second pivot",
      () =>
        base()
          .step("p", { store, kind: "pivot", output: out, execute: exec, probe })
          .step("q", { store, kind: "pivot", output: out, execute: exec, probe }),
      'Step "q" of saga "s" is a second pivot',
    ],
    [
      "a pivot after a retriable step",
      () =>
        base()
          .step("r", { store, kind: "retriable", output: out, execute: exec })
          .step("p", { store, kind: "pivot", output: out, execute: exec, probe }),
      'Step "p" of saga "s" is the pivot but comes after the retriable step "r"',
    ],
    [
      "a compensatable step without compensate",
      () => base().step("a", { store, kind: "compensatable", output: out, execute: exec, probe }),
      'Step "a" of saga "s" is compensatable but has no compensate function',
    ],
    [
      "a pivot without a probe",
      () => base().step("p", { store, kind: "pivot", output: out, execute: exec }),
      'Step "p" of saga "s" is pivot but has no probe',
    ],
    [
      "a pivot with a compensate",
      () =>
        base().step("p", {
          store,
          kind: "pivot",
          output: out,
          execute: exec,
          probe,
          compensate: comp,
        } as never),
      'Step "p" of saga "s" is pivot and so is never compensated, but it has a compensate function',
    ],
    [
      "a duplicate step name",
      () =>
        base()
          .step("a", { store, kind: "retriable", output: out, execute: exec })
          .step("a", { store, kind: "retriable", output: out, execute: exec }),
      'Saga "s" already has a step named "a"',
    ],
    [
      "an unknown kind",
      () => base().step("a", { store, kind: "optional", output: out, execute: exec } as never),
      'Expected the kind of step "a" of saga "s" to be one of compensatable, pivot, retriable, got `"optional"` (string).',
    ],
    [
      "a timeout of zero",
      () =>
        base().step("a", { store, kind: "retriable", output: out, execute: exec, timeoutMs: 0 }),
      'Expected `step "a" of saga "s": timeoutMs` to be an integer from 1 to 2147483647, got `0` (number).',
    ],
    [
      "a retry policy with jitter above 1",
      () =>
        base().step("a", {
          store,
          kind: "retriable",
          output: out,
          execute: exec,
          retry: { jitter: 2 },
        }),
      "jitter` to be a number from 0 to 1, got `2` (number).",
    ],
    [
      "an output that is not a schema",
      () =>
        base().step("a", {
          store,
          kind: "retriable",
          output: { ok: true },
          execute: exec,
        } as never),
      'Expected the output of step "a" of saga "s" to be a zod schema',
    ],
    ["a saga with no steps", () => base().build(), 'Saga "s" has no steps'],
    [
      "a blank saga name",
      () => defineSaga(" s", { input: z.object({}) }),
      "Expected `saga name` to be a non-empty string",
    ],
  ];

  it.each(cases)("refuses %s with a full-sentence message", (_label, define, expected) => {
    const message = definitionError(define);
    expect(message).toContain(expected);
    expect(message.endsWith(".")).toBe(true);
  });

  it("ran every refusal case", () => {
    expect(cases).toHaveLength(13);
  });
});
