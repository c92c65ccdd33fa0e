import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Faults from "../src/Faults.js"
import * as SimulatedRunner from "../src/SimulatedRunner.js"
import * as Simulator from "../src/Simulator.js"
import { clientFor } from "./util.js"

describe("faults", () => {
  it.scopedLive("a status sequence with Retry-After on generatejitconfig is retried through", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make()
      const client = yield* clientFor(sim)
      const scaleSet = yield* client.createRunnerScaleSet({ name: "flaky", runnerGroupId: 1 })
      yield* sim.statusSequence("generateJitConfig", [503, 429], { retryAfter: 0 })
      const jit = yield* client.generateJitRunnerConfig({ name: "r" }, scaleSet.id)
      assert.isTrue(Option.isSome(jit.runner))
      const calls = yield* sim.requests({ route: "generateJitConfig" })
      assert.deepStrictEqual(calls.map((r) => `${r.status}:${r.fault ?? "-"}`), ["503:Status", "429:Status", "200:-"])
      // the faulted calls registered nothing: one runner
      assert.strictEqual((yield* sim.runners).length, 1)
    }))

  it.scopedLive("a 4xx fault is final; a reset and latency are survived", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make()
      const client = yield* clientFor(sim)
      yield* sim.inject(Faults.rule("runnerGroups.list", Faults.status(400, { body: "plain failure" })))
      const error = yield* Effect.flip(client.getRunnerGroupByName("default"))
      assert.include(error.message, "plain failure")
      yield* sim.inject([Faults.rule("runnerGroups.list", Faults.reset), Faults.rule("runnerGroups.list", Faults.latency(150))])
      const group = yield* client.getRunnerGroupByName("default")
      assert.strictEqual(group.id, 1)
      assert.deepStrictEqual((yield* sim.requests({ route: "runnerGroups.list" })).map((r) => r.status), [400, 0, 200])
    }))

  it.scopedLive("a BOM is ignored; a garbled or empty body is a decode error", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make({ longPollHold: "100 millis" })
      const client = yield* clientFor(sim)
      const scaleSet = yield* client.createRunnerScaleSet({ name: "bodies", runnerGroupId: 1 })
      yield* sim.inject(Faults.rule("scaleSets.get", Faults.bom))
      const found = yield* client.getRunnerScaleSetById(scaleSet.id)
      assert.strictEqual(Option.map(found, (s) => s.name).pipe(Option.getOrUndefined), "bodies")
      yield* sim.inject(Faults.rule({ route: "scaleSets.get", method: "GET" }, Faults.garbled))
      assert.strictEqual((yield* Effect.flip(client.getRunnerScaleSetById(scaleSet.id)))._tag, "ResponseDecodeError")
      const session = yield* client.createMessageSession(scaleSet.id, "owner")
      yield* sim.enqueueJobs({ count: 1 })
      yield* sim.inject(Faults.rule({ path: "/mq/messages" }, Faults.emptyBody))
      assert.strictEqual((yield* Effect.flip(session.getMessage(0, 10)))._tag, "ResponseDecodeError")
      // the message was not lost: it is delivered again
      assert.isTrue(Option.isSome(yield* session.getMessage(0, 10)))
    }))
})

