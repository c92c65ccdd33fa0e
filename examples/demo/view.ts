/**
 * The demo's live view: one block redrawn in place on a TTY, one plain line per change otherwise.
 */
export interface ViewState {
  readonly queued: number
  readonly assigned: number
  readonly running: number
  readonly idleRunners: number
  readonly busyRunners: number
  readonly desired: number
  readonly completed: number
  readonly total: number | undefined
  readonly elapsedMs: number
}

const bar = (done: number, total: number, width = 30) => {
  const filled = total === 0 ? width : Math.round((done / total) * width)
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`
}

const lines = (s: ViewState): ReadonlyArray<string> => [
  `scaleset demo  ${(s.elapsedMs / 1000).toFixed(1)}s`,
  `jobs     queued ${String(s.queued).padStart(3)}   assigned ${String(s.assigned).padStart(3)}   running ${String(s.running).padStart(3)}`,
  `runners  idle ${String(s.idleRunners).padStart(5)}   busy ${String(s.busyRunners).padStart(7)}   desired ${String(s.desired).padStart(4)}`,
  s.total === undefined
    ? `done     ${s.completed} jobs completed`
    : `done     ${bar(s.completed, s.total)} ${s.completed}/${s.total}`
]

/** Plain text for logs: only what changes, no time. */
const plain = (s: ViewState) =>
  `queued=${s.queued} assigned=${s.assigned} running=${s.running} idle=${s.idleRunners} busy=${s.busyRunners} desired=${s.desired} completed=${s.completed}${s.total === undefined ? "" : `/${s.total}`}`

export const makeView = (out: NodeJS.WriteStream, tty: boolean) => {
  let drawn = 0
  let last = ""
  return {
    render: (s: ViewState) => {
      if (tty) {
        const text = lines(s)
        out.write(`${drawn > 0 ? `\x1b[${drawn}A` : ""}${text.map((l) => `\x1b[2K${l}`).join("\n")}\n`)
        drawn = text.length
      } else {
        const line = plain(s)
        if (line !== last) out.write(`${new Date().toISOString()} ${line}\n`)
        last = line
      }
    },
    /** Text printed after the view (keeps the drawn block). */
    print: (text: string) => {
      out.write(text)
      drawn = 0
    }
  }
}

export const percentile = (xs: ReadonlyArray<number>, p: number) => {
  if (xs.length === 0) return 0
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}
