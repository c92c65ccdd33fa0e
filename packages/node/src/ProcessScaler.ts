/**
 * A scaler whose runners are child processes: one process per runner, started with its JIT config
 * in `ACTIONS_RUNNER_INPUT_JITCONFIG` (and `{jitConfig}` substituted in the command), removed from
 * the scale set when its process exits, and all stopped when the scope closes.
 *
 * The count is actions-runner-controller's: `min(maxRunners, minRunners + desired)`. Idle runners
 * are stopped when the count goes down; busy ones finish their job first (they are ephemeral).
 *
 * @since 0.1.0
 */
import type * as Listener from "@scaleset/listener/Listener"
import * as ScaleSetClient from "@scaleset/core/ScaleSetClient"
import type { RequestError } from "@scaleset/core/ScaleSetError"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"

/**
 * @since 0.1.0
 * @category models
 */
export interface ProcessScalerOptions {
  readonly scaleSetId: number
  readonly minRunners?: number | undefined
  readonly maxRunners: number
  /**
   * The runner command: an argv array, or a shell command line. `{jitConfig}` in it is replaced by
   * the runner's JIT config; the environment always carries `ACTIONS_RUNNER_INPUT_JITCONFIG`.
   */
  readonly command: string | ReadonlyArray<string>
  /** Runner names are `{prefix}-{random}`. Default `runner`. */
  readonly namePrefix?: string | undefined
  readonly workFolder?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Where runner output goes. Default `"ignore"`. */
  readonly stdio?: "inherit" | "ignore" | undefined
  /** How long a stopped runner gets between SIGTERM and SIGKILL. Default 5 s. */
  readonly stopGraceMillis?: number | undefined
  /**
   * A file where the scaler keeps the ids of its runners. On start, runners listed there (left by
   * a previous run that died without cleaning up) are removed from the scale set.
   */
  readonly stateFile?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RunnerProcess {
  readonly id: number
  readonly name: string
  readonly pid: number | undefined
  readonly busy: boolean
  readonly startedAt: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ProcessScaler extends Listener.Scaler<RequestError> {
  /** The runners now running. */
  readonly runners: Effect.Effect<ReadonlyArray<RunnerProcess>>
  /** The most runners that ran at once. */
  readonly peak: Effect.Effect<number>
  /** Runners started so far. */
  readonly started: Effect.Effect<number>
}

interface Entry {
  readonly info: RunnerProcess
  readonly child: ChildProcess
  readonly exited: Deferred.Deferred<void>
}

const substitute = (command: string | ReadonlyArray<string>, jit: string): [string, ReadonlyArray<string>, boolean] => {
  if (typeof command === "string") return [command.replaceAll("{jitConfig}", jit), [], true]
  const [file, ...args] = command.map((part) => part.replaceAll("{jitConfig}", jit))
  return [file ?? "", args, false]
}

/**
 * Builds the scaler. Child processes belong to the scope: closing it stops them and removes their
 * runners from the scale set.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: ProcessScalerOptions
): Effect.Effect<ProcessScaler, never, ScaleSetClient.ScaleSetClient | Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* ScaleSetClient.ScaleSetClient
    const runners = yield* Ref.make(new Map<number, Entry>())
    const peak = yield* Ref.make(0)
    const started = yield* Ref.make(0)
    const exits = yield* Queue.unbounded<number>()
    const minRunners = options.minRunners ?? 0
    const grace = options.stopGraceMillis ?? 5_000

    const removeRunner = (id: number) =>
      client.removeRunner(id).pipe(
        Effect.catchTag("RunnerNotFound", () => Effect.void),
        Effect.catchAll((error) =>
          Effect.logWarning("could not remove a runner from the scale set").pipe(
            Effect.annotateLogs({ runnerId: id, error: error.message })
          )
        )
      )

    const stateFile = options.stateFile
    /** Writes the runner ids (atomically: a crash never leaves half a file). */
    const saveState = stateFile === undefined ? Effect.void : Effect.flatMap(Ref.get(runners), (map) =>
      Effect.try(() => {
        mkdirSync(dirname(stateFile), { recursive: true })
        const ids = [...map.values()].map((e) => ({ id: e.info.id, name: e.info.name }))
        writeFileSync(`${stateFile}.tmp`, JSON.stringify({ scaleSetId: options.scaleSetId, runners: ids }))
        renameSync(`${stateFile}.tmp`, stateFile)
      }).pipe(Effect.catchAll((error) => Effect.logWarning(`could not write ${stateFile}: ${String(error.cause)}`))))

    // runners a previous run left behind (it was killed before it could remove them)
    if (stateFile !== undefined) {
      const leftover = yield* Effect.try(() => {
        const state = JSON.parse(readFileSync(stateFile, "utf8")) as { scaleSetId?: unknown; runners?: unknown }
        return state.scaleSetId === options.scaleSetId && Array.isArray(state.runners)
          ? state.runners.flatMap((r: { id?: unknown }) => (typeof r.id === "number" && r.id > 0 ? [r.id] : []))
          : []
      }).pipe(Effect.orElseSucceed((): ReadonlyArray<number> => []))
      if (leftover.length > 0) {
        yield* Effect.logInfo(`removing ${leftover.length} runner(s) left by a previous run`)
        yield* Effect.forEach(leftover, (id) => removeRunner(id), { concurrency: 8, discard: true })
      }
      yield* saveState
    }

    // a process exited: forget it and remove its runner (the service would keep it offline)
    yield* Queue.take(exits).pipe(
      Effect.flatMap((id) =>
        Ref.modify(runners, (map) => {
          const entry = map.get(id)
          const next = new Map(map)
          next.delete(id)
          return [entry, next] as const
        }).pipe(Effect.flatMap((entry) =>
          entry
            ? Effect.zipRight(Deferred.succeed(entry.exited, undefined), Effect.zipRight(removeRunner(id), saveState))
            : Effect.void
        ))
      ),
      Effect.forever,
      Effect.forkScoped
    )

    const startRunner = Effect.gen(function*() {
      const name = `${options.namePrefix ?? "runner"}-${randomBytes(4).toString("hex")}`
      const jit = yield* client.generateJitRunnerConfig(
        { name, workFolder: options.workFolder ?? "_work" },
        options.scaleSetId
      )
      const runnerId = jit.runner._tag === "Some" ? jit.runner.value.id : 0
      const secret = Redacted.value(jit.encodedJITConfig)
      const [file, args, shell] = substitute(options.command, secret)
      const exited = yield* Deferred.make<void>()
      const child = yield* Effect.sync(() =>
        spawn(file, args, {
          shell,
          stdio: options.stdio ?? "ignore",
          env: { ...process.env, ...options.env, ACTIONS_RUNNER_INPUT_JITCONFIG: secret }
        })
      )
      const onExit = () => Queue.unsafeOffer(exits, runnerId)
      child.once("exit", onExit)
      child.once("error", onExit)
      const info: RunnerProcess = { id: runnerId, name, pid: child.pid, busy: false, startedAt: Date.now() }
      const size = yield* Ref.modify(runners, (map) => {
        const next = new Map(map).set(runnerId, { info, child, exited })
        return [next.size, next] as const
      })
      yield* saveState
      yield* Ref.update(peak, (p) => Math.max(p, size))
      yield* Ref.update(started, (n) => n + 1)
      yield* Effect.logDebug("runner started").pipe(Effect.annotateLogs({ runnerId, name, pid: child.pid }))
    })

    const stop = (entry: Entry) =>
      Effect.gen(function*() {
        entry.child.kill("SIGTERM")
        const done = yield* Deferred.await(entry.exited).pipe(Effect.timeoutOption(grace))
        if (done._tag === "None") {
          entry.child.kill("SIGKILL")
          yield* Deferred.await(entry.exited).pipe(Effect.timeoutOption(grace))
        }
      })

    // closing the scope stops every runner and removes it from the scale set
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(Ref.get(runners), (map) =>
        Effect.forEach(map.values(), (entry) => Effect.zipRight(stop(entry), removeRunner(entry.info.id)), {
          concurrency: "unbounded",
          discard: true
        }).pipe(Effect.zipRight(Ref.set(runners, new Map())), Effect.zipRight(saveState)))
    )

