/** What a relay reports as it works; see {@link RelayOptions.onEvent}. */
export type RelayEvent =
  | {
      /** The broker took the message; it is marked delivered next. */
      readonly type: "relay.published";
      readonly messageId: string;
      /** The broker dropped this copy as a duplicate of one it took before. */
      readonly duplicate: boolean;
    }
  | { readonly type: "relay.delivered"; readonly messageId: string }
  | {
      /** A try failed; the message is retried after `nextAt`, or `dead` once tries run out. */
      readonly type: "relay.failed";
      readonly messageId: string;
      readonly error: unknown;
      readonly attempt: number;
      readonly dead: boolean;
      readonly nextAt: number;
    }
  | {
      /**
       * The relay's claim on the message was taken over (it paused past its lease): it did not
       * publish, or published but could not mark, leaving the message to its new owner.
       */
      readonly type: "relay.fenced";
      readonly messageId: string;
      readonly published: boolean;
    };

/** Receives a relay's events. A listener that throws is ignored. */
export type RelayListener = (event: RelayEvent) => void;

/** What one pass of a relay did. */
export interface RelayPass {
  /** Messages claimed. */
  readonly claimed: number;
  /** Marked delivered (duplicates the broker dropped included). */
  readonly delivered: number;
  /** Of those, copies the broker recognised as duplicates. */
  readonly duplicates: number;
  /** Tries that failed and were scheduled again. */
  readonly retried: number;
  /** Messages that went dead. */
  readonly dead: number;
  /** Messages whose claim another relay had taken. */
  readonly fenced: number;
}
