/**
 * A scripted fake message session, a recording scaler and a recording metrics recorder, replaying
 * the listener scenarios of the conformance suite (no HTTP).
 */
import type * as MessageSession from "@scaleset/core/MessageSession"
import { ActionsException, ResponseDecodeError, ScaleSetApiError } from "@scaleset/core/ScaleSetError"
import * as ScaleSetSchema from "@scaleset/core/ScaleSetSchema"
import type { Metrics } from "@scaleset/listener"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import { readFileSync } from "node:fs"

export interface ScriptEntry {
  readonly return?: unknown
  /** `kind`: `Cancelled`, or (beyond the Go cases) `Transport`, `Decode`, `Status` with `status`. */
  readonly error?: { readonly kind?: string; readonly message?: string; readonly status?: number }
  readonly cancel?: boolean
  readonly setMaxRunners?: number
}

export interface ExpectedCall {
  readonly call: string
  readonly args?: unknown
  readonly contextCancelled?: boolean
}

export interface Scenario {
  readonly id: string
  readonly operation?: string
  readonly client?: null
  readonly config: { readonly scaleSetId: number; readonly maxRunners: number }
  readonly session?: unknown
  readonly script?: Partial<Record<string, ReadonlyArray<ScriptEntry>>>
  readonly expectCalls?: ReadonlyArray<ExpectedCall>
  readonly expect: {
    readonly error?: { readonly kind: string; readonly messageContains?: ReadonlyArray<string>; readonly wrapped?: boolean }
    readonly result?: unknown
  }
}

export const scenarios: ReadonlyArray<Scenario> = JSON.parse(
  readFileSync(new URL("./fixtures/listener-cases.json", import.meta.url), "utf8")
) as ReadonlyArray<Scenario>

export interface Call {
  readonly call: string
  readonly args?: unknown
  readonly interruptible: boolean
}

/** The scaler's scripted failure. */
export class ScriptedScalerError extends Data.TaggedError("ScriptedScalerError")<{ readonly message: string }> {}

const decodeSession = Schema.decodeUnknownSync(ScaleSetSchema.RunnerScaleSetSession)
const decodeStatistics = Schema.decodeUnknownSync(Schema.NullOr(ScaleSetSchema.RunnerScaleSetStatistic))
const decodeJob = Schema.decodeUnknownSync(ScaleSetSchema.JobMessage)

export interface GoMessage {
  readonly messageId: number
  readonly statistics: unknown
  readonly jobAvailableMessages?: ReadonlyArray<unknown> | null
  readonly jobAssignedMessages?: ReadonlyArray<unknown> | null
  readonly jobStartedMessages?: ReadonlyArray<unknown> | null
  readonly jobCompletedMessages?: ReadonlyArray<unknown> | null
}

export interface Harness {
  readonly log: Array<Call>
  readonly maxRunnersSeen: Array<number>
  readonly session: MessageSession.MessageSession
  readonly scaler: {
    readonly handleDesiredRunnerCount: (count: number) => Effect.Effect<number, ScriptedScalerError>
    readonly handleJobStarted: (job: ScaleSetSchema.JobStarted) => Effect.Effect<void, ScriptedScalerError>
    readonly handleJobCompleted: (job: ScaleSetSchema.JobCompleted) => Effect.Effect<void, ScriptedScalerError>
  }
  readonly metrics: Metrics.Recorder
  readonly maxRunners: Ref.Ref<number>
  /** Give the harness the fiber that runs the listener, so `cancel` can interrupt it. */
  readonly setRunFiber: (fiber: Fiber.RuntimeFiber<unknown, unknown>) => Effect.Effect<void>
}

