// P5 baseline: a fresh process doing the same three requests with undici.
import { request } from "undici"

const origin = process.env.BENCH_ORIGIN!
const post = (path: string, headers: Record<string, string>, body?: string) =>
  request(`${origin}${path}`, { method: "POST", headers, ...(body === undefined ? {} : { body }) }).then((r) => r.body.json())

const main = async () => {
  const reg = (await post("/api/v3/orgs/bench-org/actions/runners/registration-token", { authorization: "Bearer bench-pat" }, "")) as { token: string }
  const admin = (await post("/api/v3/actions/runner-registration", { authorization: `RemoteAuth ${reg.token}`, "content-type": "application/json" }, JSON.stringify({ url: `${origin}/bench-org`, runner_event: "register" }))) as { url: string; token: string }
  const res = await request(`${admin.url}_apis/runtime/runnerscalesets/1?api-version=6.0-preview`, { headers: { authorization: `Bearer ${admin.token}` } })
  await res.body.json()
}
main().then(() => process.exit(0), (error: unknown) => {
  process.stderr.write(`${String(error)}\n`)
  process.exit(1)
})
