import type { D1Handle, D1Write, D1WriteResult } from "../../../src/adapters/d1/index.js";
import { atomicBatchConformance } from "../../conformance/atomic-batch.js";
import { d1Fixture } from "./d1-fixture.js";

atomicBatchConformance<D1Handle, D1Write, D1WriteResult, number>(
  "d1Store (Miniflare D1)",
  d1Fixture,
);
