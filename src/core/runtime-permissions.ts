import { LockstepRuntimeError } from "../model/runtime-error.js";

/** One permission a part of lockstep needs on Deno, and the flag that grants it. */
export interface DenoNeed {
  /** What Deno's permission API is asked, e.g. `{ name: "net", host: "127.0.0.1:5432" }`. */
  readonly query: {
    readonly name: "env" | "net";
    readonly variable?: string;
    readonly host?: string;
  };
  /** The flag that grants it, e.g. `"--allow-net"`. */
  readonly flag: string;
  /** Why it is needed, e.g. `"to reach Postgres at 127.0.0.1:5432"`. */
  readonly why: string;
}

interface DenoPermissionsApi {
  readonly permissions?: {
    querySync?(descriptor: { name: string; variable?: string; host?: string }): { state: string };
  };
}

/**
 * On Deno, throws a {@link LockstepRuntimeError} naming every permission of `needs` the program was
 * not started with, so that a missing `--allow-net` or `--allow-env` fails where the store is
 * created, with the flags to add, instead of deep inside a driver on its first request. Elsewhere,
 * and where Deno's permission API is missing, it does nothing.
 */
export function assertDenoPermissions(entry: string, needs: readonly DenoNeed[]): void {
  const deno = (globalThis as { Deno?: DenoPermissionsApi }).Deno;
  const querySync = deno?.permissions?.querySync;
  if (typeof querySync !== "function") return;
  const missing = needs.filter((need) => {
    try {
      return querySync.call(deno?.permissions, { ...need.query }).state !== "granted";
    } catch {
      return false;
    }
  });
  if (missing.length === 0) return;
  const flags = [...new Set(missing.map((need) => need.flag))];
  const requirement = `Deno permissions ${flags.join(" ")}`;
  throw new LockstepRuntimeError(
    requirement,
    `${entry} on Deno needs ${missing.map((need) => `${need.flag} (${need.why})`).join(" and ")}; the program was started without it. Run it with \`deno run ${flags.join(" ")} …\`.`,
  );
}
