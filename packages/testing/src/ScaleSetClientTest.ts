/**
 * An in-memory `ScaleSetClient` for unit tests of code that uses the client but needs no HTTP. It
 * runs the simulator's own model (scale sets, runners, sessions, the message queue, the job model),
 * so statistics and job messages behave as on the wire; a `Control` service drives and inspects it.
 *
 * ```ts
 * it.live("scales up", () =>
 *   Effect.gen(function*() {
 *     const client = yield* ScaleSetClient.ScaleSetClient
 *     const control = yield* ScaleSetClientTest.Control
 *     yield* control.enqueueJobs({ count: 2 })
 *     // … run the code under test with `client` …
 *   }).pipe(Effect.provide(ScaleSetClientTest.layer())))
 * ```
 *
 * Jobs and runners run on real timers: use `it.live` (not `it.effect` with the TestClock).
 *
 * @since 0.1.0
 */
import * as GitHubConfig from "@scaleset/core/GitHubConfig"
import type * as MessageSession from "@scaleset/core/MessageSession"
import * as ScaleSetClient from "@scaleset/core/ScaleSetClient"
import * as ScaleSetError from "@scaleset/core/ScaleSetError"
import * as ScaleSetSchema from "@scaleset/core/ScaleSetSchema"
import * as SystemInfo from "@scaleset/core/SystemInfo"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { EnqueueJobsOptions, Job, JobState, Runner, Statistics } from "./JobModel.js"
import { makeState, type ScaleSetRecord, ServiceException, type SessionRecord, type State } from "./internal/state.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface TestOptions {
  /** The organization of the client's config URL (`https://github.com/{organization}`). Default `my-org`. */
  readonly organization?: string | undefined
  readonly runnerGroups?: ReadonlyArray<string> | undefined
  /** How long `getMessage` waits for a message. Default 1 second. */
  readonly longPollHold?: Duration.DurationInput | undefined
  /** An offered or acquired job that no runner starts within this is canceled and requeued. Default 5 minutes. */
  readonly assignmentTimeout?: Duration.DurationInput | undefined
  /**
   * Runners whose JIT config was generated connect at once and run their job (default). When
   * false, start them with `Control.startRunner`.
   */
  readonly autoStartRunners?: boolean | undefined
}

/**
 * Drives and inspects the in-memory service.
 *
 * @since 0.1.0
 * @category models
 */
export interface ControlShape {
  readonly enqueueJobs: (options?: EnqueueJobsOptions) => Effect.Effect<ReadonlyArray<string>>
  /** Connects a registered runner, which then takes a job, runs it and completes it. */
  readonly startRunner: (runnerId: number) => Effect.Effect<void>
  readonly jobs: (state?: JobState) => Effect.Effect<ReadonlyArray<Job>>
  readonly runners: Effect.Effect<ReadonlyArray<Runner>>
  readonly sessionCount: Effect.Effect<number>
  readonly statistics: (scaleSetId: number) => Effect.Effect<Statistics>
  /** Deletes a scale set behind the client's back. */
  readonly deleteScaleSet: (id: number) => Effect.Effect<void>
  /** Holds the scale set's session as another client would, until the scope closes. */
  readonly holdSession: (scaleSetId: number, ownerName?: string) => Effect.Effect<void, never, Scope.Scope>
  /** Waits until `predicate` holds over the jobs and runners (checked after every change). */
  readonly waitFor: (predicate: (jobs: ReadonlyArray<Job>, runners: ReadonlyArray<Runner>) => boolean) => Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Control extends Context.Tag("@scaleset/testing/ScaleSetClientTest/Control")<Control, ControlShape>() {}

const SERVICE_URL = "memory://scaleset/tenant/1/"

const toError = (e: unknown, method: string, path: string): ScaleSetError.RequestError => {
  if (!(e instanceof ServiceException)) throw e
  const fields = { method, url: `${SERVICE_URL}${path}`, status: e.status, typeName: e.typeName, exceptionMessage: e.message }
  const t = e.typeName
  if (t.includes("AgentNotFoundException")) return new ScaleSetError.RunnerNotFound(fields)
  if (t.includes("AgentExistsException")) return new ScaleSetError.RunnerExists(fields)
  if (t.includes("JobStillRunningException")) return new ScaleSetError.JobStillRunning(fields)
  if (t.includes("RunnerScaleSetNotFoundException")) return new ScaleSetError.ScaleSetNotFound(fields)
  if (t.includes("SessionConflictException")) return new ScaleSetError.SessionConflict(fields)
  return new ScaleSetError.ActionsException({ ...fields, attempts: 1 })
}

/** Runs a state operation as a request would: a thrown service exception becomes the core's typed error. */
const op = <A>(method: string, path: string, f: () => A): Effect.Effect<A, ScaleSetError.RequestError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(f())
    } catch (e) {
      return Effect.fail(toError(e, method, path))
    }
  })

