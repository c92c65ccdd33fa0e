/**
 * A scaler whose runners are child processes: one process per runner, started with its JIT config
 * in `ACTIONS_RUNNER_INPUT_JITCONFIG` (and `{jitConfig}` substituted in the command), removed from
 * the scale set when its process exits, and all stopped when the scope closes.
 *
 * The count is actions-runner-controller's: `min(maxRunners, minRunners + desired)`. Idle runners
 * are stopped when the count goes down; busy ones finish their job first (they are ephemeral).
 *
 * A runner process that fails (a non-zero exit code, a signal, or no process at all) is logged at
 * WARN with the last lines of its stderr (the JIT config redacted). Consecutive failed starts (a
 * failure before taking a job, within 10 s) hold back the next starts: 1 s, 2 s, 4 s… up to 60 s,
 * then one runner at a time until one takes a job or stays up 10 s.
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
  /**
   * Where runner output goes. Default `"ignore"`: stdout is dropped, and the last lines of stderr
   * are kept for the warning logged when the process fails.
   */
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
  /** Set before the scaler stops the process: its exit is then expected. */
  readonly stopping: Ref.Ref<boolean>
  readonly tookJob: boolean
  /** The last lines of stderr, the JIT config redacted. */
  readonly stderrTail: () => ReadonlyArray<string>
}

/** How a runner process ended: `exit` with a code or a signal, or `error` (it could not be started). */
interface ProcessEnd {
  readonly runnerId: number
  readonly code: number | null
  readonly signal: string | null
  readonly error?: string | undefined
}

/** A runner up this long is not a failed start. */
const healthyMillis = 10_000
const backoffBaseMillis = 1_000
const backoffMaxMillis = 60_000
const tailLines = 10
const tailLineChars = 500

