import { afterEach, describe, expect, it } from "vitest";
import { httpDocumentStore } from "../../src/adapters/http/index.js";
import { assertDenoPermissions } from "../../src/core/runtime-permissions.js";
import { LockstepRuntimeError } from "../../src/index.js";

// The real runs are on Deno (test/swamp/swamp.test.ts starts Deno without the flags); here the
// logic, with Deno's permission API stood in for.
const granted = new Set<string>();
const fakeDeno = {
  permissions: {
    querySync: (d: { name: string; variable?: string; host?: string }) => ({
      state: granted.has(`${d.name}:${d.variable ?? d.host ?? ""}`) ? "granted" : "prompt",
    }),
  },
};
const global = globalThis as { Deno?: unknown };

afterEach(() => {
  delete global.Deno;
  granted.clear();
});

describe("Deno permissions", () => {
  const needs = [
    {
      query: { name: "env" as const, variable: "PGHOST" },
      flag: "--allow-env",
      why: "pg reads PG*",
    },
    { query: { name: "net" as const, host: "db:5432" }, flag: "--allow-net", why: "to reach db" },
  ];

  it("outside Deno, nothing is asked and nothing thrown", () => {
    expect(() => assertDenoPermissions("x", needs)).not.toThrow();
  });

  it("on Deno, every missing permission is named with its flag, in one LockstepRuntimeError", () => {
    global.Deno = fakeDeno;
    const error = (() => {
      try {
        assertDenoPermissions("postgresSagaLog (lockstep/postgres)", needs);
      } catch (e) {
        return e;
      }
    })();
    expect(LockstepRuntimeError.is(error)).toBe(true);
    expect((error as LockstepRuntimeError).requirement).toBe(
      "Deno permissions --allow-env --allow-net",
    );
    expect((error as Error).message).toBe(
      "postgresSagaLog (lockstep/postgres) on Deno needs --allow-env (pg reads PG*) and --allow-net (to reach db); the program was started without it. Run it with `deno run --allow-env --allow-net …`.",
    );
    granted.add("env:PGHOST");
    granted.add("net:db:5432");
    expect(() => assertDenoPermissions("x", needs)).not.toThrow();
  });

  it("httpDocumentStore on Deno without --allow-net for its host is refused where it is created", () => {
    global.Deno = fakeDeno;
    expect(() => httpDocumentStore({ baseUrl: "http://127.0.0.1:9/docs/" })).toThrow(
      "httpDocumentStore (lockstep/http) on Deno needs --allow-net (to reach http://127.0.0.1:9)",
    );
    granted.add("net:127.0.0.1:9");
    expect(() => httpDocumentStore({ baseUrl: "http://127.0.0.1:9/docs/" })).not.toThrow();
  });

  it("on a Deno without the permission API, nothing is asked and nothing thrown", () => {
    global.Deno = {};
    expect(() => assertDenoPermissions("x", needs)).not.toThrow();
    global.Deno = { permissions: {} };
    expect(() => assertDenoPermissions("x", needs)).not.toThrow();
  });

  it("a permission Deno cannot be asked about is not called missing; the others still are", () => {
    global.Deno = {
      permissions: {
        querySync: (d: { name: string }) => {
          if (d.name === "env") throw new TypeError("unknown permission descriptor");
          return { state: "prompt" };
        },
      },
    };
    expect(() => assertDenoPermissions("x", needs)).toThrow(
      "x on Deno needs --allow-net (to reach db); the program was started without it. Run it with `deno run --allow-net …`.",
    );
  });
});
