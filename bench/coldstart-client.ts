// P5 subject: a fresh process that imports the Promise facade (a single-file bundle), creates its
// client, runs the token chain and one call: what a user who does not run Effect cold-starts.
import { Client } from "@scaleset/node/facade"

const main = async () => {
  const client = await Client.createWithPersonalAccessToken({ gitHubConfigURL: process.env.BENCH_CONFIG_URL!, personalAccessToken: "bench-pat" })
  await client.getRunnerScaleSetById(1)
}
main().then(() => process.exit(0), (error: unknown) => {
  process.stderr.write(`${String(error)}\n`)
  process.exit(1)
})
