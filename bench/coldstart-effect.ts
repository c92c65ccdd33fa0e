// P5 note: the same cold start through the Effect API, unbundled (an Effect app loads effect itself).
import * as Credentials from "@scaleset/core/Credentials"
import * as ScaleSetClient from "@scaleset/core/ScaleSetClient"
import * as NodeScaleSet from "@scaleset/node/NodeScaleSet"
import * as Effect from "effect/Effect"

const program = Effect.flatMap(ScaleSetClient.ScaleSetClient, (client) => client.getRunnerScaleSetById(1))
const layer = NodeScaleSet.layerClient({
  url: process.env.BENCH_CONFIG_URL!,
  credentials: Credentials.personalAccessToken("bench-pat")
})

Effect.runPromise(Effect.provide(program, layer)).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
