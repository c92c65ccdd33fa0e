#!/usr/bin/env node
/**
 * A simulated ephemeral runner as a process, started like the official runner's `run.sh`:
 *
 *   ACTIONS_RUNNER_INPUT_JITCONFIG=<encodedJITConfig> node dist/bin/runner.js
 *   node dist/bin/runner.js --jitconfig <encodedJITConfig>
 *
 * It takes one job, works on it, reports it and exits 0; SIGTERM or SIGINT while working reports
 * the job canceled and exits 143 or 130. Exits 1 when the config is refused or the simulator is
 * unreachable.
 *
 * @since 0.1.0
 */
import { runSimulatedRunner } from "../SimulatedRunner.js"

const argument = (name: string): string | undefined => {
  const args = process.argv.slice(2)
  const index = args.findIndex((a) => a === name || a.startsWith(`${name}=`))
  if (index < 0) return undefined
  const arg = args[index]!
  return arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : args[index + 1]
}

const jitConfig = argument("--jitconfig") ?? process.env.ACTIONS_RUNNER_INPUT_JITCONFIG
if (jitConfig === undefined || jitConfig.trim() === "") {
  process.stderr.write("runner: give the JIT config in ACTIONS_RUNNER_INPUT_JITCONFIG or --jitconfig\n")
  process.exit(2)
}

const controller = new AbortController()
let exitCode = 0
for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  process.once(signal, () => {
    exitCode = code
    controller.abort()
  })
}

const log = (event: string, detail: Record<string, string | number>) =>
  process.stdout.write(`runner ${event} ${Object.entries(detail).map(([k, v]) => `${k}=${v}`).join(" ")}\n`)

runSimulatedRunner(jitConfig, { signal: controller.signal, onEvent: log }).then(
  () => process.exit(exitCode),
  (error: unknown) => {
    if (controller.signal.aborted) process.exit(exitCode)
    process.stderr.write(`runner: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  }
)
