/** How deep a `cause` chain is followed: far enough for any real wrapping, and cycles end anyway. */
const MAX_DEPTH = 8;

/**
 * A readable message for any thrown value, carrying its root cause: an Error's message, an object's
 * `message`, or the value as text, followed by what the errors it wraps say that it does not
 * already — the errors an `AggregateError` gathers (Node reports a refused connection to a host with
 * two addresses, such as `localhost`, as one whose own message is empty) and its `cause` chain. So a
 * message built from it names the failing resource, e.g. `connect ECONNREFUSED 127.0.0.1:6390`.
 *
 * For example, an `Error("The log failed.")` whose cause is such an AggregateError of
 * `connect ECONNREFUSED ::1:6390` and `connect ECONNREFUSED 127.0.0.1:6390` reads
 * `The log failed: connect ECONNREFUSED ::1:6390; connect ECONNREFUSED 127.0.0.1:6390`.
 */
export function messageOf(error: unknown): string {
  const text = describe(error, 0, new Set());
  return text === "" ? fallbackOf(error) : text;
}

/**
 * {@link messageOf} without its closing full stop, for a sentence that goes on after it:
 * `failed: ${clauseOf(error)}. Nothing was written.` never reads "sent.. Nothing".
 */
export function clauseOf(error: unknown): string {
  return withoutStop(messageOf(error));
}

/** `text` without the full stop it ends with, if any. */
export function withoutStop(text: string): string {
  return text.replace(/\.+$/, "");
}

/** The text of `error` followed by what the errors it wraps add, outermost first. */
function describe(error: unknown, depth: number, seen: Set<unknown>): string {
  if (typeof error !== "object" || error === null) return String(error);
  if (depth > MAX_DEPTH || seen.has(error)) return "";
  seen.add(error);
  const parts = [ownMessage(error)];
  const inner = (error as { errors?: unknown }).errors;
  if (Array.isArray(inner)) {
    const texts = inner.map((e) => describe(e, depth + 1, seen)).filter((t) => t !== "");
    parts.push([...new Set(texts)].join("; "));
  }
  const cause = (error as { cause?: unknown }).cause;
  if (cause !== undefined) parts.push(describe(cause, depth + 1, seen));
  let text = "";
  for (const part of parts) {
    if (part === "" || text.includes(part)) continue;
    text = text === "" ? part : `${withoutStop(text)}: ${part}`;
  }
  return text;
}

function ownMessage(error: object): string {
  if (error instanceof Error) return error.message;
  return "message" in error ? String((error as { message: unknown }).message) : "";
}

/** What to say of an error that says nothing: its code, its name, or the value as text. */
function fallbackOf(error: unknown): string {
  if (typeof error !== "object" || error === null) return String(error);
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && code !== "") return code;
  if (error instanceof Error) return error.name;
  return "message" in error ? "" : String(error);
}
