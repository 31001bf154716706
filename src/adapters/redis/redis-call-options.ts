/** Options of every {@link RedisHandle} call. */
export interface RedisCallOptions {
  /**
   * Abandons the call: before the command is sent it is not sent (`not_committed`); after, the call
   * settles at once as `unknown`, since the command may still be applied.
   * @default no signal; the store's `commandTimeoutMs` still bounds every command
   */
  readonly signal?: AbortSignal;
}

/** Options of {@link RedisHandle.update}. */
export interface RedisUpdateOptions extends RedisCallOptions {
  /**
   * How many times to read, decide and write when another writer changes the key in between; after
   * the last lost race the call fails with a `conflict`.
   * @default 3
   */
  readonly attempts?: number;
}

/** The current JSON document handed to an {@link RedisHandle.update} function. */
export interface RedisJsonDoc {
  readonly value: unknown;
  readonly version: number;
}
