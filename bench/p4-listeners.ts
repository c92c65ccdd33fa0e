// P4 subject: BENCH_COUNT listeners in this process, each with its own session and a held long poll:
// `Listener.run` with a scaler (what `scaleset run` does), or with BENCH_MODE=events the event
// stream drained.
import * as Credentials from "@scaleset/core/Credentials"
import type * as MessageSession from "@scaleset/core/MessageSession"
import * as ScaleSetClient from "@scaleset/core/ScaleSetClient"
import * as Listener from "@scaleset/listener/Listener"
import * as NodeScaleSet from "@scaleset/node/NodeScaleSet"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { rssAfterGc, waitForHeld } from "./p4-common.js"

const count = Number(process.env.BENCH_COUNT)
const origin = process.env.BENCH_ORIGIN!
const scaler: Listener.Scaler = {
  handleDesiredRunnerCount: (n) => Effect.succeed(n),
  handleJobStarted: () => Effect.void,
  handleJobCompleted: () => Effect.void
}
const listen = (session: MessageSession.MessageSession) =>
  process.env.BENCH_MODE === "events"
    ? Stream.runDrain(Listener.events(session, { maxRunners: 10 }))
    : Listener.run(session, scaler, { maxRunners: 10 })

const program = Effect.gen(function*() {
  const client = yield* ScaleSetClient.ScaleSetClient
  yield* client.getRunnerScaleSetById(1) // token chain and connection warm, outside the measure
  const before = rssAfterGc()
  yield* Effect.forEach(
    Array.from({ length: count }, (_, i) => i + 1),
    (id) =>
      client.createMessageSession(id, "bench").pipe(
        Effect.flatMap(listen),
        Effect.forkScoped
      ),
    { concurrency: 50, discard: true }
  )
  yield* Effect.promise(() => waitForHeld(origin, count))
  const after = rssAfterGc()
  process.stdout.write(JSON.stringify({ growthBytes: after - before }))
})

const layer = NodeScaleSet.layerClient({ url: process.env.BENCH_CONFIG_URL!, credentials: Credentials.personalAccessToken("bench-pat") })
Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(layer))).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
