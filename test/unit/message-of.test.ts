import { describe, expect, it } from "vitest";
import { clauseOf, messageOf } from "../../src/core/message-of.js";

const refused = () =>
  Object.assign(
    new AggregateError(
      [
        new Error("connect ECONNREFUSED ::1:6390"),
        new Error("connect ECONNREFUSED 127.0.0.1:6390"),
      ],
      "",
    ),
    { code: "ECONNREFUSED" },
  );

describe("messageOf carries the root cause", () => {
  it("reads an AggregateError with an empty message by the errors it gathers", () => {
    expect(messageOf(refused())).toBe(
      "connect ECONNREFUSED ::1:6390; connect ECONNREFUSED 127.0.0.1:6390",
    );
  });

  it("adds what the cause chain says that the message does not, and nothing twice", () => {
    const wrapped = new Error("The saga log failed.", { cause: refused() });
    expect(messageOf(wrapped)).toBe(
      "The saga log failed: connect ECONNREFUSED ::1:6390; connect ECONNREFUSED 127.0.0.1:6390",
    );
    const inner = new Error("connect ECONNREFUSED 127.0.0.1:5432");
    const already = new Error(`Could not connect: ${inner.message}.`, { cause: inner });
    expect(messageOf(already)).toBe("Could not connect: connect ECONNREFUSED 127.0.0.1:5432.");
    const twice = new Error("outer", { cause: new Error("middle", { cause: inner }) });
    expect(messageOf(twice)).toBe("outer: middle: connect ECONNREFUSED 127.0.0.1:5432");
  });

  it("keeps what it said before for values without causes", () => {
    expect(messageOf(new Error("plain"))).toBe("plain");
    expect(messageOf({ message: "shaped" })).toBe("shaped");
    expect(messageOf("text")).toBe("text");
    expect(messageOf(42)).toBe("42");
    expect(messageOf(undefined)).toBe("undefined");
    expect(messageOf({})).toBe("[object Object]");
  });

  it("names an error that says nothing by its code or its name, and survives a cycle", () => {
    expect(messageOf(Object.assign(new Error(""), { code: "ECONNRESET" }))).toBe("ECONNRESET");
    expect(messageOf(new TypeError(""))).toBe("TypeError");
    const a = new Error("a") as Error & { cause?: unknown };
    const b = new Error("b", { cause: a });
    a.cause = b;
    expect(messageOf(a)).toBe("a: b");
  });

  it("clauseOf drops the closing full stop, for a sentence that goes on", () => {
    expect(clauseOf(new Error("nothing was sent."))).toBe("nothing was sent");
    expect(`failed: ${clauseOf(new Error("nothing was sent."))}. Nothing was applied.`).toBe(
      "failed: nothing was sent. Nothing was applied.",
    );
  });
});
