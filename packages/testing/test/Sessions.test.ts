import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Faults from "../src/Faults.js"
import * as Simulator from "../src/Simulator.js"
import { clientFor, collectJobs, ofType } from "./util.js"

describe("sessions and the message queue", () => {
  it.scopedLive("a second session on a scale set is a 409 conflict until the first is gone", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make({ longPollHold: "100 millis" })
      const client = yield* clientFor(sim)
      const scaleSet = yield* client.createRunnerScaleSet({ name: "conflicted", runnerGroupId: 1 })
      const first = yield* client.createMessageSession(scaleSet.id, "first")
      const error = yield* Effect.flip(Effect.scoped(client.createMessageSession(scaleSet.id, "second")))
      assert.strictEqual(error._tag, "SessionConflict")
      assert.strictEqual((yield* sim.requests({ route: "sessions.create" })).map((r) => r.status).join(","), "200,409")
      yield* first.close
      assert.deepStrictEqual(yield* sim.sessions, [])
      yield* Effect.scoped(client.createMessageSession(scaleSet.id, "second"))
      // the scoped session was deleted on release
      assert.deepStrictEqual(yield* sim.sessions, [])
    }))

  it.scopedLive("holdSession makes creates conflict until its scope closes", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make({ longPollHold: "100 millis" })
      const client = yield* clientFor(sim)
      const scaleSet = yield* client.createRunnerScaleSet({ name: "held", runnerGroupId: 1 })
      yield* Effect.scoped(Effect.gen(function*() {
        yield* sim.holdSession(scaleSet.id, "previous-process")
        const error = yield* Effect.flip(Effect.scoped(client.createMessageSession(scaleSet.id, "me")))
        assert.strictEqual(error._tag, "SessionConflict")
        assert.include(error.message, "previous-process")
      }))
      yield* Effect.scoped(client.createMessageSession(scaleSet.id, "me"))
    }))

  it.scopedLive("an unacknowledged message is delivered again; an acknowledged one is not", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make({ longPollHold: "100 millis" })
      const client = yield* clientFor(sim)
      const scaleSet = yield* client.createRunnerScaleSet({ name: "redeliver", runnerGroupId: 1 })
      const session = yield* client.createMessageSession(scaleSet.id, "owner")
      yield* sim.enqueueJobs({ count: 2 })
      const first = yield* session.getMessage(0, 10)
      const again = yield* session.getMessage(0, 10)
      assert.isTrue(Option.isSome(first) && Option.isSome(again))
      if (Option.isNone(first) || Option.isNone(again)) return
      assert.strictEqual(again.value.messageId, first.value.messageId)
      assert.deepStrictEqual(again.value.jobs, first.value.jobs)
      assert.deepStrictEqual((yield* sim.scaleSets)[0]!.unacknowledgedMessages, [first.value.messageId])
      yield* session.deleteMessage(first.value.messageId)
      assert.deepStrictEqual((yield* sim.scaleSets)[0]!.unacknowledgedMessages, [])
      assert.isTrue(Option.isNone(yield* session.getMessage(0, 10)))
    }))

  it.scopedLive("an assignment no runner takes is canceled and requeued, at most 3 times", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make({ longPollHold: "1 second", assignmentTimeout: "250 millis" })
      const client = yield* clientFor(sim)
      const scaleSet = yield* client.createRunnerScaleSet({ name: "nobody-home", runnerGroupId: 1 })
      const session = yield* client.createMessageSession(scaleSet.id, "owner")
      const [jobId] = yield* sim.enqueueJobs({ count: 1, durationMs: 10 })
      // the listener acquires every offer, but no runner ever comes
      const seen = yield* collectJobs(
        session,
        (jobs) => ofType(jobs, "JobCompleted").length >= 4,
        {
          onMessage: (message) =>
            session.acquireJobs(ofType(message.jobs, "JobAvailable").map((j) => j.runnerRequestId)).pipe(Effect.asVoid)
        }
      )
      const offers = ofType(seen.jobs, "JobAvailable")
      const canceled = ofType(seen.jobs, "JobCompleted")
      assert.strictEqual(offers.length, 4)
      assert.strictEqual(new Set(offers.map((o) => o.runnerRequestId)).size, 4)
      assert.isTrue(offers.every((o) => o.jobId === jobId))
      assert.deepStrictEqual(canceled.map((c) => c.result), ["canceled", "canceled", "canceled", "canceled"])
      assert.strictEqual(ofType(seen.jobs, "JobAssigned").length, 4)
      const [job] = yield* sim.jobs()
      assert.strictEqual(job?.state, "completed")
      assert.strictEqual(job?.result, "canceled")
      assert.strictEqual(job?.cancellations, 4)
      assert.strictEqual((yield* sim.statistics(scaleSet.id)).totalAssignedJobs, 0)
    }))

  it.scopedLive("a requeued job is started when a runner comes in time", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make({ longPollHold: "1 second", assignmentTimeout: "300 millis" })
      const client = yield* clientFor(sim)
      const scaleSet = yield* client.createRunnerScaleSet({ name: "late-runner", runnerGroupId: 1 })
      const session = yield* client.createMessageSession(scaleSet.id, "owner")
      yield* sim.enqueueJobs({ count: 1, durationMs: 10 })
      let offers = 0
      const seen = yield* collectJobs(session, (jobs) => ofType(jobs, "JobCompleted").some((j) => j.result === "succeeded"), {
        onMessage: (message) =>
          Effect.gen(function*() {
            const available = ofType(message.jobs, "JobAvailable")
            if (available.length === 0) return
            offers++
            yield* session.acquireJobs(available.map((j) => j.runnerRequestId))
            // the runner comes only for the second offer
            if (offers === 2) {
              const jit = yield* client.generateJitRunnerConfig({}, scaleSet.id)
              yield* Effect.forkDaemon(sim.runRunner(jit.encodedJITConfig))
            }
          })
      })
      assert.deepStrictEqual(ofType(seen.jobs, "JobCompleted").map((j) => j.result), ["canceled", "succeeded"])
      assert.strictEqual(ofType(seen.jobs, "JobStarted").length, 1)
    }))

  it.scopedLive("an expired queue token gets 401; the client refreshes the session and goes on", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make({ longPollHold: "100 millis" })
      const client = yield* clientFor(sim)
      const scaleSet = yield* client.createRunnerScaleSet({ name: "expiring", runnerGroupId: 1 })
      const session = yield* client.createMessageSession(scaleSet.id, "owner")
      const before = yield* session.session
      yield* sim.expireTokens({ queue: true })
      yield* sim.enqueueJobs({ count: 1 })
      const message = yield* session.getMessage(0, 10)
      assert.isTrue(Option.isSome(message))
      const after = yield* session.session
      assert.strictEqual(after.sessionId, before.sessionId)
      const statuses = (yield* sim.requests()).filter((r) => r.route === "messages.get" || r.route === "sessions.refresh")
        .map((r) => `${r.route}:${r.status}`)
      assert.deepStrictEqual(statuses, ["messages.get:401", "sessions.refresh:200", "messages.get:200"])
      // acquire jobs also uses the queue token
      yield* sim.expireTokens({ queue: true })
      if (Option.isSome(message)) {
        const acquired = yield* session.acquireJobs(ofType(message.value.jobs, "JobAvailable").map((j) => j.runnerRequestId))
        assert.strictEqual(acquired.length, 1)
      }
    }))

  it.scopedLive("queue tokens expire by their exp claim too", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make({ longPollHold: "100 millis", queueTokenTtl: "1 second" })
      const client = yield* clientFor(sim)
      const scaleSet = yield* client.createRunnerScaleSet({ name: "short-lived", runnerGroupId: 1 })
      const session = yield* client.createMessageSession(scaleSet.id, "owner")
      yield* Effect.sleep("2100 millis")
      assert.isTrue(Option.isNone(yield* session.getMessage(0, 10)))
      assert.deepStrictEqual((yield* sim.requests({ route: "sessions.refresh" })).map((r) => r.status), [200])
    }))

  it.scopedLive("admin tokens: refreshed before exp by the client; refused (401) once expired", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make({ adminTokenTtl: "62 seconds" })
      const client = yield* clientFor(sim)
      yield* client.getRunnerGroupByName("default")
      assert.strictEqual(yield* client.tokenRefreshes, 1)
      // fresh for about 2 s (the client refreshes 60 s before exp)
      yield* Effect.sleep("2100 millis")
      yield* client.getRunnerGroupByName("default")
      assert.strictEqual(yield* client.tokenRefreshes, 2)
      assert.strictEqual((yield* sim.requests({ route: "runnerRegistration" })).length, 2)

      const longLived = yield* clientFor(sim)
      yield* longLived.getRunnerGroupByName("default")
      yield* sim.expireTokens({ admin: true })
      const error = yield* Effect.flip(longLived.getRunnerGroupByName("default"))
      assert.strictEqual(error._tag, "ScaleSetApiError")
      assert.strictEqual("status" in error ? error.status : undefined, 401)
    }))

  it.scopedLive("a scale set deleted behind the client's back: 404 for it and its session", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make({ longPollHold: "2 seconds" })
      const client = yield* clientFor(sim)
      const scaleSet = yield* client.createRunnerScaleSet({ name: "doomed", runnerGroupId: 1 })
      const session = yield* client.createMessageSession(scaleSet.id, "owner")
      const poll = yield* Effect.fork(Effect.flip(session.getMessage(0, 10)))
      yield* Effect.sleep("100 millis")
      yield* sim.deleteScaleSet(scaleSet.id)
      const pollError = yield* poll
      assert.include(pollError.message, "404")
      const error = yield* Effect.flip(client.getRunnerScaleSetById(scaleSet.id))
      assert.strictEqual(error._tag, "ScaleSetNotFound")
      assert.isTrue(Option.isNone(yield* client.getRunnerScaleSet(1, "doomed")))
      assert.deepStrictEqual(yield* sim.sessions, [])
    }))

  it.scopedLive("the session of a listener that stopped polling expires; a new one can be created", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make({ longPollHold: "100 millis", sessionIdleTimeout: "400 millis" })
      const client = yield* clientFor(sim)
      const scaleSet = yield* client.createRunnerScaleSet({ name: "abandoned", runnerGroupId: 1 })
      // a poller keeps its session alive…
      yield* Effect.scoped(Effect.gen(function*() {
        const session = yield* client.createMessageSession(scaleSet.id, "alive")
        for (let i = 0; i < 8; i++) yield* session.getMessage(0, 1)
        assert.strictEqual((yield* sim.sessions).length, 1)
      }))
      // …an abandoned one (held by nobody, never polled) goes away
      yield* sim.inject(Faults.rule("sessions.delete", Faults.status(500), { times: Infinity }))
      yield* Effect.scoped(client.createMessageSession(scaleSet.id, "crashed")).pipe(Effect.ignore)
      assert.strictEqual((yield* sim.sessions).length, 1)
      yield* sim.waitFor((s) => s.sessions.length === 0, { timeout: "5 seconds" })
      yield* sim.clearFaults
      yield* Effect.scoped(client.createMessageSession(scaleSet.id, "restarted"))
    }))
})