    const handleDesiredRunnerCount = (count: number) =>
      Effect.gen(function*() {
        const target = Math.min(options.maxRunners, minRunners + count)
        const current = yield* Ref.get(runners)
        if (target > current.size) {
          yield* Effect.all(Array.from({ length: target - current.size }, () => startRunner), {
            concurrency: 8,
            discard: true
          })
        } else if (target < current.size) {
          const idle = [...current.values()].filter((e) => !e.info.busy).slice(0, current.size - target)
          // remove first: the service refuses (JobStillRunning) if a job just landed on it
          yield* Effect.forEach(idle, (entry) =>
            client.removeRunner(entry.info.id).pipe(
              Effect.zipRight(stop(entry)),
              Effect.catchTag("JobStillRunning", () => Effect.void)
            ), { concurrency: 8, discard: true })
        }
        return (yield* Ref.get(runners)).size
      }).pipe(Effect.withSpan("ProcessScaler.handleDesiredRunnerCount", { attributes: { count } }))

    const markBusy = (runnerId: number, busy: boolean) =>
      Ref.update(runners, (map) => {
        const entry = map.get(runnerId)
        return entry ? new Map(map).set(runnerId, { ...entry, info: { ...entry.info, busy } }) : map
      })

    return {
      handleDesiredRunnerCount,
      handleJobStarted: (job) => markBusy(job.runnerId, true),
      // the runner process exits after its one job; its exit removes it
      handleJobCompleted: (job) => markBusy(job.runnerId, false),
      runners: Effect.map(Ref.get(runners), (map) => [...map.values()].map((e) => e.info)),
      peak: Ref.get(peak),
      started: Ref.get(started)
    } satisfies ProcessScaler
  })