describe("runners", () => {
  it.scopedLive("JIT names are unique, a JIT config works once, busy runners cannot be removed, absent ones are 204", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make({ longPollHold: "100 millis" })
      const client = yield* clientFor(sim)
      const scaleSet = yield* client.createRunnerScaleSet({ name: "runners", runnerGroupId: 1 })
      const jit = yield* client.generateJitRunnerConfig({ name: "only-one" }, scaleSet.id)
      const exists = yield* Effect.flip(client.generateJitRunnerConfig({ name: "only-one" }, scaleSet.id))
      assert.strictEqual(exists._tag, "RunnerExists")

      const session = yield* client.createMessageSession(scaleSet.id, "owner")
      yield* sim.enqueueJobs({ count: 1, durationMs: 5_000 })
      const offered = yield* session.getMessage(0, 10)
      const ids = Option.match(offered, {
        onNone: () => [],
        onSome: (m) => m.jobs.flatMap((j) => (j.messageType === "JobAvailable" ? [j.runnerRequestId] : []))
      })
      yield* session.acquireJobs(ids)
      const runner = yield* Effect.fork(sim.runRunner(jit.encodedJITConfig))
      const busy = yield* sim.waitFor((s) => s.runners.some((r) => r.status === "busy"), { timeout: "5 seconds" })
      const runnerId = busy.runners[0]!.id
      assert.strictEqual((yield* Effect.flip(client.removeRunner(runnerId)))._tag, "JobStillRunning")
      assert.strictEqual((yield* sim.statistics(scaleSet.id)).totalBusyRunners, 1)

      // the secret was used: a second runner with the same config is refused
      const again = yield* Effect.flip(sim.runRunner(jit.encodedJITConfig))
      assert.strictEqual(again._tag, "SimulatedRunnerError")
      assert.strictEqual(again.status, 401)

      // interrupting the runner reports the job canceled
      yield* Fiber.interrupt(runner)
      const done = yield* sim.waitFor((s) => s.jobCounts.completed === 1, { timeout: "5 seconds" })
      assert.strictEqual(done.jobs[0]!.result, "canceled")
      yield* client.removeRunner(runnerId)
      assert.strictEqual((yield* Effect.flip(client.getRunner(runnerId)))._tag, "RunnerNotFound")
    }))

  it.scopedLive("a runner removed before it gets a job exits without one", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make()
      const client = yield* clientFor(sim)
      const scaleSet = yield* client.createRunnerScaleSet({ name: "idle", runnerGroupId: 1 })
      const jit = yield* client.generateJitRunnerConfig({}, scaleSet.id)
      const runner = yield* Effect.fork(SimulatedRunner.run(jit.encodedJITConfig))
      const idle = yield* sim.waitFor((s) => s.runners.some((r) => r.status === "idle"), { timeout: "5 seconds" })
      assert.strictEqual((yield* sim.statistics(scaleSet.id)).totalIdleRunners, 1)
      yield* client.removeRunner(idle.runners[0]!.id)
      const outcome = yield* Fiber.join(runner)
      assert.isUndefined(outcome.jobId)

      // a runner killed while idle goes offline and stays registered until removed
      const jit2 = yield* client.generateJitRunnerConfig({ name: "killed-idle" }, scaleSet.id)
      const second = yield* Effect.fork(SimulatedRunner.run(jit2.encodedJITConfig))
      yield* sim.waitFor((s) => s.runners.some((r) => r.status === "idle"), { timeout: "5 seconds" })
      yield* Fiber.interrupt(second)
      assert.deepStrictEqual((yield* sim.runners).map((r) => `${r.name}:${r.status}`), ["killed-idle:offline"])
    }))

  it.scopedLive("runner groups: default and configured ones; scale set names are unique per group", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make({ runnerGroups: ["gpu"] })
      const client = yield* clientFor(sim)
      const gpu = yield* client.getRunnerGroupByName("gpu")
      assert.deepStrictEqual({ id: gpu.id, isDefaultGroup: gpu.isDefaultGroup }, { id: 2, isDefaultGroup: false })
      assert.strictEqual((yield* Effect.flip(client.getRunnerGroupByName("nope")))._tag, "RunnerGroupNotFound")
      yield* client.createRunnerScaleSet({ name: "same", runnerGroupId: 1 })
      const inGpu = yield* client.createRunnerScaleSet({ name: "same", runnerGroupId: gpu.id })
      assert.strictEqual(inGpu.runnerGroupName, "gpu")
      const dup = yield* Effect.flip(client.createRunnerScaleSet({ name: "same", runnerGroupId: 1 }))
      assert.include(dup.message, "409")
      const updated = yield* client.updateRunnerScaleSet(inGpu.id, { labels: [{ name: "cuda" }] })
      assert.deepStrictEqual(updated.labels, [{ name: "cuda", type: "System" }])
    }))
})
