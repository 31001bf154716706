import { describe, expect, it } from "vitest";
import type { SagaDefinition } from "../../src/model/definition.js";
import { describeDefinitionDiff } from "../../src/model/definition-diff.js";

const step = (
  name: string,
  store: string,
  more: Partial<SagaDefinition["steps"][number]> = {},
) => ({
  name,
  kind: "compensatable" as const,
  store,
  probe: false,
  compensate: true,
  ...more,
});

const definition = (steps: SagaDefinition["steps"], version = 1): SagaDefinition => ({
  name: "order",
  version,
  steps,
});

describe("describeDefinitionDiff", () => {
  it("says nothing for definitions of the same shape", () => {
    const logged = definition([step("reserve", "orders-db")]);
    expect(describeDefinitionDiff(logged, definition([step("reserve", "orders-db")]))).toBe(
      undefined,
    );
  });

  it("names the step, the field and both values of a changed store id", () => {
    const logged = definition([step("reserve", "postgres:127.0.0.1:5432/app")]);
    const given = definition([step("reserve", "postgres:localhost:5432/app")]);
    expect(describeDefinitionDiff(logged, given)).toBe(
      'step "reserve" field "store": logged "postgres:127.0.0.1:5432/app", given "postgres:localhost:5432/app"',
    );
  });

  it("names every differing field, in step order", () => {
    const logged = definition([step("reserve", "a"), step("charge", "b", { probe: true })]);
    const given = definition([
      step("reserve", "a", { kind: "pivot" }),
      step("charge", "b", { probe: false, compensate: false }),
    ]);
    expect(describeDefinitionDiff(logged, given)).toBe(
      'step "reserve" field "kind": logged "compensatable", given "pivot"; step "charge" field "probe": logged true, given false; step "charge" field "compensate": logged true, given false',
    );
  });

  it("names a renamed step by its position and both names", () => {
    const logged = definition([step("reserve", "a")]);
    const given = definition([step("hold", "a")]);
    expect(describeDefinitionDiff(logged, given)).toBe(
      'step 1 field "name": logged "reserve", given "hold"',
    );
  });

  it("names steps that only one side has", () => {
    const logged = definition([step("reserve", "a"), step("charge", "b")]);
    const given = definition([step("reserve", "a")]);
    expect(describeDefinitionDiff(logged, given)).toBe(
      'step "charge" (step 2): logged, absent from the given definition',
    );
    expect(describeDefinitionDiff(given, logged)).toBe(
      'step "charge" (step 2): absent from the logged definition, given',
    );
  });

  it("names a differing saga name or version", () => {
    const logged = definition([step("reserve", "a")], 1);
    const given = { ...definition([step("reserve", "a")], 2), name: "orders" };
    expect(describeDefinitionDiff(logged, given)).toBe(
      'saga field "name": logged "order", given "orders"; saga field "version": logged 1, given 2',
    );
  });
});
