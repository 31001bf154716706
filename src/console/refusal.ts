/**
 * A request the console answers with an error page and `status` (400, 403, 404, 405, 409, 413)
 * instead of what was asked for; nothing was changed.
 */
export class ConsoleRefusal extends Error {
  readonly status: number;
  readonly title: string;
  /** Headers the answer carries, such as `allow` with a 405. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    title: string,
    message: string,
    headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "ConsoleRefusal";
    this.status = status;
    this.title = title;
    this.headers = headers;
  }
}

/** A 400 refusal naming the query or form field and the value it could not take. */
export function badField(field: string, expected: string, value: string): ConsoleRefusal {
  return new ConsoleRefusal(
    400,
    "Bad request",
    `Expected \`${field}\` to be ${expected}, got ${JSON.stringify(value)}.`,
  );
}
