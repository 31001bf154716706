/**
 * The lockstep demo: a bounty marketplace on embedded SQLite files. Agents create, claim and settle
 * bounties and write contributions while a seeded fault plan fails writes before and after they land
 * and kills whole operations mid-flight. Then recovery runs, and the invariants are checked over the
 * database files. Exits 1 if any invariant fails. It ends with the `lockstep` command on the files:
 * one saga's story, and `doctor` on a crash left for recovery.
 *
 *   npm run demo -- --seed 7 --agents 6 --bounties 30 [--fault-rate 0.08] [--dir .lockstep-demo]
 */
import { rmSync } from "node:fs";
import { parseArgs } from "node:util";
import { createRecoverer, createRunner, ErrorCode, type Runner, type SagaError } from "lockstep";
import {
  type BountyPorts,
  bountySagas,
  checkBountyInvariants,
  reconcileBounties,
} from "lockstep/bounty";
import {
  type ContributeError,
  checkContributionInvariants,
  createContributions,
} from "lockstep/contribution";
import type { Result } from "neverthrow";
import { printEpilogue } from "./epilogue.js";
import { FaultPlan, SimulatedProcess, seededRandom } from "./faults.js";
import { printReport, type Tally } from "./report.js";
import { createTables, DEMO_DIR, openMarketplace } from "./world.js";

const USAGE = `Usage: npm run demo -- [--seed <n>] [--agents <n>] [--bounties <n>] [--fault-rate <p>] [--dir <folder>]

A bounty marketplace on two SQLite files: agents create, claim and settle bounties and write
contributions while seeded faults fail writes before and after they land and kill operations
mid-flight. Then recovery runs and every invariant is checked over the files. It ends with the
lockstep command on those files: one saga's story (sagas show), and doctor on a crash left for you
to recover.

Options:
  --seed <n>          the seed of the faults and of the agents' choices (default 1)
  --agents <n>        how many agents, at least 2 (default 5)
  --bounties <n>      how many bounties they go through (default 20)
  --fault-rate <p>    the chance, from 0 to 1, that a write fails or its process dies (default 0.08)
  --dir <folder>      where the files go; emptied first (default ${DEMO_DIR})
  -h, --help          show this help

Exit codes: 0 every invariant holds, 1 an invariant failed, 2 a wrong option.`;

const values = parseOptions();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const seed = positiveInteger("seed", values.seed);
const agentCount = positiveInteger("agents", values.agents);
const bountyCount = positiveInteger("bounties", values.bounties);
const faultRate = Number(values["fault-rate"]);
if (agentCount < 2) fail("--agents must be at least 2: a bounty needs a creator and a worker.");
if (!(faultRate >= 0 && faultRate < 1))
  fail(`--fault-rate must be a number from 0 to 1, got ${values["fault-rate"]}.`);

const LEASE_TTL_MS = 250;
const START_BALANCE = 100;
const agents = Array.from(
  { length: agentCount },
  (_, i) => `agent-${String.fromCharCode(97 + (i % 26))}${i >= 26 ? i : ""}`,
);

const dir = values.dir;
rmSync(dir, { recursive: true, force: true });
const market = openMarketplace(dir);
await createTables(market);
await market.bounty.credits.seed(
  market.bounty.credits.store.handle,
  Object.fromEntries(agents.map((a) => [a, START_BALANCE])),
);
const expectedTotal = agents.length * START_BALANCE;

const tally: Tally = {
  operations: {},
  outcomes: {},
  faults: { "fail-before": 0, "fail-after": 0, crash: 0 },
  recovery: {},
};
const count = (table: Record<string, number>, key: string) => {
  table[key] = (table[key] ?? 0) + 1;
};

/** One simulated process per operation: its faults, its runner, its view of the ports. */
function simulate(plan: FaultPlan) {
  const proc = new SimulatedProcess(plan);
  const ports: BountyPorts = {
    bounties: proc.wrap(market.bounty.bounties, "bounties", true),
    claims: proc.wrap(market.bounty.claims, "claims", true),
    credits: proc.wrap(market.bounty.credits, "credits", true),
  };
  const contribution = {
    contributions: proc.wrap(market.contribution.contributions, "contributions", true),
    handoffs: proc.wrap(market.contribution.handoffs, "handoffs", true),
  };
  const runner: Runner = createRunner({
    log: proc.wrap(market.log, "log", false),
    leaseTtlMs: LEASE_TTL_MS,
    timeoutMs: 5_000,
    retry: { initialDelayMs: 2, maxDelayMs: 20 },
  });
  return {
    runner,
    sagas: bountySagas(ports),
    contributions: createContributions({ ports: contribution, runner }),
  };
}

function outcomeOf(error: SagaError | ContributeError): string {
  switch (error.code) {
    case ErrorCode.StepFailed:
    case ErrorCode.Cancelled:
      return error.report.steps.some((s) => s.status === "compensated")
        ? "undone (compensated)"
        : "refused, nothing written";
    case ErrorCode.WriteFailed:
      return "refused, nothing written";
    case ErrorCode.LogFailed:
      return "process died";
    case ErrorCode.Incomplete:
      return "left to recovery";
    case ErrorCode.InDoubt:
      return "in doubt";
    case ErrorCode.NeedsAttention:
      return "needs attention";
    default:
      return error.code;
  }
}

