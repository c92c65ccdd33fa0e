import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as Simulator from "../src/Simulator.js"
import { clientFor, collectJobs, ofType } from "./util.js"

const runnerBin = fileURLToPath(new URL("../dist/bin/runner.js", import.meta.url))

/** Runs the runner executable as a child process; resolves with its exit code and output. */
const spawnRunner = (jitConfig: string, onStart: (kill: () => void) => void = () => {}) =>
  Effect.async<{ readonly code: number | null; readonly output: string }>((resume) => {
    const child = spawn(process.execPath, [runnerBin], {
      env: { ...process.env, ACTIONS_RUNNER_INPUT_JITCONFIG: jitConfig },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (d: Buffer) => (output += d.toString()))
    child.stderr.on("data", (d: Buffer) => (output += d.toString()))
    child.on("exit", (code) => resume(Effect.succeed({ code, output })))
    onStart(() => child.kill("SIGTERM"))
    return Effect.sync(() => void child.kill("SIGTERM"))
  })

describe("the full life of a job", () => {
  it.scopedLive("offers, assigns, starts and completes jobs on a function runner and a child process", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make({ longPollHold: "500 millis" })
      const client = yield* clientFor(sim)
      const group = yield* client.getRunnerGroupByName("default")
      assert.strictEqual(group.id, 1)
      const scaleSet = yield* client.createRunnerScaleSet({ name: "linux-set", runnerGroupId: group.id, labels: [{ name: "linux" }] })
      assert.deepStrictEqual(scaleSet.labels, [{ name: "linux", type: "System" }])
      assert.isTrue(Option.isSome(yield* client.getRunnerScaleSet(1, "linux-set")))
      const session = yield* client.createMessageSession(scaleSet.id, "owner-1")
      assert.deepStrictEqual((yield* session.session).statistics?.totalAssignedJobs, 0)

      yield* sim.enqueueJobs({ count: 2, labels: ["linux"], durationMs: 150 })
      yield* sim.enqueueJobs({ count: 1, labels: ["windows"] }) // matches no scale set

      const offered = yield* collectJobs(session, (jobs) => ofType(jobs, "JobAvailable").length >= 2)
      const available = ofType(offered.jobs, "JobAvailable")
      assert.strictEqual(available.length, 2)
      assert.isTrue(available[0]!.acquireJobUrl.endsWith(`/runnerscalesets/${scaleSet.id}/acquirejobs`))
      assert.deepStrictEqual(available[0]!.requestLabels, ["linux"])
      assert.strictEqual(offered.messages[0]!.statistics?.totalAvailableJobs, 2)

      const acquired = yield* session.acquireJobs(available.map((j) => j.runnerRequestId))
      assert.deepStrictEqual([...acquired].sort(), available.map((j) => j.runnerRequestId).sort())
      assert.deepStrictEqual(yield* sim.statistics(scaleSet.id), {
        totalAvailableJobs: 0,
        totalAcquiredJobs: 2,
        totalAssignedJobs: 2,
        totalRunningJobs: 0,
        totalRegisteredRunners: 0,
        totalBusyRunners: 0,
        totalIdleRunners: 0
      })

      const jit1 = yield* client.generateJitRunnerConfig({ name: "runner-fn" }, scaleSet.id)
      const jit2 = yield* client.generateJitRunnerConfig({ name: "runner-proc" }, scaleSet.id)
      const registered = yield* sim.runners
      assert.deepStrictEqual(registered.map((r) => r.status), ["offline", "offline"])
      assert.strictEqual((yield* client.getRunnerByName("runner-fn")).pipe(Option.map((r) => r.runnerScaleSetId), Option.getOrUndefined), scaleSet.id)
      assert.strictEqual((yield* sim.statistics(scaleSet.id)).totalRegisteredRunners, 2)

      const fnRunner = yield* Effect.fork(sim.runRunner(jit1.encodedJITConfig))
      const procRunner = yield* Effect.fork(spawnRunner(Redacted.value(jit2.encodedJITConfig)))

      const rest = yield* collectJobs(session, (jobs) => ofType(jobs, "JobCompleted").length >= 2)
      const assigned = ofType(offered.jobs.concat(rest.jobs), "JobAssigned")
      const started = ofType(rest.jobs, "JobStarted")
      const completed = ofType(rest.jobs, "JobCompleted")
      assert.strictEqual(assigned.length, 2)
      assert.strictEqual(started.length, 2)
      assert.deepStrictEqual(completed.map((j) => j.result), ["succeeded", "succeeded"])
      assert.deepStrictEqual(new Set(started.map((j) => j.runnerName)), new Set(["runner-fn", "runner-proc"]))
      for (const job of completed) {
        assert.isDefined(job.finishTime)
        assert.isDefined(job.runnerAssignTime)
      }

      const outcome = yield* Fiber.join(fnRunner)
      assert.strictEqual(outcome.result, "succeeded")
      const proc = yield* Fiber.join(procRunner)
      assert.strictEqual(proc.code, 0, proc.output)
      assert.include(proc.output, "runner completed")

      // ephemeral runners are gone; only the unmatched job is left, queued
      assert.deepStrictEqual(yield* sim.runners, [])
      const snapshot = yield* sim.snapshot
      assert.deepStrictEqual(snapshot.jobCounts, { queued: 1, available: 0, assigned: 0, running: 0, completed: 2 })
      assert.deepStrictEqual(yield* sim.statistics(scaleSet.id), {
        totalAvailableJobs: 0,
        totalAcquiredJobs: 0,
        totalAssignedJobs: 0,
        totalRunningJobs: 0,
        totalRegisteredRunners: 0,
        totalBusyRunners: 0,
        totalIdleRunners: 0
      })
      yield* session.close
      assert.deepStrictEqual(yield* sim.sessions, [])
      yield* client.deleteRunnerScaleSet(scaleSet.id)
      assert.deepStrictEqual(yield* sim.scaleSets, [])
    }))

  it.scopedLive("a message carries at most 50 job messages and statistics from the model", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make({ longPollHold: "200 millis" })
      const client = yield* clientFor(sim)
      const scaleSet = yield* client.createRunnerScaleSet({ name: "big", runnerGroupId: 1 })
      const session = yield* client.createMessageSession(scaleSet.id, "owner")
      yield* sim.enqueueJobs({ count: 60, labels: ["big"] })
      const first = yield* session.getMessage(0, 100)
      assert.isTrue(Option.isSome(first))
      if (Option.isNone(first)) return
      assert.strictEqual(first.value.jobs.length, 50)
      assert.strictEqual(first.value.statistics?.totalAvailableJobs, 60)
      yield* session.deleteMessage(first.value.messageId)
      const second = yield* session.getMessage(first.value.messageId, 100)
      assert.strictEqual(Option.map(second, (m) => m.jobs.length).pipe(Option.getOrUndefined), 10)
    }))

  it.scopedLive("the capacity the listener sends bounds the jobs offered", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make({ longPollHold: "200 millis" })
      const client = yield* clientFor(sim)
      const scaleSet = yield* client.createRunnerScaleSet({ name: "small", runnerGroupId: 1 })
      const session = yield* client.createMessageSession(scaleSet.id, "owner")
      // the first poll tells the service the capacity; nothing is queued yet
      assert.isTrue(Option.isNone(yield* session.getMessage(0, 3)))
      yield* sim.enqueueJobs({ count: 5 })
      const message = yield* session.getMessage(0, 3)
      assert.strictEqual(Option.map(message, (m) => m.jobs.length).pipe(Option.getOrUndefined), 3)
      assert.strictEqual((yield* sim.jobs("queued")).length, 2)
    }))

  it.scopedLive("SIGTERM to a runner process working on a job reports it canceled and exits 143", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make({ longPollHold: "200 millis" })
      const client = yield* clientFor(sim)
      const scaleSet = yield* client.createRunnerScaleSet({ name: "killed", runnerGroupId: 1 })
      const session = yield* client.createMessageSession(scaleSet.id, "owner")
      yield* sim.enqueueJobs({ count: 1, durationMs: 60_000 })
      const offered = yield* collectJobs(session, (jobs) => ofType(jobs, "JobAvailable").length >= 1)
      yield* session.acquireJobs(ofType(offered.jobs, "JobAvailable").map((j) => j.runnerRequestId))
      const jit = yield* client.generateJitRunnerConfig({}, scaleSet.id)
      let kill = () => {}
      const proc = yield* Effect.fork(spawnRunner(Redacted.value(jit.encodedJITConfig), (k) => (kill = k)))
      yield* sim.waitFor((s) => s.jobCounts.running === 1, { timeout: "10 seconds" })
      kill()
      const exit = yield* Fiber.join(proc)
      assert.strictEqual(exit.code, 143, exit.output)
      const [job] = yield* sim.jobs("completed")
      assert.strictEqual(job?.result, "canceled")
    }))
})
