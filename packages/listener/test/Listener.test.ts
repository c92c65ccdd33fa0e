import { assert, describe, it } from "@effect/vitest"
import { ScaleSetClient } from "@scaleset/core"
import type * as MessageSession from "@scaleset/core/MessageSession"
import { MessageQueueTokenExpired, ResponseDecodeError, ScaleSetApiError } from "@scaleset/core/ScaleSetError"
import * as ScaleSetSchema from "@scaleset/core/ScaleSetSchema"
import { Listener, Metrics } from "@scaleset/listener"
import { ListenerClientError, ListenerConfigError } from "@scaleset/listener/ListenerError"
import type { ScalingEvent } from "@scaleset/listener/ScalingEvent"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import { makeHarness, type Scenario, type ScriptEntry } from "./harness.js"

const stats = (assigned: number) => ({
  totalAvailableJobs: 0,
  totalAcquiredJobs: 0,
  totalAssignedJobs: assigned,
  totalRunningJobs: 0,
  totalRegisteredRunners: 0,
  totalBusyRunners: 0,
  totalIdleRunners: 0
})

const scenario = (script: Partial<Record<string, ReadonlyArray<ScriptEntry>>>): Scenario => ({
  id: "unit",
  config: { scaleSetId: 1, maxRunners: 10 },
  session: {
    sessionId: "5c3bb0c2-6f4e-4b43-9f36-1a2b3c4d5e6f",
    ownerName: "owner",
    messageQueueUrl: "https://example.com/queue",
    messageQueueAccessToken: "token",
    statistics: stats(1)
  },
  script,
  expect: {}
})

const job = (messageType: string, runnerRequestId: number, extra: Record<string, unknown> = {}) => ({
  messageType,
  runnerRequestId,
  repositoryName: "repo",
  ownerName: "org",
  jobId: `job-${runnerRequestId}`,
  jobWorkflowRef: "org/repo/.github/workflows/ci.yml@refs/heads/main",
  jobDisplayName: "build",
  workflowRunId: 9,
  eventName: "push",
  requestLabels: ["set"],
  queueTime: "2024-05-01T12:00:00Z",
  ...extra
})

const msg = (
  messageId: number,
  assigned: number,
  jobs: {
    readonly available?: ReadonlyArray<unknown>
    readonly assigned?: ReadonlyArray<unknown>
    readonly started?: ReadonlyArray<unknown>
    readonly completed?: ReadonlyArray<unknown>
  } = {}
) => ({
  messageId,
  statistics: stats(assigned),
  jobAvailableMessages: jobs.available ?? [],
  jobAssignedMessages: jobs.assigned ?? [],
  jobStartedMessages: jobs.started ?? [],
  jobCompletedMessages: jobs.completed ?? []
})

const calls = (log: ReadonlyArray<{ readonly call: string; readonly args?: unknown }>, name?: string) =>
  log.filter((c) => name === undefined || c.call === name).map((c) => c.args === undefined ? c.call : `${c.call} ${JSON.stringify(c.args)}`)

const fullMessage = msg(1, 3, {
  available: [job("JobAvailable", 101, { acquireJobUrl: "x" })],
  assigned: [job("JobAssigned", 102)],
  started: [job("JobStarted", 103, { runnerId: 1, runnerName: "r1" })],
  completed: [job("JobCompleted", 104, { result: "succeeded", runnerId: 2, runnerName: "r2" })]
})

/** Advances the test clock until the fiber is done. */
const runToEnd = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      const done = yield* Fiber.poll(fiber)
      if (Option.isSome(done)) return done.value
      yield* TestClock.adjust("1 second")
    }
    return yield* Effect.dieMessage("the listener did not end")
  })

