import type { Preambles } from "./generate-example.js";

/**
 * The free variables of the documentation's examples, by folder (`*` for everywhere): what an
 * example assumes is in scope, with the type it must have. A value ending in `;` is the whole
 * declaration. Public names an example uses are imported from their entry automatically; only
 * what the example genuinely takes from its surroundings belongs here.
 */
export const PREAMBLES: Preambles = {
  "*": {
    transfer: "Saga<z.ZodObject<{ amount: z.ZodNumber }>, { debit: { entryId: string } }>",
    log: "SagaLog",
    runner: "Runner",
    sagaId: "string",
    signal: "AbortSignal",
    scope: "CallScope",
    ports: "BountyPorts",
  },
  "docs/": {
    logger: "Logger",
  },
  "src/adapters/http/": {
    refused: "Error",
    handle: "HttpDocumentClient",
    bounty: "Bounty",
    claim: "HttpDocument<Bounty>",
    current: "HttpDocument<Bounty>",
    next: "Bounty",
    token: "string",
    error: "unknown",
  },
  "src/adapters/postgres/": {
    error: "unknown",
    pgError: "Error",
    scheduleRetry: "() => void",
    handle: "PostgresHandle",
    store: "PostgresStore",
    log: "PostgresSagaLog",
    id: "string",
    next: "number",
    version: "number",
    bountyId: "string",
    orderId: "string",
    token: "number",
    committedEntry: "NewStepEntry",
  },
  "src/adapters/redis/": {
    replyError: "(message: string) => Error",
    store: "RedisStore",
    handle: "RedisHandle",
    next: "Bounty",
    error: "unknown",
    log: "{ warn(message: string): void }",
  },
  "src/adapters/d1/": {
    env: "{ readonly DB: D1DatabaseLike }",
  },
  "src/adapters/libsql/": {
    client: "LibsqlClientLike",
    store: "LibsqlStore",
  },
  "src/adapters/sqlite/": {
    sqliteError: "Error",
    handle: "SqliteHandle",
    store: "SqliteStore",
    log: "SqliteSagaLog",
    id: "string",
    next: "number",
    prev: "number",
    bountyId: "string",
    version: "number",
    orderId: "string",
    token: "number",
    committedEntry: "NewStepEntry",
  },
  "src/core/": {
    result: "{ readonly changes: number }",
    store: "MemoryStore",
    ledger: "StepStore<unknown>",
    bank: "StepStore<unknown>",
    debit: "(key: string, amount: number) => Promise<{ entryId: string }>",
    findEntry: "(key: string) => Promise<ProbeResult<{ entryId: string }>>",
    reverseIfUnchanged: "(entryId: string) => Promise<CompensationResult>",
    credit: "(key: string, amount: number) => Promise<{ ok: true }>",
    findCredit: "(key: string) => Promise<ProbeResult<{ ok: true }>>",
    reservation: "{ readonly status: string }",
    id: "string",
    db: "{ exec(sql: string): void }",
    runInTransaction:
      "declare function runInTransaction<H, T>(db: H, work: (tx: H) => Promise<T>): Promise<T>;",
  },
  "src/recipes/bounty/": {
    baseUrl: "string",
    claims: "ClaimStore",
    credits: "CreditsService",
    url: "string",
  },
  "src/recipes/contribution/": {
    ports: "ContributionPorts",
  },
  "src/recovery/": {
    createBounty: "Saga",
    claimBounty: "Saga",
  },
  "src/testing/": {
    World:
      "type World = ScenarioWorld & { readonly funds: MemoryStore; readonly orders: MemoryStore };",
    orderOf: "(saga: SagaSnapshot | undefined) => string",
    total: "(world: World) => number",
    clock: "VirtualClock",
    saga: "AnySaga",
    input: "unknown",
    setup: "() => World",
    invariants: "Invariant<World>[]",
    scenario: "Scenario<World, AnySaga>",
    transferSaga: "(funds: MemoryStore) => AnySaga",
    conservation: "Invariant<ScenarioWorld>",
    runs: "Promise<unknown>[]",
    run: "Promise<unknown>",
    recovery: "Promise<unknown>",
    crash: "CrashSwitch",
    plan: "FaultPlan",
    seed: "number",
  },
};
