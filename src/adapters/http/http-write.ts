import { describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import { pathProblem } from "./document-path.js";

/**
 * A prepared write to an HTTP document store: plain data, applied by one request.
 *
 * - `put` writes the JSON `body` at `path`: with `ifNoneMatch: "*"` only if the document does not
 *   exist (`If-None-Match: *`), with `ifMatch` only if its ETag is still that one (`If-Match`);
 * - `delete` removes the document at `path`, with `ifMatch` only if its ETag is still that one.
 *
 * A precondition that does not hold (412) affects nothing.
 *
 * @example
 * ```ts
 * const claim: HttpWrite = { op: "put", path: "bounties/b1", body: next, ifMatch: current.etag };
 * ```
 */
export type HttpWrite =
  | {
      readonly op: "put";
      readonly path: string;
      /** Any JSON-encodable value. */
      readonly body: unknown;
      /** Applies only if the document's ETag is still this one (`If-Match`). */
      readonly ifMatch?: string;
      /** `"*"`: applies only if the document does not exist (`If-None-Match: *`). */
      readonly ifNoneMatch?: "*";
    }
  | {
      readonly op: "delete";
      readonly path: string;
      /** Applies only if the document's ETag is still this one (`If-Match`). */
      readonly ifMatch?: string;
    };

/** What one HTTP write did. */
export interface HttpWriteResult {
  /** 1 when the write applied; 0 when its precondition failed (412) or a delete found nothing. */
  readonly affected: 0 | 1;
  /** The document's ETag after the write, `null` after a delete or when nothing applied. */
  readonly etag: string | null;
}

/** The precondition of a put: at most one of `ifMatch` and `ifNoneMatch`. */
export type HttpPutGuard =
  | { readonly ifMatch: string; readonly ifNoneMatch?: undefined }
  | { readonly ifNoneMatch: "*"; readonly ifMatch?: undefined }
  | { readonly ifMatch?: undefined; readonly ifNoneMatch?: undefined };

/**
 * Builds a `put`. Throws a {@link LockstepDefinitionError} when the path is not a relative document
 * path, the body cannot be encoded as JSON, or both preconditions are given.
 *
 * @example
 * ```ts
 * httpPut("bounties/b1", bounty, { ifNoneMatch: "*" }); // create only
 * ```
 */
export function httpPut(path: string, body: unknown, guard: HttpPutGuard = {}): HttpWrite {
  const write: HttpWrite = {
    op: "put",
    path,
    body,
    ...(guard.ifMatch === undefined ? {} : { ifMatch: guard.ifMatch }),
    ...(guard.ifNoneMatch === undefined ? {} : { ifNoneMatch: guard.ifNoneMatch }),
  };
  return checked(write);
}

/**
 * Builds a `delete`, guarded by `ifMatch` when given.
 *
 * @example
 * ```ts
 * httpDelete("claims/c7", { ifMatch: claim.etag });
 * ```
 */
export function httpDelete(path: string, guard: { readonly ifMatch?: string } = {}): HttpWrite {
  return checked(
    guard.ifMatch === undefined
      ? { op: "delete", path }
      : { op: "delete", path, ifMatch: guard.ifMatch },
  );
}

function checked(write: HttpWrite): HttpWrite {
  const problem = httpWriteProblem(write);
  if (problem !== undefined) throw new LockstepDefinitionError(problem);
  return write;
}

/**
 * What is wrong with a write, as a full sentence, or `undefined`. Writes are plain data, so the store
 * checks them again before sending.
 */
export function httpWriteProblem(write: unknown): string | undefined {
  if (typeof write !== "object" || write === null) {
    return `Expected an HTTP write object, got ${describeValue(write)}.`;
  }
  const w = write as Record<string, unknown>;
  if (w.op !== "put" && w.op !== "delete") {
    return `Expected an HTTP write \`op\` of "put" or "delete", got ${describeValue(w.op)}.`;
  }
  const path = pathProblem(w.path);
  if (path !== undefined) return path;
  return (
    guardProblem(w.op, w.path as string, w.ifMatch, w.op === "put" ? w.ifNoneMatch : undefined) ??
    (w.op === "put" ? bodyProblem(w.path as string, w.body) : undefined)
  );
}

/** What is wrong with a write's preconditions, or `undefined`. */
export function guardProblem(
  op: string,
  path: string,
  ifMatch: unknown,
  ifNoneMatch: unknown,
): string | undefined {
  if (
    ifMatch !== undefined &&
    (typeof ifMatch !== "string" || ifMatch.length === 0 || ifMatch === "*")
  ) {
    return `Expected \`ifMatch\` of the HTTP ${op} of "${path}" to be an ETag, got ${describeValue(ifMatch)}.`;
  }
  if (ifNoneMatch !== undefined && ifNoneMatch !== "*") {
    return `Expected \`ifNoneMatch\` of the HTTP ${op} of "${path}" to be "*", got ${describeValue(ifNoneMatch)}.`;
  }
  if (ifMatch !== undefined && ifNoneMatch !== undefined) {
    return `The HTTP ${op} of "${path}" sets both \`ifMatch\` and \`ifNoneMatch\`; a write can require the document to exist or to be absent, not both.`;
  }
  return undefined;
}

/** What is wrong with a document body, or `undefined`. */
export function bodyProblem(path: string, body: unknown): string | undefined {
  try {
    if (JSON.stringify(body) !== undefined) return undefined;
  } catch (error) {
    return `The body of the HTTP put of "${path}" cannot be encoded as JSON: ${error instanceof Error ? error.message : String(error)}.`;
  }
  return `Expected the body of the HTTP put of "${path}" to be JSON-encodable, got ${describeValue(body)}.`;
}