const toScaleSet = (state: State, ss: ScaleSetRecord): ScaleSetSchema.RunnerScaleSet => ({
  id: ss.id,
  name: ss.name,
  runnerGroupId: ss.runnerGroupId,
  runnerGroupName: ss.runnerGroupName,
  labels: ss.labels.map((l) => ({ type: l.type, name: l.name })),
  runnerSetting: { disableUpdate: ss.disableUpdate },
  createdOn: ss.createdOn,
  runnerJitConfigUrl: `${SERVICE_URL}_apis/runtime/runnerscalesets/${ss.id}/generatejitconfig`,
  statistics: state.statistics(ss.id)
})

const toRunner = (r: { readonly id: number; readonly name: string; readonly scaleSetId: number }): ScaleSetSchema.RunnerReference => ({
  id: r.id,
  name: r.name,
  runnerScaleSetId: r.scaleSetId
})

const decodeJob = Schema.decodeUnknownOption(ScaleSetSchema.JobMessage)

/** Waits for the next change of the model, or `ms`. */
const nextChange = (state: State, ms: number) =>
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => done(), ms)
    const unsubscribe = state.subscribe(() => done())
    function done() {
      clearTimeout(timer)
      unsubscribe()
      resume(Effect.void)
    }
    return Effect.sync(() => {
      clearTimeout(timer)
      unsubscribe()
    })
  })

