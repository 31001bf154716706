export {
  createInbox,
  type Inbox,
  type InboxHandles,
  type InboxOptions,
  type PostgresInboxHandle,
  type SqliteInboxHandle,
} from "./inbox.js";
export {
  type NatsHeaders,
  type NatsJetStream,
  type NatsPublisherOptions,
  natsPublisher,
} from "./nats-publisher.js";
export {
  type OutboxPublisher,
  type OutgoingMessage,
  PublishError,
  type PublishReceipt,
} from "./publisher.js";
export {
  type RabbitmqConfirmChannel,
  type RabbitmqPublisherOptions,
  rabbitmqPublisher,
} from "./rabbitmq-publisher.js";
export { createRelay, type Relay } from "./relay.js";
export type { RelayEvent, RelayListener, RelayPass } from "./relay-events.js";
export type { RelayOptions } from "./relay-options.js";