export const makeHarness = (
  scenario: Scenario,
  options: { readonly exhaustedGetMessageCancels: boolean }
): Effect.Effect<Harness> =>
  Effect.gen(function*() {
    const log: Array<Call> = []
    const maxRunnersSeen: Array<number> = []
    const runFiber = yield* Deferred.make<Fiber.RuntimeFiber<unknown, unknown>>()
    const maxRunners = yield* Ref.make(scenario.config.maxRunners)
    const queues = new Map<string, Array<ScriptEntry>>(
      Object.entries(scenario.script ?? {}).map(([k, v]) => [k, [...(v ?? [])]])
    )
    // the Go JSON of every job handed out, so the recorded args are the very objects given
    const originals = new Map<unknown, unknown>()

    const record = (call: string, args?: unknown) =>
      Effect.checkInterruptible((interruptible) =>
        Effect.sync(() => {
          log.push(args === undefined ? { call, interruptible } : { call, args, interruptible })
        })
      )
    const cancel = Effect.flatMap(Deferred.await(runFiber), (fiber) =>
      Effect.fiberIdWith((id) => Fiber.interruptAsFork(fiber, id)))
    const apply = (entry: ScriptEntry | undefined) =>
      Effect.gen(function*() {
        if (entry?.setMaxRunners !== undefined) yield* Ref.set(maxRunners, entry.setMaxRunners)
        if (entry?.cancel === true) yield* cancel
      })
    const next = (name: string) => queues.get(name)?.shift()
    const clientError = (operation: string, error: NonNullable<ScriptEntry["error"]>) => {
      const url = `fake://session/${operation}`
      const message = error.message ?? "error"
      switch (error.kind) {
        case "Transport":
          return new ScaleSetApiError({ method: "GET", url, reason: "Transport", attempts: 5, detail: message })
        case "Decode":
          return new ResponseDecodeError({ method: "GET", url, status: 200, reason: message })
        case "Status":
          return new ScaleSetApiError({ method: "GET", url, status: error.status, reason: "StatusCode", attempts: 5, body: message })
        default:
          return new ActionsException({
            method: "POST",
            url,
            status: error.status ?? 400,
            typeName: "ScriptedException",
            exceptionMessage: message,
            attempts: 1
          })
      }
    }

    const toMessage = (go: GoMessage): ScaleSetSchema.RunnerScaleSetMessage => {
      const jobs = [
        ...(go.jobAvailableMessages ?? []),
        ...(go.jobAssignedMessages ?? []),
        ...(go.jobStartedMessages ?? []),
        ...(go.jobCompletedMessages ?? [])
      ].map((raw) => {
        const job = decodeJob(raw)
        originals.set(job, raw)
        return job
      })
      return {
        messageId: go.messageId,
        messageType: "RunnerScaleSetJobMessages",
        statistics: decodeStatistics(go.statistics) ?? undefined,
        jobs
      }
    }

    const session: MessageSession.MessageSession = {
      scaleSetId: scenario.config.scaleSetId,
      session: Effect.zipRight(record("client.session"), Effect.sync(() => decodeSession(scenario.session))),
      getMessage: (lastMessageId, maxCapacity) =>
        Effect.gen(function*() {
          yield* record("client.getMessage", { lastMessageId, maxCapacity })
          const entry = next("getMessage")
          if (entry === undefined) {
            if (!options.exhaustedGetMessageCancels) return yield* Effect.dieMessage("getMessage script exhausted")
            yield* cancel
            return yield* Effect.never
          }
          yield* apply(entry)
          if (entry.error !== undefined) {
            if (entry.error.kind === "Cancelled") return yield* Effect.never
            return yield* clientError("getMessage", entry.error)
          }
          return entry.return == null ? Option.none() : Option.some(toMessage(entry.return as GoMessage))
        }),
      deleteMessage: (messageId) =>
        Effect.gen(function*() {
          yield* record("client.deleteMessage", { messageId })
          const entry = next("deleteMessage")
          yield* apply(entry)
          if (entry?.error !== undefined) return yield* clientError("deleteMessage", entry.error)
        }),
      acquireJobs: (requestIds) =>
        Effect.gen(function*() {
          yield* record("client.acquireJobs", { requestIds: [...requestIds] })
          const entry = next("acquireJobs")
          yield* apply(entry)
          if (entry?.error !== undefined) return yield* clientError("acquireJobs", entry.error)
          return entry?.return === undefined ? requestIds : (entry.return as ReadonlyArray<number>)
        }),
      refresh: Effect.dieMessage("refresh is not scripted"),
      close: Effect.dieMessage("close is not scripted")
    }

    const handler = <A>(name: string, args: unknown, fallback: A) =>
      Effect.gen(function*() {
        yield* record(`scaler.${name}`, args)
        const entry = next(name)
        yield* apply(entry)
        if (entry?.error !== undefined) return yield* new ScriptedScalerError({ message: entry.error.message ?? "error" })
        return entry?.return === undefined ? fallback : (entry.return as A)
      })

    const scaler = {
      handleDesiredRunnerCount: (count: number) => handler("handleDesiredRunnerCount", { count }, count),
      handleJobStarted: (job: ScaleSetSchema.JobStarted) =>
        Effect.asVoid(handler("handleJobStarted", { job: originals.get(job) ?? job }, undefined)),
      handleJobCompleted: (job: ScaleSetSchema.JobCompleted) =>
        Effect.asVoid(handler("handleJobCompleted", { job: originals.get(job) ?? job }, undefined))
    }

    const metrics: Metrics.Recorder = {
      recordStatistics: (statistics) => record("metrics.recordStatistics", { statistics: { ...statistics } }),
      recordJobStarted: (job) => record("metrics.recordJobStarted", { job: originals.get(job) ?? job }),
      recordJobCompleted: (job) => record("metrics.recordJobCompleted", { job: originals.get(job) ?? job }),
      recordDesiredRunners: (count) => record("metrics.recordDesiredRunners", { count }),
      recordMaxRunners: (count) => Effect.sync(() => void maxRunnersSeen.push(count))
    }

    return {
      log,
      maxRunnersSeen,
      session,
      scaler,
      metrics,
      maxRunners,
      setRunFiber: (fiber) => Effect.asVoid(Deferred.succeed(runFiber, fiber))
    }
  })

/** Go order → default order: each acknowledgement moves after the handling of its message. */
export const ackAfterHandling = (calls: ReadonlyArray<ExpectedCall>): Array<ExpectedCall> => {
  const out: Array<ExpectedCall> = []
  let held: ExpectedCall | undefined
  for (const call of calls) {
    if (call.call === "client.deleteMessage") {
      held = call
      continue
    }
    out.push(call)
    if (call.call === "metrics.recordDesiredRunners" && held !== undefined) {
      out.push(held)
      held = undefined
    }
  }
  if (held !== undefined) out.push(held)
  return out
}
