/**
 * Socket error codes raised before a connection existed, so before any request or command was
 * sent: a failure with one of these provably applied nothing. Adapters over network clients add
 * their driver's own codes to this list.
 */
export const NEVER_CONNECTED_CODES: readonly string[] = Object.freeze([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);
