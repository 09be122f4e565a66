// The JSDoc types of the package, the page, the example and the bench hold (TypeScript's
// checker in strict mode; nothing is emitted: the package has no build step).

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

test("tsc --checkJs finds no type error", { timeout: 120_000 }, async () => {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const project = fileURLToPath(new URL("../tsconfig.json", import.meta.url));
  const result = await promisify(execFile)(process.execPath, [tsc, "-p", project])
    .catch((/** @type {{stdout: string}} */ error) => error);
  assert.equal(result.stdout, "", result.stdout);
});
