import { describe, expect, it } from "vitest";
import { clauseOf, messageOf } from "../../src/core/message-of.js";

/** `e0: e1: …` as a cause chain of `length` errors, the outermost first. */
function chain(length: number): Error {
  let error: Error | undefined;
  for (let i = length - 1; i >= 0; i--) {
    error = new Error(`e${i}`, error === undefined ? undefined : { cause: error });
  }
  return error as Error;
}

/** `length` AggregateErrors, each gathering an error of its own and the next. */
function nestedAggregates(length: number): AggregateError {
  let error: AggregateError | undefined;
  for (let i = length - 1; i >= 0; i--) {
    error = new AggregateError(
      error === undefined ? [new Error(`a${i}`)] : [new Error(`a${i}`), error],
      "",
    );
  }
  return error as AggregateError;
}

describe("messageOf: how far a message follows the errors it wraps", () => {
  it("follows a cause chain 8 links deep and no further", () => {
    expect(messageOf(chain(9))).toBe("e0: e1: e2: e3: e4: e5: e6: e7: e8");
    expect(messageOf(chain(14))).toBe("e0: e1: e2: e3: e4: e5: e6: e7: e8");
  });

  it("follows gathered errors (an AggregateError's) down to the 8th level and no further", () => {
    expect(messageOf(nestedAggregates(12))).toBe("a0; a1; a2; a3; a4; a5; a6; a7");
  });

  it("leaves out a gathered error that says nothing, rather than an empty entry", () => {
    const error = new AggregateError(
      [
        new Error("connect ECONNREFUSED ::1:5432"),
        new Error(""),
        new Error("connect ECONNREFUSED 127.0.0.1:5432"),
      ],
      "",
    );
    expect(messageOf(error)).toBe(
      "connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432",
    );
  });
});

describe("messageOf: an error that says nothing", () => {
  it("an empty string reads as itself, and null as null", () => {
    expect(messageOf("")).toBe("");
    expect(messageOf(null)).toBe("null");
  });

  it("an Error with an empty code is named by its class, not by that code", () => {
    expect(messageOf(Object.assign(new RangeError(""), { code: "" }))).toBe("RangeError");
  });

  it("an object with an empty message reads empty, not as [object Object]", () => {
    expect(messageOf({ message: "" })).toBe("");
    expect(messageOf({ message: "", code: "ETIMEDOUT" })).toBe("ETIMEDOUT");
  });
});

describe("clauseOf", () => {
  it("keeps the full stops inside a message, such as an address's", () => {
    expect(clauseOf(new Error("connect ECONNREFUSED 127.0.0.1:5432."))).toBe(
      "connect ECONNREFUSED 127.0.0.1:5432",
    );
  });

  it("drops every closing full stop of an ellipsis", () => {
    expect(clauseOf(new Error("The call timed out..."))).toBe("The call timed out");
    expect(`failed: ${clauseOf(new Error("still waiting..."))}. Nothing was applied.`).toBe(
      "failed: still waiting. Nothing was applied.",
    );
  });
});
