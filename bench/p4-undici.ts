// P4 baseline: BENCH_COUNT long polls held with raw undici in this process.
import { Agent, request } from "undici"
import { rssAfterGc, waitForHeld } from "./p4-common.js"

const count = Number(process.env.BENCH_COUNT)
const origin = process.env.BENCH_ORIGIN!

const main = async () => {
  const agent = new Agent()
  await (await request(`${origin}/stats`, { dispatcher: agent })).body.dump()
  const before = rssAfterGc()
  for (let i = 1; i <= count; i++) {
    request(`${origin}/held/${i}`, { dispatcher: agent, headers: { authorization: "Bearer x" } }).catch(() => undefined)
  }
  await waitForHeld(origin, count)
  const after = rssAfterGc()
  process.stdout.write(JSON.stringify({ growthBytes: after - before }))
}
main().then(() => process.exit(0), (error: unknown) => {
  process.stderr.write(`${String(error)}\n`)
  process.exit(1)
})
