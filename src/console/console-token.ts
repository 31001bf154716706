import { createHash, timingSafeEqual } from "node:crypto";
import { ConsoleRefusal } from "./refusal.js";

/**
 * Refuses (403) a request whose token is missing or is not `expected`, and every action when the
 * console has no token. The two are compared in constant time: each is hashed to 32 bytes first, so
 * neither its content nor its length shows in how long the comparison takes.
 */
export function checkToken(expected: string | undefined, given: string | undefined): void {
  if (expected === undefined) {
    throw new ConsoleRefusal(
      403,
      "Actions are off",
      "Actions are off: this console was started without --token, so it only shows the log.",
    );
  }
  if (given === undefined || given === "") {
    throw new ConsoleRefusal(
      403,
      "Token required",
      "This action needs the console's token, in the form's `token` field or the `x-lockstep-token` header; nothing was changed.",
    );
  }
  const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();
  if (!timingSafeEqual(digest(expected), digest(given))) {
    throw new ConsoleRefusal(
      403,
      "Wrong token",
      "The token does not match this console's; nothing was changed.",
    );
  }
}
