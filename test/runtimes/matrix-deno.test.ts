import { matrixSuite } from "./matrix-suite.js";

matrixSuite("deno");
