/**
 * Interleaved A/B measurement: each round times the subject and the baseline back to back (order
 * alternating), and the ratio of the round is subject ÷ baseline. Reported: median [min–max].
 */
export interface Row {
  readonly id: string
  readonly measure: string
  readonly subject: string
  readonly baseline: string
  readonly ratio: { readonly median: number; readonly min: number; readonly max: number } | undefined
  readonly value: string
  readonly goal: string
  readonly pass: boolean
  readonly notes?: string
}

export const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export interface Paired {
  readonly subject: ReadonlyArray<number>
  readonly baseline: ReadonlyArray<number>
  readonly ratios: ReadonlyArray<number>
}

/**
 * Untimed rounds of both sides before the measure, the same for each: the figures are of the
 * steady state, once V8 has compiled the hot code of either (cold start is P5's measure).
 */
export const warmUp = async (rounds: number, subject: () => Promise<unknown>, baseline: () => Promise<unknown>) => {
  for (let i = 0; i < rounds; i++) {
    await subject()
    await baseline()
  }
}

/** Runs `rounds` interleaved rounds of two timed async functions (each returns its own measure). */
export const interleave = async (
  rounds: number,
  subject: () => Promise<number>,
  baseline: () => Promise<number>
): Promise<Paired> => {
  const s: Array<number> = []
  const b: Array<number> = []
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      s.push(await subject())
      b.push(await baseline())
    } else {
      b.push(await baseline())
      s.push(await subject())
    }
  }
  return { subject: s, baseline: b, ratios: s.map((x, i) => x / b[i]!) }
}

export const summary = (xs: ReadonlyArray<number>) => ({
  median: median(xs),
  min: Math.min(...xs),
  max: Math.max(...xs)
})

export const timed = async (f: () => Promise<unknown>): Promise<number> => {
  const start = performance.now()
  await f()
  return performance.now() - start
}

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2))

export const ratioText = (r: Row["ratio"]) => (r ? `${fmt(r.median)}× [${fmt(r.min)}–${fmt(r.max)}]` : "—")

export const printTable = (rows: ReadonlyArray<Row>) => {
  const header = ["id", "measure", "subject", "baseline", "ratio median [min–max]", "goal", "result"]
  const lines = rows.map((r) => [r.id, r.measure, r.value, r.baseline, ratioText(r.ratio), r.goal, r.pass ? "pass" : "FAIL"])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")
  process.stdout.write(`${line(header)}\n${widths.map((w) => "-".repeat(w)).join("-|-")}\n`)
  for (const l of lines) process.stdout.write(`${line(l)}\n`)
  for (const r of rows) if (r.notes) process.stdout.write(`  ${r.id}: ${r.notes}\n`)
}
