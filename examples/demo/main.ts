/**
 * `pnpm demo`: the main job end to end. It starts the Actions service simulator, gets or creates a
 * scale set, opens a message session and runs the listener with a process scaler (one child process
 * per runner, each given its JIT config in ACTIONS_RUNNER_INPUT_JITCONFIG), pushes about 60 jobs in
 * bursts, shows what happens, prints a summary and cleans up: session, runners, scale set.
 *
 * With `--url` and credentials it runs the same scaler against GitHub, with `--exec` as the runner
 * command (e.g. the official runner's `run.sh`), until Ctrl-C.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Credentials from "@scaleset/core/Credentials"
import * as ScaleSetClient from "@scaleset/core/ScaleSetClient"
import * as Listener from "@scaleset/listener/Listener"
import type * as ScalingEvent from "@scaleset/listener/ScalingEvent"
import * as ProcessScaler from "@scaleset/node/ProcessScaler"
import * as Simulator from "@scaleset/testing/Simulator"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { readFileSync } from "node:fs"
import { hostname } from "node:os"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { makeView, percentile, type ViewState } from "./view.js"

const usage = `Usage: pnpm demo [options]

Without --url: runs against the built-in simulator and pushes a workload of about 60 jobs.
With --url: runs against GitHub until Ctrl-C (credentials and --exec required).

  --url <url>                   https://github.com/<org> | /<owner>/<repo> | /enterprises/<ent>
  --token <pat>                 or SCALESET_TOKEN
  --app-client-id <id>          or SCALESET_APP_CLIENT_ID
  --app-installation-id <id>    or SCALESET_APP_INSTALLATION_ID
  --app-private-key-file <path> or SCALESET_APP_PRIVATE_KEY(_FILE)
  --exec <command>              runner command; {jitConfig} is substituted, and the env has ACTIONS_RUNNER_INPUT_JITCONFIG
  --name <name>                 scale set name (default: scaleset-demo)
  --runner-group <name>         default: default
  --min-runners <n>             default 0
  --max-runners <n>             default 10
  --jobs <n>                    simulator workload size (default 60)
  --quick                       short jobs and bursts (for CI)
  --delete-on-exit              delete the scale set at the end (always done with the simulator)
  --verbose                     log the library's debug lines
  --help
`

/** A usage error: the message and the usage on stderr, exit code 2. */
const usageError = (message: string): never => {
  process.stderr.write(`${message}\n\n${usage}`)
  process.exit(2)
}

const parse = () => parseArgs({
  options: {
    url: { type: "string" },
    token: { type: "string" },
    "app-client-id": { type: "string" },
    "app-installation-id": { type: "string" },
    "app-private-key-file": { type: "string" },
    exec: { type: "string" },
    name: { type: "string", default: "scaleset-demo" },
    "runner-group": { type: "string", default: "default" },
    "min-runners": { type: "string", default: "0" },
    "max-runners": { type: "string", default: "10" },
    jobs: { type: "string", default: "60" },
    quick: { type: "boolean", default: false },
    "delete-on-exit": { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
    help: { type: "boolean", default: false }
  }
})
let parsed: ReturnType<typeof parse>
try {
  parsed = parse()
} catch (error) {
  // unknown option, missing value, stray positional
  parsed = usageError(error instanceof Error ? error.message : String(error))
}
const { values: args } = parsed

if (args.help) {
  process.stdout.write(usage)
  process.exit(0)
}

const integer = (name: string, value: string) => {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) usageError(`--${name} must be a non-negative integer, got ${JSON.stringify(value)}`)
  return n
}
const minRunners = integer("min-runners", args["min-runners"])
const maxRunners = integer("max-runners", args["max-runners"])
if (maxRunners < 1) usageError(`--max-runners must be at least 1, got ${maxRunners}`)
if (minRunners > maxRunners) usageError(`--min-runners (${minRunners}) must not exceed --max-runners (${maxRunners})`)
const totalJobs = integer("jobs", args.jobs)
const simulated = args.url === undefined

