/**
 * `pnpm bench [--quick]`: every measure as a ratio against a baseline run interleaved in the same
 * process; prints one table and writes bench/results.json.
 */
import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { printTable, type Row } from "./harness.js"
import { p1, p2, p3, p4, p5, p6, type Sizes } from "./measures.js"

const quick = process.argv.includes("--quick")
const sizes: Sizes = { rounds: quick ? 1 : 9, quick }

const main = async () => {
  const rows: Array<Row> = []
  for (const measure of [p1, p2, p3, p4, p5, p6]) {
    rows.push(await measure(sizes))
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
