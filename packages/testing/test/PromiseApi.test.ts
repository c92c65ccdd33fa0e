import * as Credentials from "@scaleset/core/Credentials"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { Simulator as SimulatorModule, startSimulator } from "../src/index.js"
import { clientFor, collectJobs, ofType } from "./util.js"

describe("startSimulator (Promise API)", () => {
  it.live("starts, serves a scaler's life, reports through plain functions, and stops", () =>
    Effect.gen(function*() {
      const sim = yield* Effect.promise(() => startSimulator({ longPollHold: 300, organization: "acme" }))
      try {
        assert.match(sim.url, /^http:\/\/127\.0\.0\.1:\d+\/acme$/)
        const scaleSetId = sim.createScaleSet({ name: "promised", labels: ["promised"] })
        const changes: Array<number> = []
        const unsubscribe = sim.onChange(() => changes.push(sim.jobs().length))
        const ids = yield* Effect.promise(() => sim.workload([{ count: 2, labels: ["promised"], durationMs: 50 }, { afterMs: 50, count: 1 }]))
        unsubscribe()
        assert.strictEqual(ids.length, 3)
        assert.isTrue(changes.length > 0)

        // a client, and the Promise runner
        yield* Effect.scoped(Effect.gen(function*() {
          const client = yield* clientFor({ url: sim.url, credentials: Credentials.personalAccessToken(sim.pat) })
          const session = yield* client.createMessageSession(scaleSetId, "owner")
          const offered = yield* collectJobs(session, (jobs) => ofType(jobs, "JobAvailable").length >= 2)
          yield* session.acquireJobs(ofType(offered.jobs, "JobAvailable").map((j) => j.runnerRequestId))
          const jit = yield* client.generateJitRunnerConfig({}, scaleSetId)
          const outcome = yield* Effect.promise(() => sim.runRunner(Redacted.value(jit.encodedJITConfig)))
          assert.strictEqual(outcome.result, "succeeded")
        }))
        assert.deepStrictEqual(sim.jobs("completed").length, 1)
        const release = sim.holdSession(scaleSetId, "someone")
        assert.strictEqual(sim.sessions()[0]?.ownerName, "someone")
        release()
        assert.deepStrictEqual(sim.sessions(), [])
        const pending = sim.waitFor((s) => s.jobCounts.completed === 3, 200, "three completed jobs")
        const error = yield* Effect.flip(Effect.tryPromise(() => pending))
        assert.include(String(error.error), "timed out after 200 ms waiting for three completed jobs")
        assert.include(sim.appPrivateKey(), "BEGIN RSA PRIVATE KEY")
      } finally {
        yield* Effect.promise(() => sim.stop())
      }
      const refused = yield* Effect.flip(Effect.tryPromise(() => fetch(sim.url)))
      assert.isDefined(refused)
    }))
})

// the layer form, shared by the tests of a block
layer(SimulatorModule.layer({ longPollHold: "200 millis" }))("Simulator.layer", (it) => {
  it.scoped("provides the simulator to every test of the block", () =>
    Effect.gen(function*() {
      const sim = yield* SimulatorModule.Simulator
      const ids = yield* sim.enqueueJobs({ count: 2 })
      assert.strictEqual(ids.length, 2)
      assert.deepStrictEqual((yield* sim.snapshot).jobCounts.queued, 2)
    }))
})

describe("a workload over time with a session that keeps up", () => {
  it.scopedLive("bursts are offered as they arrive", () =>
    Effect.gen(function*() {
      const sim = yield* SimulatorModule.make({ longPollHold: "1 second" })
      const client = yield* clientFor(sim)
      const scaleSet = yield* client.createRunnerScaleSet({ name: "bursty", runnerGroupId: 1 })
      const session = yield* client.createMessageSession(scaleSet.id, "owner")
      yield* Effect.fork(sim.workload([{ count: 2 }, { afterMs: 200, count: 3 }]))
      const seen = yield* collectJobs(session, (jobs) => ofType(jobs, "JobAvailable").length >= 5)
      assert.isAtLeast(seen.messages.length, 2)
      assert.strictEqual(Option.getOrUndefined(Option.fromNullable(seen.messages.at(-1)?.statistics?.totalAvailableJobs)), 5)
    }))
})