const realCredentials = (): Credentials.Credentials => {
  const env = process.env
  const token = args.token ?? env.SCALESET_TOKEN
  if (token) return Credentials.personalAccessToken(Redacted.make(token))
  const clientId = args["app-client-id"] ?? env.SCALESET_APP_CLIENT_ID
  const installation = args["app-installation-id"] ?? env.SCALESET_APP_INSTALLATION_ID
  const keyFile = args["app-private-key-file"] ?? env.SCALESET_APP_PRIVATE_KEY_FILE
  const key = keyFile ? readFileSync(keyFile, "utf8") : env.SCALESET_APP_PRIVATE_KEY
  if (clientId && installation && key) {
    return Credentials.gitHubApp({ clientId, installationId: Number(installation), privateKey: Redacted.make(key) })
  }
  process.stderr.write(`--url needs credentials: --token, or --app-client-id, --app-installation-id and --app-private-key-file\n`)
  process.exit(2)
}

if (!simulated && !args.exec) {
  process.stderr.write(`--url needs --exec "<runner command>" (for example ./run.sh)\n`)
  process.exit(2)
}

/** The simulated runner: a small executable of @scaleset/testing that redeems the JIT config. */
const simulatedRunner = [process.execPath, fileURLToPath(import.meta.resolve("@scaleset/testing/bin/runner"))]

/** Bursts of jobs, each a few seconds long, about `total` in all. */
const workload = (sim: Simulator.SimulatorShape, labels: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const bursts = [0.35, 0.4, 0.25].map((share) => Math.round(share * totalJobs))
    bursts[2] = totalJobs - bursts[0]! - bursts[1]!
    for (const [i, count] of bursts.entries()) {
      if (i > 0) yield* Effect.sleep(Duration.seconds(args.quick ? 1 : 6))
      for (let j = 0; j < count; j++) {
        const durationMs = args.quick ? 200 + Math.floor(Math.random() * 300) : 2_000 + Math.floor(Math.random() * 3_000)
        yield* sim.enqueueJobs({ count: 1, labels, durationMs, jobDisplayName: `build {n}` })
      }
    }
  })

