#!/usr/bin/env node
import { main } from "./main.js";
import { processOutput } from "./output.js";

// A reader that stops early (`lockstep sagas list | head`) is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}

main(process.argv.slice(2), processOutput).then((code) => {
  process.exitCode = code;
});