describe("Listener.events", () => {
  it.effect("emits the initial desired count, then a message's events in order", () =>
    Effect.gen(function*() {
      const h = yield* makeHarness(scenario({ getMessage: [{ return: fullMessage }, { return: null }] }), {
        exhaustedGetMessageCancels: false
      })
      const events = yield* Listener.events(h.session, { maxRunners: 10, metrics: h.metrics }).pipe(
        Stream.take(8),
        Stream.runCollect
      )
      assert.deepStrictEqual(Chunk.toArray(events).map((e) => e._tag), [
        "DesiredRunners",
        "Statistics",
        "JobAvailable",
        "JobAssigned",
        "JobStarted",
        "JobCompleted",
        "DesiredRunners",
        "DesiredRunners"
      ])
      const counts = Chunk.toArray(events).flatMap((e) => e._tag === "DesiredRunners" ? [e.count] : [])
      assert.deepStrictEqual(counts, [1, 3, 3])
      // acquired before the events were emitted; acknowledged when the consumer pulled past them
      assert.deepStrictEqual(calls(h.log).filter((c) => c.startsWith("client.")), [
        "client.session",
        `client.getMessage {"lastMessageId":0,"maxCapacity":10}`,
        `client.acquireJobs {"requestIds":[101]}`,
        `client.deleteMessage {"messageId":1}`,
        `client.getMessage {"lastMessageId":1,"maxCapacity":10}`
      ])
    }))

  it.effect("a message whose events were not all consumed is not acknowledged", () =>
    Effect.gen(function*() {
      const h = yield* makeHarness(scenario({ getMessage: [{ return: fullMessage }] }), { exhaustedGetMessageCancels: false })
      yield* Listener.events(h.session, { maxRunners: 10, metrics: h.metrics }).pipe(Stream.take(5), Stream.runDrain)
      assert.deepStrictEqual(calls(h.log, "client.deleteMessage"), [])
    }))

  it.effect("ack: before-handling acknowledges before the events are emitted", () =>
    Effect.gen(function*() {
      const h = yield* makeHarness(scenario({ getMessage: [{ return: fullMessage }] }), { exhaustedGetMessageCancels: false })
      yield* Listener.events(h.session, { maxRunners: 10, metrics: h.metrics, ack: "before-handling" }).pipe(
        Stream.take(2),
        Stream.runDrain
      )
      assert.deepStrictEqual(calls(h.log, "client.deleteMessage"), [`client.deleteMessage {"messageId":1}`])
    }))

  it.effect("maxRunners out of range is a ListenerConfigError before any call", () =>
    Effect.gen(function*() {
      for (const bad of [-1, 2 ** 31, 1.5, Number.NaN]) {
        const h = yield* makeHarness(scenario({}), { exhaustedGetMessageCancels: false })
        const error = yield* Effect.flip(Stream.runDrain(Listener.events(h.session, { maxRunners: bad, metrics: h.metrics })))
        assert.instanceOf(error, ListenerConfigError)
        assert.include(error.message, "maxRunners must be between 0 and MaxInt32")
        assert.deepStrictEqual(h.log, [])
      }
    }))

  it.effect("a SubscriptionRef maxRunners is read on every poll; an invalid value ends the stream", () =>
    Effect.gen(function*() {
      const h = yield* makeHarness(scenario({ getMessage: [{ return: null }, { return: null }] }), {
        exhaustedGetMessageCancels: false
      })
      const max = yield* SubscriptionRef.make(4)
      const fiber = yield* Effect.fork(
        Listener.events(h.session, { maxRunners: max, metrics: h.metrics }).pipe(
          Stream.tap((e) => e._tag === "DesiredRunners" ? SubscriptionRef.update(max, (n) => n === 4 ? 7 : -1) : Effect.void),
          Stream.runDrain
        )
      )
      const exit = yield* Fiber.await(fiber)
      assert.deepStrictEqual(calls(h.log, "client.getMessage"), [
        `client.getMessage {"lastMessageId":0,"maxCapacity":7}`
      ])
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      assert.isTrue(Option.isSome(error) && error.value instanceof ListenerConfigError)
      assert.deepStrictEqual(h.maxRunnersSeen, [7])
    }))
})

