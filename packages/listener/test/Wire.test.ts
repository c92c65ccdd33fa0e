/**
 * The listener on the wire: the simulator as the service, real undici, a child process.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Credentials, ScaleSetClient } from "@scaleset/core"
import { Listener } from "@scaleset/listener"
import type { ScalingEvent } from "@scaleset/listener/ScalingEvent"
import { Faults, startSimulator, type Simulator } from "@scaleset/testing"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

let sim: Simulator.SimulatorHandle
beforeAll(async () => {
  sim = await startSimulator({ longPollHold: 300 })
})
afterAll(async () => {
  await sim.stop()
})

const clientIn = Effect.gen(function*() {
  const layer = ScaleSetClient.layer({ url: sim.url, credentials: Credentials.personalAccessToken(sim.pat) }).pipe(
    Layer.provide(NodeHttpClient.layerUndici)
  )
  return Context.get(yield* Layer.build(layer), ScaleSetClient.ScaleSetClient)
})

describe("Listener against the simulator", () => {
  it.scopedLive("a message whose handling keeps failing is delivered 3 times, then acknowledged and reported", () =>
    Effect.gen(function*() {
      const client = yield* clientIn
      const id = sim.createScaleSet({ name: "poison-set" })
      const session = yield* client.createMessageSession(id, "poison")
      sim.enqueueJobs({ count: 1, labels: ["poison-set"] })
      const deliveries: Array<number> = []
      const events = yield* Listener.eventsWith(session, (event: ScalingEvent) =>
        event._tag === "JobAvailable"
          ? Effect.sync(() => deliveries.push(event.messageId)).pipe(Effect.zipRight(Effect.fail("scaler down")))
          : Effect.void, { maxRunners: 5, redeliveryDelay: "10 millis" }).pipe(
        Stream.takeUntil((e) => e._tag === "PoisonMessage"),
        Stream.runCollect
      )
      const poison = Chunk.last(events)
      assert.strictEqual(poison._tag === "Some" && poison.value._tag, "PoisonMessage")
      assert.strictEqual(deliveries.length, 3)
      assert.strictEqual(new Set(deliveries).size, 1, "the same message each time")
      const acks = sim.requests({ route: "messages.delete" }).filter((r) => r.path.endsWith(`/${deliveries[0]}`))
      assert.strictEqual(acks.length, 1, "acknowledged once, after the third delivery")
    }))

  it.scopedLive("a 200 with an empty body does not end the stream: it is retried and the loop goes on", () =>
    Effect.gen(function*() {
      const client = yield* clientIn
      const id = sim.createScaleSet({ name: "empty-body-set" })
      const session = yield* client.createMessageSession(id, "empty")
      sim.inject(Faults.rule({ route: "messages.get" }, Faults.emptyBody, { times: 2 }))
      sim.enqueueJobs({ count: 1, labels: ["empty-body-set"] })
      const events = yield* Listener.events(session, { maxRunners: 5, retry: Schedule.spaced("10 millis") }).pipe(
        Stream.takeUntil((e) => e._tag === "JobAvailable"),
        Stream.runCollect
      )
      assert.strictEqual(Chunk.unsafeLast(events)._tag, "JobAvailable")
      assert.isAtLeast(sim.requests({ route: "messages.get" }).filter((r) => r.fault === "EmptyBody").length, 2)
    }))
})

const child = fileURLToPath(new URL("./fixtures/listener-child.mjs", import.meta.url))

describe("a listener in a child process", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`exits on ${signal}, and the server saw the session deleted before the process ended`, async () => {
      const id = sim.createScaleSet({ name: `child-${signal}` })
      const proc = spawn(process.execPath, [child], {
        env: { ...process.env, SCALESET_URL: sim.url, SCALESET_TOKEN: sim.pat, SCALE_SET_ID: String(id) },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      const listening = new Promise<void>((resolve) =>
        proc.stdout.on("data", (d: Buffer) => {
          output += d.toString()
          if (output.includes("desired")) resolve()
        })
      )
      proc.stderr.on("data", (d: Buffer) => (output += d.toString()))
      const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)))
      await listening
      const session = sim.sessions().find((s) => s.scaleSetId === id)
      assert.isDefined(session, output)
      proc.kill(signal)
      await exited
      const deletes = sim.requests({ route: "sessions.delete" }).filter((r) => r.path.endsWith(`/${session!.sessionId}`))
      assert.strictEqual(deletes.length, 1, output)
      assert.strictEqual(deletes[0]!.status, 204)
      assert.isFalse(sim.sessions().some((s) => s.scaleSetId === id))
    }, 30_000)
  }
})