/**
 * Builds the in-memory client and its control in the current scope (timers stop on release).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: TestOptions = {}
): Effect.Effect<{ readonly client: ScaleSetClient.ScaleSetClientShape; readonly control: ControlShape }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const organization = options.organization ?? "my-org"
    const config = yield* Effect.orDie(GitHubConfig.parse(`https://github.com/${organization}`))
    const holdMs = Duration.toMillis(Duration.decode(options.longPollHold ?? "1 second"))
    const state = yield* Effect.acquireRelease(
      Effect.sync(() =>
        makeState({
          runnerGroups: (options.runnerGroups ?? []).map((name) => ({ name })),
          assignmentTimeoutMs: Duration.toMillis(Duration.decode(options.assignmentTimeout ?? "5 minutes")),
          serviceUrl: () => SERVICE_URL,
          defaultOwner: organization,
          defaultRepository: "my-repo"
        })
      ),
      (s) => Effect.sync(() => s.dispose())
    )
    const info = yield* Ref.make(SystemInfo.empty)

    /** An in-process runner: connects, waits for its job, completes it after its duration. */
    const startRunner = (runnerId: number, secret: string) => {
      const { token } = state.connectRunner(runnerId, secret)
      let running = false
      const unsubscribe = state.subscribe(check)
      check()
      function check() {
        if (running) return
        let assignment
        try {
          assignment = state.runnerAssignment(runnerId, token)
        } catch {
          unsubscribe() // removed
          return
        }
        if (assignment === undefined) return
        running = true
        unsubscribe()
        const result = assignment.result
        setTimeout(() => {
          try {
            state.completeRunnerJob(runnerId, token, result)
          } catch {
            // the scale set went away meanwhile
          }
        }, assignment.durationMs)
      }
    }
    const secrets = new Map<number, string>()

    const sessionOf = (s: SessionRecord): ScaleSetSchema.RunnerScaleSetSession => ({
      sessionId: s.sessionId,
      ownerName: s.ownerName,
      runnerScaleSet: toScaleSet(state, state.scaleSet(s.scaleSetId)),
      messageQueueUrl: `memory://scaleset/mq/messages?sessionId=${s.sessionId}`,
      messageQueueAccessToken: Redacted.make(`memory-queue-token-${s.generation}`),
      statistics: state.statistics(s.scaleSetId)
    })

    const createMessageSession = (
      scaleSetId: number,
      owner: string
    ): Effect.Effect<MessageSession.MessageSession, ScaleSetError.RequestError, Scope.Scope> =>
      Effect.gen(function*() {
        const path = `_apis/runtime/runnerscalesets/${scaleSetId}/sessions`
        const record = yield* Effect.acquireRelease(
          op("POST", path, () => state.createSession(scaleSetId, owner)),
          (s) => Effect.sync(() => state.deleteSession(s.sessionId))
        )
        const live = () => state.session(scaleSetId, record.sessionId)
        const getMessage = (lastMessageId: number, maxCapacity: number) =>
          Effect.gen(function*() {
            const deadline = Date.now() + holdMs
            yield* op("GET", "mq/messages", () => state.setMaxCapacity(live(), maxCapacity))
            for (;;) {
              const message = yield* op("GET", "mq/messages", () => {
                live()
                return state.nextMessage(scaleSetId, lastMessageId)
              })
              if (message !== undefined) {
                const items: ReadonlyArray<unknown> = JSON.parse(message.body)
                const jobs = items.flatMap((item) => Option.toArray(decodeJob(item)))
                return Option.some<ScaleSetSchema.RunnerScaleSetMessage>({
                  messageId: message.messageId,
                  messageType: message.messageType,
                  statistics: message.statistics,
                  jobs
                })
              }
              const left = deadline - Date.now()
              if (left <= 0) return Option.none()
              yield* nextChange(state, left)
            }
          })
        return {
          scaleSetId,
          session: Effect.sync(() => sessionOf(record)),
          getMessage,
          deleteMessage: (messageId: number) => op("DELETE", `mq/messages/${messageId}`, () => state.ackMessage(scaleSetId, messageId)),
          acquireJobs: (ids: ReadonlyArray<number>) =>
            op("POST", `_apis/runtime/runnerscalesets/${scaleSetId}/acquirejobs`, () => state.acquireJobs(scaleSetId, ids)),
          refresh: op("PATCH", `${path}/${record.sessionId}`, () => {
            state.refreshSession(live())
            return sessionOf(record)
          }),
          close: Effect.sync(() => void state.deleteSession(record.sessionId))
        } satisfies MessageSession.MessageSession
      })

    const client: ScaleSetClient.ScaleSetClientShape = {
      config,
      getRunnerScaleSet: (runnerGroupId, name) =>
        op("GET", "_apis/runtime/runnerscalesets", () =>
          Option.map(Option.fromNullable(state.findScaleSets(runnerGroupId, name)[0]), (ss) => toScaleSet(state, ss))),
      getRunnerScaleSetById: (id) =>
        op("GET", `_apis/runtime/runnerscalesets/${id}`, () => Option.some(toScaleSet(state, state.scaleSet(id)))),
      createRunnerScaleSet: (input) =>
        op("POST", "_apis/runtime/runnerscalesets", () =>
          toScaleSet(
            state,
            state.createScaleSet({
              name: input.name ?? "",
              runnerGroupId: input.runnerGroupId,
              runnerGroupName: input.runnerGroupName,
              labels: input.labels,
              disableUpdate: input.runnerSetting?.disableUpdate
            })
          )),
      updateRunnerScaleSet: (id, patch) =>
        op("PATCH", `_apis/runtime/runnerscalesets/${id}`, () =>
          toScaleSet(
            state,
            state.updateScaleSet(id, {
              name: patch.name,
              runnerGroupId: patch.runnerGroupId,
              runnerGroupName: patch.runnerGroupName,
              labels: patch.labels,
              disableUpdate: patch.runnerSetting?.disableUpdate
            })
          )),
      deleteRunnerScaleSet: (id) => op("DELETE", `_apis/runtime/runnerscalesets/${id}`, () => state.deleteScaleSet(id)),
      getOrCreateRunnerScaleSet: (input) =>
        op("GET", "_apis/runtime/runnerscalesets", () => {
          const existing = state.findScaleSets(input.runnerGroupId, input.name)[0]
          return toScaleSet(state, existing ?? state.createScaleSet({ ...input, disableUpdate: input.runnerSetting?.disableUpdate }))
        }),
      getRunnerGroupByName: (name) =>
        Effect.flatMap(op("GET", "_apis/runtime/runnergroups/", () => state.runnerGroups(name)), (groups) => {
          const [group] = groups
          return group === undefined || groups.length > 1
            ? Effect.fail(new ScaleSetError.RunnerGroupNotFound({ method: "GET", url: `${SERVICE_URL}_apis/runtime/runnergroups/`, name }))
            : Effect.succeed({ id: group.id, name: group.name, size: group.size, isDefaultGroup: group.isDefaultGroup })
        }),
      generateJitRunnerConfig: (setting, scaleSetId) =>
        op("POST", `_apis/runtime/runnerscalesets/${scaleSetId}/generatejitconfig`, () => {
          const runner = state.registerRunner(scaleSetId, setting.name ?? "")
          const secret = runner.secret ?? ""
          if (options.autoStartRunners === false) secrets.set(runner.id, secret)
          else startRunner(runner.id, secret)
          const encoded = Buffer.from(JSON.stringify({ simulatorUrl: "memory://scaleset", runnerId: runner.id, runnerName: runner.name, scaleSetId, secret }))
            .toString("base64")
          return { runner: Option.some(toRunner(runner)), encodedJITConfig: Redacted.make(encoded) }
        }),
      getRunner: (id) => op("GET", `_apis/distributedtask/pools/0/agents/${id}`, () => toRunner(state.runner(id))),
      getRunnerByName: (name) =>
        op("GET", "_apis/distributedtask/pools/0/agents", () => Option.map(Option.fromNullable(state.runnersByName(name)[0]), toRunner)),
      removeRunner: (id) => op("DELETE", `_apis/distributedtask/pools/0/agents/${id}`, () => state.removeRunner(id)),
      createMessageSession,
      systemInfo: Ref.get(info),
      setSystemInfo: (next) => Ref.set(info, next),
      debugInfo: Effect.map(Ref.get(info), (i) =>
        JSON.stringify({ has_proxy: false, has_root_ca: false, system_info: SystemInfo.userAgent(i) })),
      tokenRefreshes: Effect.succeed(0)
    }

    const control: ControlShape = {
      enqueueJobs: (o) => Effect.sync(() => state.enqueueJobs(o)),
      startRunner: (runnerId) =>
        Effect.sync(() => {
          const secret = secrets.get(runnerId)
          if (secret === undefined) return
          secrets.delete(runnerId)
          startRunner(runnerId, secret)
        }),
      jobs: (jobState) => Effect.sync(() => state.jobs().filter((j) => jobState === undefined || j.state === jobState)),
      runners: Effect.sync(() => state.runners()),
      sessionCount: Effect.sync(() => state.sessions().length),
      statistics: (id) => Effect.sync(() => state.statistics(id)),
      deleteScaleSet: (id) =>
        Effect.sync(() => {
          if (state.scaleSets().some((ss) => ss.id === id)) state.deleteScaleSet(id)
        }),
      holdSession: (scaleSetId, ownerName = "another-listener") =>
        Effect.acquireRelease(
          Effect.sync(() => state.createSession(scaleSetId, ownerName, true)),
          (s) => Effect.sync(() => state.deleteSession(s.sessionId))
        ).pipe(Effect.asVoid, Effect.orDie),
      waitFor: (predicate) =>
        Effect.gen(function*() {
          while (!predicate(state.jobs(), state.runners())) yield* nextChange(state, 1_000)
        })
    }
    return { client, control }
  })

/**
 * The in-memory `ScaleSetClient` and its `Control`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: TestOptions = {}): Layer.Layer<ScaleSetClient.ScaleSetClient | Control> =>
  Layer.scopedContext(
    Effect.map(make(options), ({ client, control }) =>
      Context.make(ScaleSetClient.ScaleSetClient, client).pipe(Context.add(Control, control)))
  )