async function operation<T, E extends SagaError | ContributeError>(
  name: string,
  plan: FaultPlan,
  body: (p: ReturnType<typeof simulate>) => PromiseLike<Result<T, E>>,
): Promise<T | undefined> {
  count(tally.operations, name);
  const result = await body(simulate(plan));
  if (result.isOk()) {
    count(tally.outcomes, "committed");
    return result.value;
  }
  count(tally.outcomes, outcomeOf(result.error));
  return undefined;
}

/** One bounty's life: created, claimed (sometimes contested), worked on, settled or cancelled. */
async function lifecycle(index: number): Promise<void> {
  const random = seededRandom(seed * 1_000_003 + index);
  const plan = new FaultPlan(random, faultRate);
  try {
    await live(index, random, plan);
  } finally {
    for (const [kind, n] of Object.entries(plan.injected))
      tally.faults[kind as keyof typeof plan.injected] += n;
  }
}

async function live(index: number, random: () => number, plan: FaultPlan): Promise<void> {
  const pick = (list: readonly string[]) => list[Math.floor(random() * list.length)] as string;
  const creator = pick(agents);
  const worker = pick(agents.filter((a) => a !== creator));
  const bountyId = `bounty-${index + 1}`;
  const amount = 5 + Math.floor(random() * 26);
  const created = await operation("create bounty", plan, (p) =>
    p.runner.run(p.sagas.create, {
      bountyId,
      title: `Task ${index + 1}`,
      amount,
      creator,
      deadline: Date.now() + 3_600_000,
    }),
  );
  if (created === undefined) return;
  const rival =
    random() < 0.3 ? pick(agents.filter((a) => a !== creator && a !== worker)) : undefined;
  const claims = [worker, ...(rival ? [rival] : [])].map((agentId) =>
    operation("claim bounty", plan, (p) => p.runner.run(p.sagas.claim, { bountyId, agentId })).then(
      (ok) => (ok ? agentId : undefined),
    ),
  );
  const winner = (await Promise.all(claims)).find((a) => a !== undefined);
  if (winner === undefined) return;
  if (random() < 0.1) {
    await operation("cancel bounty", plan, (p) => p.runner.run(p.sagas.cancel, { bountyId }));
    return;
  }
  const contribution = await operation("contribute", plan, (p) =>
    p.contributions.contribute({
      author: winner,
      kind: "solution",
      body: { bountyId, notes: `work on ${bountyId}` },
      routes: ["reviewer", "tester"],
    }),
  );
  if (contribution === undefined) return;
  await operation("settle bounty", plan, (p) =>
    p.runner.run(p.sagas.settle, { bountyId, agentId: winner, contributionId: contribution.cid }),
  );
}

// Agents work concurrently, `agents` lifecycles at a time.
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(agentCount, bountyCount) }, async () => {
    while (next < bountyCount) await lifecycle(next++);
  }),
);

// Recovery: wait for the dead processes' leases to lapse, then reconcile until nothing is left.
await new Promise((resolve) => setTimeout(resolve, LEASE_TTL_MS + 50));
const recoveryRunner = createRunner({ log: market.log, leaseTtlMs: 5_000 });
const raw: BountyPorts = market.bounty;
const bountyDefinitions = bountySagas(raw);
const contributionRecoverer = createRecoverer({
  runner: recoveryRunner,
  sagas: [createContributions({ ports: market.contribution, runner: recoveryRunner }).saga],
});
for (let pass = 1; pass <= 5; pass++) {
  const bounties = (
    await reconcileBounties({ runner: recoveryRunner, sagas: bountyDefinitions, ports: raw })
  )._unsafeUnwrap();
  const contributions = (await contributionRecoverer.recover())._unsafeUnwrap();
  for (const report of [bounties.recovery, contributions]) {
    for (const [outcome, n] of Object.entries(report.counts))
      if (n > 0) tally.recovery[outcome] = (tally.recovery[outcome] ?? 0) + n;
  }
  if (bounties.orphanClaimsReleased > 0)
    tally.recovery["orphan claims released"] =
      (tally.recovery["orphan claims released"] ?? 0) + bounties.orphanClaimsReleased;
  if (bounties.recovery.claimed === 0 && contributions.claimed === 0) break;
}

const violations = [
  ...(await checkBountyInvariants(raw, { expectedTotal })),
  ...(await checkContributionInvariants(market.contribution)),
];
const sagas = await market.log.list();
const statuses: Record<string, number> = {};
for (const s of sagas) count(statuses, s.status);
const failed = printReport({
  seed,
  agents: agentCount,
  bounties: bountyCount,
  faultRate,
  tally,
  statuses,
  violations,
  dir,
  expectedTotal,
  total: await market.bounty.credits.total(market.bounty.credits.store.handle),
});
await printEpilogue(market, dir, agents);
market.close();
process.exitCode = failed ? 1 : 0;

function parseOptions() {
  try {
    return parseArgs({
      options: {
        seed: { type: "string", default: "1" },
        agents: { type: "string", default: "5" },
        bounties: { type: "string", default: "20" },
        "fault-rate": { type: "string", default: "0.08" },
        dir: { type: "string", default: DEMO_DIR },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    fail(`${error instanceof Error ? error.message : String(error)}\nRun with --help for usage.`);
  }
}

function positiveInteger(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    fail(`--${name} must be an integer >= 1, got ${JSON.stringify(value)}.`);
  return n;
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}