const autoscale = (sim: Option.Option<Simulator.SimulatorShape>) => Effect.gen(function*() {
  const startedAt = Date.now()
  const url = Option.match(sim, { onNone: () => args.url!, onSome: (s) => s.url })
  const credentials = Option.match(sim, { onNone: realCredentials, onSome: (s) => s.credentials })

  const clientLayer = ScaleSetClient.layer({ url, credentials, systemInfo: { system: "scaleset-demo", version: "0.1.0", subsystem: "demo" } }).pipe(
    Layer.provide(NodeHttpClient.layerUndici)
  )
  // built into this scope: the HTTP client lives as long as the program
  const client = Context.get(yield* Layer.build(clientLayer), ScaleSetClient.ScaleSetClient)

  const group = yield* client.getRunnerGroupByName(args["runner-group"])
  // the scale set is released last: after the session is deleted and the runners are removed
  const scaleSet = yield* Effect.acquireRelease(
    client.getOrCreateRunnerScaleSet({ name: args.name, runnerGroupId: group.id, labels: [{ name: args.name }] }),
    (set) =>
      simulated || args["delete-on-exit"]
        ? client.deleteRunnerScaleSet(set.id).pipe(
          Effect.tap(() => Effect.logInfo(`deleted scale set ${set.name} (${set.id})`)),
          Effect.catchAll((e) => Effect.logWarning(`could not delete the scale set: ${e.message}`))
        )
        : Effect.void
  )
  yield* client.setSystemInfo({ system: "scaleset-demo", version: "0.1.0", commitSha: "", scaleSetId: scaleSet.id, subsystem: "demo" })

  const scaler = yield* ProcessScaler.make({
    scaleSetId: scaleSet.id,
    minRunners,
    maxRunners,
    command: simulated ? simulatedRunner : args.exec!,
    namePrefix: args.name,
    stdio: simulated ? "ignore" : "inherit"
  }).pipe(Effect.provideService(ScaleSetClient.ScaleSetClient, client))

  const session = yield* client.createMessageSession(scaleSet.id, hostname())
  const desired = yield* Ref.make(0)
  const lastStats = yield* Ref.make<ScalingEvent.DesiredRunners["statistics"] | undefined>(undefined)
  const completed = yield* Ref.make(0)

  const handle = (event: ScalingEvent.ScalingEvent) => {
    switch (event._tag) {
      case "DesiredRunners":
        return Effect.zipRight(Ref.set(lastStats, event.statistics), scaler.handleDesiredRunnerCount(event.count))
      case "JobStarted":
        return scaler.handleJobStarted(event.job)
      case "JobCompleted":
        return Effect.zipRight(Ref.update(completed, (n) => n + 1), scaler.handleJobCompleted(event.job))
      default:
        return Effect.void
    }
  }
  const listener = yield* Listener.eventsWith(session, handle, { maxRunners }).pipe(
    Stream.runForEach((event) => (event._tag === "DesiredRunners" ? Ref.set(desired, event.count) : Effect.void)),
    Effect.forkScoped
  )

  const tty = process.stdout.isTTY === true
  const view = makeView(process.stdout, tty)
  const state = Effect.gen(function*() {
    const runners = yield* scaler.runners
    const stats = yield* Ref.get(lastStats)
    const counts = Option.isSome(sim) ? (yield* sim.value.snapshot).jobCounts : undefined
    return {
      queued: counts ? counts.queued + counts.available : (stats?.totalAvailableJobs ?? 0),
      assigned: counts ? counts.assigned : (stats?.totalAcquiredJobs ?? 0),
      running: counts ? counts.running : (stats?.totalRunningJobs ?? 0),
      idleRunners: runners.filter((r) => !r.busy).length,
      busyRunners: runners.filter((r) => r.busy).length,
      desired: yield* Ref.get(desired),
      completed: counts ? counts.completed : yield* Ref.get(completed),
      total: counts ? totalJobs : undefined,
      elapsedMs: Date.now() - startedAt
    } satisfies ViewState
  })
  yield* state.pipe(
    Effect.flatMap((s) => Effect.sync(() => view.render(s))),
    Effect.zipRight(Effect.sleep(tty ? "200 millis" : "1 second")),
    Effect.forever,
    Effect.forkScoped
  )

  if (Option.isNone(sim)) {
    yield* Effect.logInfo(`listening for jobs on scale set ${scaleSet.name} (${scaleSet.id}); Ctrl-C to stop`)
    return yield* Fiber.join(listener)
  }
  const simulator = sim.value
  yield* workload(simulator, [args.name]).pipe(Effect.forkScoped)
  yield* simulator.waitFor((s) => s.jobCounts.completed >= totalJobs, { timeout: "10 minutes", description: "all jobs completed" })
  view.render(yield* state)

  const jobs = yield* simulator.jobs("completed")
  const waits = jobs.flatMap((j) => (j.runnerAssignTime ? [j.runnerAssignTime.getTime() - j.queueTime.getTime()] : []))
  const failed = jobs.filter((j) => j.result !== "succeeded").length
  view.print(
    [
      "",
      "summary",
      `  jobs completed   ${jobs.length}${failed > 0 ? ` (${failed} not succeeded)` : ""}`,
      `  peak runners     ${yield* scaler.peak} (max ${maxRunners})`,
      `  runners started  ${yield* scaler.started}`,
      `  job wait         p50 ${(percentile(waits, 50) / 1000).toFixed(1)}s, p95 ${(percentile(waits, 95) / 1000).toFixed(1)}s`,
      `  wall time        ${((Date.now() - startedAt) / 1000).toFixed(1)}s`,
      ""
    ].join("\n")
  )
  yield* Fiber.interrupt(listener)
})

const main = Effect.gen(function*() {
  const sim = simulated
    ? Option.some(yield* Simulator.make({ longPollHold: "3 seconds", runnerPollHold: "1 second", assignmentTimeout: "60 seconds" }))
    : Option.none<Simulator.SimulatorShape>()
  yield* Effect.scoped(autoscale(sim))
  if (Option.isSome(sim)) {
    // what the service sees once the scaler's scope closed: nothing of ours should be left
    const snapshot = yield* sim.value.snapshot
    process.stdout.write(
      `cleanup: ${snapshot.sessions.length} open sessions, ${snapshot.runners.length} runners, ${snapshot.scaleSets.length} scale sets left\n`
    )
  }
})

main.pipe(
  Effect.scoped,
  // a typed error (bad credentials, an unreachable URL…) is one line, not a stack trace
  Effect.catchAll((error) =>
    Effect.sync(() => {
      process.stderr.write(`demo: ${error.message}\n`)
      process.exitCode = 1
    })
  ),
  Logger.withMinimumLogLevel(args.verbose ? LogLevel.Debug : LogLevel.Info),
  NodeRuntime.runMain
)
