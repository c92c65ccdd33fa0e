// The README's quick start, compiled with the examples so it stays true. Run: GITHUB_TOKEN=… node examples/dist/quickstart/main.js
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Credentials, ScaleSetClient } from "@scaleset/core"
import { Listener } from "@scaleset/listener"
import { Effect, Layer, Redacted } from "effect"

const ClientLive = ScaleSetClient.layer({
  url: "https://github.com/my-org",
  credentials: Credentials.personalAccessToken(Redacted.make(process.env.GITHUB_TOKEN!))
}).pipe(Layer.provide(NodeHttpClient.layerUndici))

const program = Effect.gen(function*() {
  const client = yield* ScaleSetClient.ScaleSetClient
  const group = yield* client.getRunnerGroupByName(ScaleSetClient.DEFAULT_RUNNER_GROUP)
  const scaleSet = yield* client.getOrCreateRunnerScaleSet({ name: "my-scale-set", runnerGroupId: group.id })
  const session = yield* client.createMessageSession(scaleSet.id, "my-host") // deleted when the scope closes

  yield* Listener.run(session, {
    // count = jobs waiting plus running (statistics.totalAssignedJobs), not capped by maxRunners:
    // start or stop runners here to reach min(maxRunners, minRunners + count), and return how many run
    handleDesiredRunnerCount: (count) => Effect.succeed(Math.min(10, count)),
    handleJobStarted: (job) => Effect.log(`started ${job.jobDisplayName} on ${job.runnerName}`),
    handleJobCompleted: (job) => Effect.log(`completed ${job.jobDisplayName}: ${job.result}`)
  }, { maxRunners: 10 })
})

program.pipe(Effect.scoped, Effect.provide(ClientLive), NodeRuntime.runMain)
