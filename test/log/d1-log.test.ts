import { d1SagaLog } from "../../src/adapters/d1/index.js";
import { testD1 } from "../adapters/d1/d1-test.js";
import { sagaLogConformance } from "../conformance/saga-log.js";

let logs = 0;

sagaLogConformance("d1SagaLog (Miniflare D1)", async () => {
  const db = await testD1();
  // Tables of its own per case: the suite expects an empty log.
  const log = d1SagaLog(db, { tablePrefix: `log${++logs}_` });
  return { log, close: async () => {} };
});
