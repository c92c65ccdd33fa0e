/**
 * `pnpm bench [--quick]`: every measure as a ratio against a baseline run interleaved in the same
 * process; prints one table and writes bench/results.json.
 */
import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { printTable, type Row } from "./harness.js"
import { p1, p2, p3, p4, p5, p6, type Sizes } from "./measures.js"

const quick = process.argv.includes("--quick")
const sizes: Sizes = { rounds: quick ? 1 : 9, warm: quick ? 0 : 3, quick }
// `--only P1,P2` runs some of the measures (while working on one)
const onlyArg = process.argv.find((arg) => arg.startsWith("--only="))
const only = onlyArg === undefined ? undefined : new Set(onlyArg.slice("--only=".length).toUpperCase().split(","))

const main = async () => {
  const rows: Array<Row> = []
  const measures = { P1: p1, P2: p2, P3: p3, P4: p4, P5: p5, P6: p6 }
  for (const [id, measure] of Object.entries(measures)) {
    if (only === undefined || only.has(id)) rows.push(await measure(sizes))
  }
  printTable(rows)
  const out = fileURLToPath(new URL("../results.json", import.meta.url))
  writeFileSync(out, `${JSON.stringify(rows, null, 2)}\n`)
  process.stdout.write(`\n${quick ? "quick mode: figures are not judged. " : ""}results: ${out}\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(1)
})
