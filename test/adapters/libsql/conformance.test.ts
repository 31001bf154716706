import {
  type LibsqlHandle,
  type LibsqlWrite,
  type LibsqlWriteResult,
  libsqlSagaLog,
  libsqlStore,
} from "../../../src/adapters/libsql/index.js";
import { atomicBatchConformance } from "../../conformance/atomic-batch.js";
import { conditionalWriteConformance } from "../../conformance/conditional-write.js";
import { sagaLogConformance } from "../../conformance/saga-log.js";
import { transactionConformance } from "../../conformance/transaction.js";
import { libsqlKv, tempLibsql } from "./libsql-test.js";

for (const mode of ["transaction", "batch"] as const) {
  const fixture = async () => {
    const temp = await tempLibsql();
    const kv = libsqlKv(temp.client);
    await kv.create();
    const store = libsqlStore(temp.client, { id: "kv-libsql", mode, versionsNeverReused: true });
    return { store, ...kv, close: temp.close };
  };
  conditionalWriteConformance<LibsqlHandle, LibsqlWrite, LibsqlWriteResult, number>(
    `libsqlStore (${mode} mode, local file)`,
    fixture,
  );
  atomicBatchConformance<LibsqlHandle, LibsqlWrite, LibsqlWriteResult, number>(
    `libsqlStore (${mode} mode, local file)`,
    fixture,
  );
}

sagaLogConformance("libsqlSagaLog (local file)", async () => {
  const temp = await tempLibsql();
  return { log: libsqlSagaLog(temp.client), close: temp.close };
});

transactionConformance<LibsqlHandle>("libsqlStore (transaction mode, local file)", async () => {
  const temp = await tempLibsql();
  await temp.client.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
  const store = libsqlStore(temp.client, { id: "t-libsql" });
  return {
    store,
    insert: async (handle, key, value) => {
      await handle.run("INSERT INTO t (k, v) VALUES (?, ?)", [key, value]);
    },
    read: async (handle, key) =>
      (await handle.first<{ v: string }>("SELECT v FROM t WHERE k = ?", [key]))?.v,
    count: async () =>
      Number((await store.handle.first<{ n: number }>("SELECT count(*) AS n FROM t"))?.n),
    close: temp.close,
  };
});