describe("Listener transient failures", () => {
  it.effect("transient poll failures are retried on the reconnect schedule, keeping lastMessageId", () =>
    Effect.gen(function*() {
      const h = yield* makeHarness(
        scenario({
          getMessage: [
            { return: msg(4, 2) },
            { error: { kind: "Transport", message: "ECONNRESET" } },
            { error: { kind: "Decode", message: "the body is empty" } },
            { error: { kind: "Status", status: 503, message: "busy" } },
            { error: { kind: "Status", status: 429, message: "slow down" } },
            { return: null }
          ],
          deleteMessage: [{ error: { kind: "Transport", message: "reset" } }]
        }),
        { exhaustedGetMessageCancels: true }
      )
      const fiber = yield* Effect.fork(Listener.run(h.session, h.scaler, { maxRunners: 10, metrics: h.metrics }))
      yield* h.setRunFiber(fiber)
      const exit = yield* runToEnd(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.deepStrictEqual(calls(h.log, "client.deleteMessage"), [
        `client.deleteMessage {"messageId":4}`,
        `client.deleteMessage {"messageId":4}`
      ])
      assert.deepStrictEqual(calls(h.log, "client.getMessage").map((c) => JSON.parse(c.slice(c.indexOf("{"))).lastMessageId), [
        0,
        4,
        4,
        4,
        4,
        4,
        4
      ])
    }))

  it.effect("a fatal failure ends the stream with a ListenerClientError carrying the core error", () =>
    Effect.gen(function*() {
      const h = yield* makeHarness(scenario({ getMessage: [{ error: { kind: "Status", status: 403, message: "forbidden" } }] }), {
        exhaustedGetMessageCancels: false
      })
      const error = yield* Effect.flip(Listener.run(h.session, h.scaler, { maxRunners: 10, metrics: h.metrics }))
      assert.instanceOf(error, ListenerClientError)
      if (!(error instanceof ListenerClientError)) return
      assert.strictEqual(error.operation, "getMessage")
      assert.strictEqual(error.cause._tag, "ScaleSetApiError")
      assert.include(error.message, "failed to get message")
    }))

  it("classifies errors: transport, timeout, 429, 5xx but 501, decode are transient", () => {
    const api = (status: number | undefined, reason: "StatusCode" | "Transport" | "Timeout" = "StatusCode") =>
      new ScaleSetApiError({ method: "GET", url: "u", status, reason, attempts: 1 })
    assert.isTrue(Listener.isTransient(api(500)))
    assert.isTrue(Listener.isTransient(api(429)))
    assert.isTrue(Listener.isTransient(api(undefined, "Transport")))
    assert.isTrue(Listener.isTransient(api(undefined, "Timeout")))
    assert.isTrue(Listener.isTransient(new ResponseDecodeError({ method: "GET", url: "u", status: 200, reason: "empty" })))
    assert.isFalse(Listener.isTransient(api(501)))
    assert.isFalse(Listener.isTransient(api(404)))
    assert.isFalse(Listener.isTransient(new MessageQueueTokenExpired({ method: "GET", url: "u", status: 401 })))
  })
})

describe("Listener poison messages", () => {
  it.effect("a message whose handling fails is redelivered, then acknowledged and reported after 3 deliveries", () =>
    Effect.gen(function*() {
      const poisonMessage = msg(5, 1, { started: [job("JobStarted", 201, { runnerId: 1, runnerName: "r" })] })
      const h = yield* makeHarness(
        scenario({
          getMessage: [{ return: poisonMessage }, { return: poisonMessage }, { return: poisonMessage }, { return: null }],
          handleJobStarted: [{ error: { message: "nope" } }, { error: { message: "nope" } }, { error: { message: "nope" } }]
        }),
        { exhaustedGetMessageCancels: true }
      )
      const reported: Array<ScalingEvent> = []
      const fiber = yield* Effect.fork(
        Listener.run(h.session, {
          ...h.scaler,
          handlePoisonMessage: (event) => Effect.sync(() => void reported.push(event))
        }, { maxRunners: 10, metrics: h.metrics })
      )
      yield* h.setRunFiber(fiber)
      const exit = yield* runToEnd(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.deepStrictEqual(calls(h.log, "client.getMessage").map((c) => JSON.parse(c.slice(c.indexOf("{"))).lastMessageId), [
        0,
        0,
        0,
        5,
        5
      ])
      assert.deepStrictEqual(calls(h.log, "client.deleteMessage"), [`client.deleteMessage {"messageId":5}`])
      // the acknowledgement comes after the third failed handling
      const log = calls(h.log)
      assert.isAbove(log.lastIndexOf(`client.deleteMessage {"messageId":5}`), log.lastIndexOf("scaler.handleJobStarted " + JSON.stringify({ job: poisonMessage.jobStartedMessages[0] })))
      assert.strictEqual(reported.length, 1)
      assert.strictEqual(reported[0]!._tag, "PoisonMessage")
      if (reported[0]!._tag === "PoisonMessage") {
        assert.strictEqual(reported[0]!.messageId, 5)
        assert.strictEqual(reported[0]!.deliveries, 3)
      }
    }))

  it.effect("a message that fails once and then succeeds is handled and acknowledged once", () =>
    Effect.gen(function*() {
      const message = msg(6, 1, { completed: [job("JobCompleted", 301, { result: "failed", runnerId: 1, runnerName: "r" })] })
      const h = yield* makeHarness(
        scenario({ getMessage: [{ return: message }, { return: message }], handleJobCompleted: [{ error: { message: "later" } }] }),
        { exhaustedGetMessageCancels: true }
      )
      const fiber = yield* Effect.fork(Listener.run(h.session, h.scaler, { maxRunners: 10, metrics: h.metrics, redeliveryDelay: "5 seconds" }))
      yield* h.setRunFiber(fiber)
      const exit = yield* runToEnd(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.strictEqual(calls(h.log, "scaler.handleJobCompleted").length, 2)
      assert.deepStrictEqual(calls(h.log, "client.deleteMessage"), [`client.deleteMessage {"messageId":6}`])
    }))
})

const decodeStarted = Schema.decodeUnknownSync(ScaleSetSchema.JobStarted)
const decodeCompleted = Schema.decodeUnknownSync(ScaleSetSchema.JobCompleted)

describe("Listener metrics", () => {
  it.effect("the default recorder updates the gha_* metrics with ARC's labels", () =>
    Effect.gen(function*() {
      const labels: Metrics.Labels = { name: `set-${Math.random().toString(36).slice(2)}`, organization: "org" }
      const started = job("JobStarted", 401, {
        runnerId: 1,
        runnerName: "r",
        scaleSetAssignTime: "2024-05-01T12:00:00Z",
        runnerAssignTime: "2024-05-01T12:00:10Z"
      })
      const startedNoTimes = job("JobStarted", 402, { runnerId: 1, runnerName: "r", jobDisplayName: "other" })
      const completed = job("JobCompleted", 401, {
        result: "succeeded",
        runnerId: 1,
        runnerName: "r",
        runnerAssignTime: "2024-05-01T12:00:10Z",
        finishTime: "2024-05-01T12:01:10Z"
      })
      const h = yield* makeHarness(scenario({ getMessage: [{ return: msg(1, 2, { started: [started, startedNoTimes], completed: [completed] }) }] }), {
        exhaustedGetMessageCancels: false
      })
      yield* Listener.events(h.session, { maxRunners: 10, labels }).pipe(Stream.take(6), Stream.runDrain)

      const startedTags = Metrics.jobLabels(labels, decodeStarted(started))
      const completedTags = [...Metrics.jobLabels(labels, decodeCompleted(completed)), MetricLabel.make("job_result", "succeeded")]
      const startedCount = yield* Metric.value(Metric.taggedWithLabels(Metrics.startedJobsTotal, startedTags))
      assert.strictEqual(startedCount.count, 1)
      const startup = yield* Metric.value(Metric.taggedWithLabels(Metrics.jobStartupDurationSeconds, startedTags))
      assert.strictEqual(startup.count, 1)
      assert.strictEqual(startup.sum, 10)
      const noTimes = yield* Metric.value(
        Metric.taggedWithLabels(Metrics.jobStartupDurationSeconds, Metrics.jobLabels(labels, decodeStarted(startedNoTimes)))
      )
      assert.strictEqual(noTimes.count, 0)
      const completedCount = yield* Metric.value(Metric.taggedWithLabels(Metrics.completedJobsTotal, completedTags))
      assert.strictEqual(completedCount.count, 1)
      const execution = yield* Metric.value(Metric.taggedWithLabels(Metrics.jobExecutionDurationSeconds, completedTags))
      assert.strictEqual(execution.count, 1)
      assert.strictEqual(execution.sum, 60)
      const common = Metrics.commonLabels(labels)
      const assigned = yield* Metric.value(Metric.taggedWithLabels(Metrics.assignedJobs, common))
      assert.strictEqual(assigned.value, 2)
      const desired = yield* Metric.value(Metric.taggedWithLabels(Metrics.desiredRunners, common))
      assert.strictEqual(desired.value, 2)
      const max = yield* Metric.value(Metric.taggedWithLabels(Metrics.maxRunners, common))
      assert.strictEqual(max.value, 10)
    }))
})

describe("Listener spans", () => {
  // the built-in tracer's spans, through a tracer of its own: an installed tracer
  const builtIn = Context.get(DefaultServices.liveServices, Tracer.Tracer)
  const recording = () => {
    const names: Array<string> = []
    const tracer = Tracer.make({
      span: (name, parent, context, links, startTime, kind, options) => {
        names.push(name)
        return builtIn.span(name, parent, context, links, startTime, kind, options)
      },
      context: (f) => f()
    })
    return { names, tracer }
  }
  const currentSpanName = Effect.match(Effect.currentSpan, { onFailure: () => "none", onSuccess: (span) => span.name })

  it.effect("with a tracer, run, its start and every handled message have a span, the handlers' current one", () =>
    Effect.gen(function*() {
      const { names, tracer } = recording()
      const h = yield* makeHarness(scenario({ getMessage: [{ return: fullMessage }] }), { exhaustedGetMessageCancels: true })
      const seen: Array<string> = []
      const fiber = yield* Effect.fork(
        Listener.run(h.session, {
          ...h.scaler,
          handleDesiredRunnerCount: (count) => Effect.as(Effect.tap(currentSpanName, (name) => void seen.push(name)), count),
          handleJobCompleted: () => Effect.asVoid(Effect.tap(currentSpanName, (name) => void seen.push(name)))
        }, { maxRunners: 10, metrics: h.metrics }).pipe(Effect.withTracer(tracer))
      )
      yield* h.setRunFiber(fiber)
      yield* runToEnd(fiber)
      assert.deepStrictEqual(names, ["Listener.run", "Listener.start", "Listener.handleMessage"])
      assert.strictEqual(seen[0], "Listener.start")
      assert.isTrue(seen.slice(1).every((name) => name === "Listener.handleMessage"), seen.join(","))
      assert.isAbove(seen.length, 2)
    }))

  it.effect("under the built-in tracer, which records nothing, the listener makes no span", () =>
    Effect.gen(function*() {
      const h = yield* makeHarness(scenario({ getMessage: [{ return: fullMessage }] }), { exhaustedGetMessageCancels: true })
      const seen: Array<string> = []
      const fiber = yield* Effect.fork(
        Listener.run(h.session, {
          ...h.scaler,
          handleJobCompleted: () => Effect.asVoid(Effect.tap(currentSpanName, (name) => void seen.push(name)))
        }, { maxRunners: 10, metrics: h.metrics }).pipe(Effect.withSpan("app"))
      )
      yield* h.setRunFiber(fiber)
      yield* runToEnd(fiber)
      assert.isAbove(seen.length, 0)
      assert.isTrue(seen.every((name) => name === "app"), seen.join(","))
    }))
})

describe("Listener metrics with fiber labels", () => {
  it.effect("labels from Effect.tagMetrics are added after the listener's own, message after message", () =>
    Effect.gen(function*() {
      const labels: Metrics.Labels = { name: `set-${Math.random().toString(36).slice(2)}` }
      const completed = (id: number) =>
        job("JobCompleted", id, {
          result: "failed",
          runnerId: 1,
          runnerName: "r",
          runnerAssignTime: "2024-05-01T12:00:10Z",
          finishTime: "2024-05-01T12:00:40Z"
        })
      const h = yield* makeHarness(
        scenario({ getMessage: [{ return: msg(1, 1, { completed: [completed(1)] }) }, { return: msg(2, 1, { completed: [completed(2)] }) }] }),
        { exhaustedGetMessageCancels: false }
      )
      yield* Listener.events(h.session, { maxRunners: 3, labels }).pipe(
        Stream.takeUntil((event) => event._tag === "JobCompleted" && event.job.runnerRequestId === 2),
        Stream.runDrain,
        Effect.tagMetrics("host", "h1")
      )
      const host = MetricLabel.make("host", "h1")
      const tags = [...Metrics.jobLabels(labels, decodeCompleted(completed(1))), MetricLabel.make("job_result", "failed"), host]
      const count = yield* Metric.value(Metric.taggedWithLabels(Metrics.completedJobsTotal, tags))
      assert.strictEqual(count.count, 2)
      const execution = yield* Metric.value(Metric.taggedWithLabels(Metrics.jobExecutionDurationSeconds, tags))
      assert.strictEqual(execution.sum, 60)
      const withoutHost = yield* Metric.value(Metric.taggedWithLabels(Metrics.completedJobsTotal, tags.slice(0, -1)))
      assert.strictEqual(withoutHost.count, 0)
      const max = yield* Metric.value(Metric.taggedWithLabels(Metrics.maxRunners, [...Metrics.commonLabels(labels), host]))
      assert.strictEqual(max.value, 3)
    }))
})

describe("Listener.runFromClient", () => {
  it.effect("opens the session in a scope and deletes it when interrupted", () =>
    Effect.gen(function*() {
      const h = yield* makeHarness(scenario({ getMessage: [{ return: null }, { error: { kind: "Cancelled" } }] }), {
        exhaustedGetMessageCancels: false
      })
      const lifecycle: Array<string> = []
      const unused = Effect.dieMessage("unused")
      const client = ScaleSetClient.ScaleSetClient.of({
        config: {
          configUrl: "https://github.com/org",
          url: new URL("https://github.com/org"),
          scope: "Organization",
          enterprise: "",
          organization: "org",
          repository: "",
          isHosted: true
        },
        getRunnerScaleSet: () => unused,
        getRunnerScaleSetById: () => unused,
        createRunnerScaleSet: () => unused,
        updateRunnerScaleSet: () => unused,
        deleteRunnerScaleSet: () => unused,
        getOrCreateRunnerScaleSet: () => unused,
        getRunnerGroupByName: () => unused,
        generateJitRunnerConfig: () => unused,
        getRunner: () => unused,
        getRunnerByName: () => unused,
        removeRunner: () => unused,
        createMessageSession: (scaleSetId, owner) =>
          Effect.acquireRelease(
            Effect.sync(() => {
              lifecycle.push(`create ${scaleSetId} ${owner}`)
              return h.session
            }),
            () => Effect.sync(() => void lifecycle.push("delete"))
          ),
        systemInfo: unused,
        setSystemInfo: () => unused,
        debugInfo: unused,
        tokenRefreshes: unused
      })
      const fiber = yield* Effect.fork(
        Listener.runFromClient(h.scaler, { scaleSetId: 1, owner: "me", maxRunners: 10, metrics: h.metrics }).pipe(
          Effect.provideService(ScaleSetClient.ScaleSetClient, client)
        )
      )
      // the second poll hangs until interrupted
      while (calls(h.log, "client.getMessage").length < 2) yield* Effect.yieldNow()
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(lifecycle, ["create 1 me", "delete"])
    }))
})

describe("Listener undecodable messages", () => {
  const undecodable = new ResponseDecodeError({ method: "GET", url: "https://example.com/queue", status: 200, reason: "job message 0 (JobStarted): queueTime: has the wrong type", messageId: 9 })
  const fakeSession = (getMessage: (lastMessageId: number) => Effect.Effect<Option.Option<ScaleSetSchema.RunnerScaleSetMessage>, ResponseDecodeError>) => {
    const acked: Array<number> = []
    const polls: Array<number> = []
    const session = {
      scaleSetId: 1,
      session: Effect.succeed({
        sessionId: "5c3bb0c2-6f4e-4b43-9f36-1a2b3c4d5e6f",
        ownerName: "o",
        messageQueueUrl: "https://example.com/queue",
        messageQueueAccessToken: Redacted.make("t"),
        statistics: stats(0)
      }),
      getMessage: (lastMessageId: number) => Effect.suspend(() => {
        polls.push(lastMessageId)
        return getMessage(lastMessageId)
      }),
      deleteMessage: (id: number) => Effect.sync(() => void acked.push(id)),
      acquireJobs: (ids: ReadonlyArray<number>) => Effect.succeed(ids),
      refresh: Effect.die("unused"),
      close: Effect.void
    } satisfies MessageSession.MessageSession
    return { session, acked, polls }
  }

  it.live("a body that keeps failing to decode is acknowledged and reported after maxDeliveries, then polling goes on", () =>
    Effect.gen(function*() {
      const fake = fakeSession((last) => (last === 9 ? Effect.succeedNone : Effect.fail(undecodable)))
      const events = yield* Listener.events(fake.session, { maxRunners: 10, retry: Schedule.spaced("1 millis") }).pipe(
        Stream.take(4),
        Stream.runCollect
      )
      const tags = Chunk.toReadonlyArray(events).map((e) => e._tag)
      assert.deepStrictEqual(tags, ["DesiredRunners", "PoisonMessage", "DesiredRunners", "DesiredRunners"])
      const poison = Chunk.toReadonlyArray(events)[1]!
      if (poison._tag === "PoisonMessage") {
        assert.strictEqual(poison.messageId, 9)
        assert.strictEqual(poison.deliveries, 3)
        assert.isTrue(poison.error instanceof ResponseDecodeError, "the event carries the decode error")
        assert.strictEqual((poison.error as ResponseDecodeError).reason, undecodable.reason)
      }
      assert.deepStrictEqual(fake.acked, [9])
      assert.deepStrictEqual(fake.polls.slice(0, 4), [0, 0, 0, 9])
    }))

  it.live("an undecodable answer without a message id is retried as transient, never acknowledged", () =>
    Effect.gen(function*() {
      const garbled = new ResponseDecodeError({ method: "GET", url: "https://example.com/queue", status: 200, reason: "the body is not JSON" })
      let n = 0
      const fake = fakeSession(() => (++n <= 5 ? Effect.fail(garbled) : Effect.succeedNone))
      const events = yield* Listener.events(fake.session, { maxRunners: 10, retry: Schedule.spaced("1 millis") }).pipe(
        Stream.take(2),
        Stream.runCollect
      )
      assert.deepStrictEqual(Chunk.toReadonlyArray(events).map((e) => e._tag), ["DesiredRunners", "DesiredRunners"])
      assert.deepStrictEqual(fake.acked, [])
      assert.strictEqual(fake.polls.length, 6)
    }))
})