/** Keeps the last lines a stream writes (each line cut to a bounded length), `secret` redacted. */
const ringBuffer = (stream: NodeJS.ReadableStream | null, secret: string): (() => ReadonlyArray<string>) => {
  const lines: Array<string> = []
  let partial = ""
  const redact = (line: string) => line.replaceAll(secret, "<redacted>").slice(0, tailLineChars)
  const push = (line: string) => {
    lines.push(redact(line))
    if (lines.length > tailLines) lines.shift()
  }
  stream?.setEncoding("utf8")
  stream?.on("data", (chunk: string) => {
    const parts = (partial + chunk).split(/\r?\n/)
    partial = parts.pop() ?? ""
    // a line without an end is cut, not kept whole
    if (partial.length > tailLineChars + secret.length) partial = partial.slice(-(tailLineChars + secret.length))
    for (const line of parts) push(line)
  })
  return () => (partial === "" ? lines : [...lines, redact(partial)].slice(-tailLines))
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
    const exits = yield* Queue.unbounded<ProcessEnd>()
    /** Consecutive failed starts, and when the next start may happen. */
    const backoff = yield* Ref.make({ failures: 0, lastFailureAt: 0, until: 0 })
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

    /** A failure the scaler did not ask for: a warning, and a failed start holds back the next ones. */
    const reportEnd = (entry: Entry, end: ProcessEnd) =>
      Effect.gen(function*() {
        const now = Date.now()
        const failed = end.error !== undefined || end.code !== 0 || end.signal !== null
        if (failed) {
          yield* Effect.logWarning("runner process failed").pipe(
            Effect.annotateLogs({
              runner: entry.info.name,
              ...(end.error !== undefined ? { error: end.error } : end.signal !== null ? { signal: end.signal } : { exitCode: end.code }),
              tookJob: entry.tookJob,
              stderr: entry.stderrTail().join("\n")
            })
          )
        }
        if (entry.tookJob || now - entry.info.startedAt >= healthyMillis) {
          yield* Ref.set(backoff, { failures: 0, lastFailureAt: 0, until: 0 })
        } else if (failed) {
          const { failures } = yield* Ref.updateAndGet(backoff, ({ failures }) => ({
            failures: failures + 1,
            lastFailureAt: now,
            until: now + Math.min(backoffMaxMillis, backoffBaseMillis * 2 ** failures)
          }))
          yield* Effect.logDebug(`runner starts held back after ${failures} failed start(s)`)
        }
      })

    // a process exited: forget it and remove its runner (the service would keep it offline)
    yield* Queue.take(exits).pipe(
      Effect.flatMap((end) =>
        Ref.modify(runners, (map) => {
          const entry = map.get(end.runnerId)
          const next = new Map(map)
          next.delete(end.runnerId)
          return [entry, next] as const
        }).pipe(Effect.flatMap((entry) =>
          entry
            ? Effect.gen(function*() {
              yield* Deferred.succeed(entry.exited, undefined)
              if (!(yield* Ref.get(entry.stopping))) yield* reportEnd(entry, end)
              yield* removeRunner(end.runnerId)
              yield* saveState
            })
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
      const stopping = yield* Ref.make(false)
      const inherit = options.stdio === "inherit"
      const child = yield* Effect.sync(() =>
        spawn(file, args, {
          shell,
          stdio: inherit ? "inherit" : ["ignore", "ignore", "pipe"],
          env: { ...process.env, ...options.env, ACTIONS_RUNNER_INPUT_JITCONFIG: secret }
        })
      )
      const stderrTail = inherit ? () => [] : ringBuffer(child.stderr, secret)
      child.once("exit", (code, signal) => {
        // the last lines of stderr may still be on their way: wait for the stream to end (briefly)
        const offer = () => Queue.unsafeOffer(exits, { runnerId, code, signal })
        if (child.stderr === null || child.stderr.readableEnded) return offer()
        const timer = setTimeout(offer, 200)
        child.stderr.once("close", () => {
          clearTimeout(timer)
          offer()
        })
      })
      child.once("error", (error) =>
        Queue.unsafeOffer(exits, { runnerId, code: null, signal: null, error: error.message.replaceAll(secret, "<redacted>") }))
      const info: RunnerProcess = { id: runnerId, name, pid: child.pid, busy: false, startedAt: Date.now() }
      const size = yield* Ref.modify(runners, (map) => {
        const next = new Map(map).set(runnerId, { info, child, exited, stopping, tookJob: false, stderrTail })
        return [next.size, next] as const
      })
      yield* saveState
      yield* Ref.update(peak, (p) => Math.max(p, size))
      yield* Ref.update(started, (n) => n + 1)
      yield* Effect.logDebug("runner started").pipe(Effect.annotateLogs({ runnerId, name, pid: child.pid }))
    })

    const stop = (entry: Entry) =>
      Effect.gen(function*() {
        yield* Ref.set(entry.stopping, true)
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

    /**
     * How many of `wanted` runners may start now: all without failed starts; after some, none
     * until the backoff has passed, then one at a time until a runner took a job or stayed up.
     */
    const startsAllowed = (current: ReadonlyMap<number, Entry>, wanted: number) =>
      Effect.gen(function*() {
        const state = yield* Ref.get(backoff)
        if (state.failures === 0) return wanted
        const now = Date.now()
        const healthy = [...current.values()].some((e) => e.info.startedAt > state.lastFailureAt && now - e.info.startedAt >= healthyMillis)
        if (healthy) {
          yield* Ref.set(backoff, { failures: 0, lastFailureAt: 0, until: 0 })
          return wanted
        }
        if (now < state.until) {
          yield* Effect.logDebug(`runner starts held back for ${state.until - now} ms after ${state.failures} failed start(s)`)
          return 0
        }
        return Math.min(wanted, 1)
      })

    const handleDesiredRunnerCount = (count: number) =>
      Effect.gen(function*() {
        const target = Math.min(options.maxRunners, minRunners + count)
        const current = yield* Ref.get(runners)
        if (target > current.size) {
          const starts = yield* startsAllowed(current, target - current.size)
          yield* Effect.all(Array.from({ length: starts }, () => startRunner), {
            concurrency: 8,
            discard: true
          })
        } else if (target < current.size) {
          const idle = [...current.values()].filter((e) => !e.info.busy).slice(0, current.size - target)
          // remove first: the service refuses (JobStillRunning) if a job just landed on it
          yield* Effect.forEach(idle, (entry) =>
            Ref.set(entry.stopping, true).pipe(
              Effect.zipRight(client.removeRunner(entry.info.id)),
              Effect.zipRight(stop(entry)),
              Effect.catchTag("JobStillRunning", () => Ref.set(entry.stopping, false))
            ), { concurrency: 8, discard: true })
        }
        return (yield* Ref.get(runners)).size
      }).pipe(Effect.withSpan("ProcessScaler.handleDesiredRunnerCount", { attributes: { count } }))

    const markBusy = (runnerId: number, busy: boolean) =>
      Ref.update(runners, (map) => {
        const entry = map.get(runnerId)
        return entry ? new Map(map).set(runnerId, { ...entry, tookJob: true, info: { ...entry.info, busy } }) : map
      })

    return {
      handleDesiredRunnerCount,
      // a runner that took a job started fine: no more holding back
      handleJobStarted: (job) =>
        Effect.zipRight(markBusy(job.runnerId, true), Ref.set(backoff, { failures: 0, lastFailureAt: 0, until: 0 })),
      // the runner process exits after its one job; its exit removes it
      handleJobCompleted: (job) => markBusy(job.runnerId, false),
      runners: Effect.map(Ref.get(runners), (map) => [...map.values()].map((e) => e.info)),
      peak: Ref.get(peak),
      started: Ref.get(started)
    } satisfies ProcessScaler
  })
