import * as ScaleSetClient from "@scaleset/core/ScaleSetClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ScaleSetClientTest from "../src/ScaleSetClientTest.js"
import { collectJobs, ofType } from "./util.js"

describe("ScaleSetClientTest", () => {
  it.live("serves the client API in memory: jobs offered, acquired, run by auto-started runners", () =>
    Effect.gen(function*() {
      const client = yield* ScaleSetClient.ScaleSetClient
      const control = yield* ScaleSetClientTest.Control
      const group = yield* client.getRunnerGroupByName("default")
      const scaleSet = yield* client.getOrCreateRunnerScaleSet({ name: "unit", runnerGroupId: group.id })
      assert.strictEqual((yield* client.getOrCreateRunnerScaleSet({ name: "unit", runnerGroupId: group.id })).id, scaleSet.id)
      yield* Effect.scoped(Effect.gen(function*() {
        const session = yield* client.createMessageSession(scaleSet.id, "unit-test")
        assert.strictEqual(yield* control.sessionCount, 1)
        assert.strictEqual((yield* Effect.flip(Effect.scoped(client.createMessageSession(scaleSet.id, "other"))))._tag, "SessionConflict")
        yield* control.enqueueJobs({ count: 3, durationMs: 20 })
        const seen = yield* collectJobs(session, (jobs) => ofType(jobs, "JobCompleted").length >= 3, {
          onMessage: (message) =>
            Effect.gen(function*() {
              const available = ofType(message.jobs, "JobAvailable")
              if (available.length === 0) return
              yield* session.acquireJobs(available.map((j) => j.runnerRequestId))
              for (const _ of available) yield* client.generateJitRunnerConfig({}, scaleSet.id)
            })
        })
        assert.strictEqual(ofType(seen.jobs, "JobStarted").length, 3)
        assert.deepStrictEqual((yield* control.jobs("completed")).map((j) => j.result), ["succeeded", "succeeded", "succeeded"])
        assert.deepStrictEqual(yield* control.runners, [])
      }))
      assert.strictEqual(yield* control.sessionCount, 0)
    }).pipe(Effect.provide(ScaleSetClientTest.layer({ longPollHold: "200 millis" }))))

  it.live("maps service exceptions to the core's typed errors", () =>
    Effect.gen(function*() {
      const client = yield* ScaleSetClient.ScaleSetClient
      const control = yield* ScaleSetClientTest.Control
      const scaleSet = yield* client.createRunnerScaleSet({ name: "errors", runnerGroupId: 1 })
      const jit = yield* client.generateJitRunnerConfig({ name: "r1" }, scaleSet.id)
      assert.strictEqual((yield* Effect.flip(client.generateJitRunnerConfig({ name: "r1" }, scaleSet.id)))._tag, "RunnerExists")
      assert.strictEqual((yield* Effect.flip(client.getRunner(999)))._tag, "RunnerNotFound")
      assert.isTrue(Option.isSome(yield* client.getRunnerByName("r1")))
      const runnerId = Option.getOrThrow(jit.runner).id
      yield* control.enqueueJobs({ count: 1, durationMs: 60_000 })
      yield* Effect.scoped(Effect.gen(function*() {
        const session = yield* client.createMessageSession(scaleSet.id, "owner")
        const message = yield* session.getMessage(0, 5)
        yield* session.acquireJobs(Option.match(message, {
          onNone: () => [],
          onSome: (m) => ofType(m.jobs, "JobAvailable").map((j) => j.runnerRequestId)
        }))
        yield* control.startRunner(runnerId)
        yield* control.waitFor((_, runners) => runners.some((r) => r.status === "busy"))
        assert.strictEqual((yield* Effect.flip(client.removeRunner(runnerId)))._tag, "JobStillRunning")
      }))
      yield* control.deleteScaleSet(scaleSet.id)
      assert.strictEqual((yield* Effect.flip(client.getRunnerScaleSetById(scaleSet.id)))._tag, "ScaleSetNotFound")
    }).pipe(Effect.provide(ScaleSetClientTest.layer({ autoStartRunners: false }))))
})
