export { UnsupportedDialectError } from "../sql/unsupported-dialect.js";
export { type KyselySagaLogOptions, kyselySagaLog } from "./kysely-saga-log.js";
export { kyselyStore } from "./kysely-store.js";
export type { KyselyStore, KyselyStoreOptions, KyselyWrite } from "./kysely-types.js";
