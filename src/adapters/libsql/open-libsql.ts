import { type Client, createClient } from "@libsql/client";
import { StoreError } from "../../core/error-kinds.js";
import { messageOf } from "../../core/message-of.js";
import { describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";

/** Options of {@link openLibsql}: what `@libsql/client`'s `createClient` takes besides the URL. */
export interface OpenLibsqlOptions {
  /** The auth token of a remote database (Turso). */
  readonly authToken?: string;
}

/**
 * Opens a libSQL database with `@libsql/client` and checks that it answers, so that a URL that
 * cannot be opened fails here, naming it, before anything is written. A local file is
 * `file:path/to/app.db`; a remote database `libsql://…` or `https://…`.
 *
 * Throws a `LockstepDefinitionError` for a URL that is not a string or that the client refuses, and a
 * `not_committed` {@link StoreError} for a database that cannot be opened (a missing directory, an
 * unreachable server), with the driver's error as its cause.
 *
 * @example
 * ```ts
 * const client = await openLibsql("file:./data/app.db");
 * const store = libsqlStore(client, { id: "app-db" });
 * ```
 */
export async function openLibsql(url: string, options: OpenLibsqlOptions = {}): Promise<Client> {
  if (typeof url !== "string" || url.trim() === "") {
    throw new LockstepDefinitionError(
      `Expected \`url\` to be a libSQL database URL ("file:app.db", "libsql://…"), got ${describeValue(url)}.`,
    );
  }
  let client: Client;
  try {
    client = createClient({
      url,
      ...(options.authToken === undefined ? {} : { authToken: options.authToken }),
    });
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === "string" && code.startsWith("URL_")) {
      throw new LockstepDefinitionError(
        `Expected \`url\` to be a libSQL database URL the client accepts, got ${JSON.stringify(url)}: ${messageOf(error)}`,
      );
    }
    throw cannotOpen(url, error);
  }
  try {
    await client.execute("SELECT 1");
  } catch (error) {
    client.close();
    throw cannotOpen(url, error);
  }
  return client;
}

function cannotOpen(url: string, error: unknown): StoreError {
  return new StoreError(
    "not_committed",
    `The libSQL database ${JSON.stringify(url)} cannot be opened: ${messageOf(error)}. Nothing was written.`,
    { cause: error },
  );
}
