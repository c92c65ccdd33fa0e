/**
 * A minimal loopback fake of the service for benchmarks: fixed answers, no model, so the figures
 * measure the client, not the server. Both the subject and the baseline talk to it.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface BenchServer {
  readonly origin: string
  readonly configUrl: string
  /** Requests seen, by label. */
  readonly counts: Map<string, number>
  readonly setAdminExp: (secondsFromNow: number) => void
  readonly close: () => Promise<void>
}

export interface BenchServerOptions {
  /** Delay before answering generatejitconfig. */
  readonly jitDelayMs?: number
  /** The queue answer: a message (given its sequence number), or "hold" to keep long polls open until close. */
  readonly queue?: { readonly message: (n: number) => string } | "hold"
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
export const fakeJwt = (exp: number) => `${b64({ alg: "RS256", typ: "JWT" })}.${b64({ exp })}.c2ln`

export const startBenchServer = (options: BenchServerOptions = {}): Promise<BenchServer> =>
  new Promise((resolve) => {
    const counts = new Map<string, number>()
    let adminExp = Math.floor(Date.now() / 1000) + 3600
    const held = new Set<http.ServerResponse>()
    const count = (label: string) => counts.set(label, (counts.get(label) ?? 0) + 1)
    const json = (res: http.ServerResponse, status: number, body: unknown) => {
      const text = JSON.stringify(body)
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
      res.end(text)
    }
    const server = http.createServer((req, res) => {
      const url = req.url ?? "/"
      const path = url.split("?")[0]!
      req.resume()
      if (path.endsWith("/registration-token")) {
        count("registration-token")
        return json(res, 201, { token: "reg-token", expires_at: "2099-01-01T00:00:00Z" })
      }
      if (path.endsWith("/actions/runner-registration")) {
        count("runner-registration")
        return json(res, 201, { url: `${origin}/tenant/1/`, token: fakeJwt(adminExp) })
      }
      if (path.endsWith("/generatejitconfig")) {
        count("jit")
        const answer = () =>
          json(res, 200, { runner: { id: 7, name: "runner-7", runnerScaleSetId: 1 }, encodedJITConfig: "ZW5jb2RlZA==" })
        return options.jitDelayMs ? void setTimeout(answer, options.jitDelayMs) : answer()
      }
      if (/\/sessions$/.test(path) && req.method === "POST") {
        count("session")
        const id = path.split("/").at(-2)
        return json(res, 200, {
          sessionId: `00000000-0000-4000-8000-${String(id).padStart(12, "0")}`,
          ownerName: "bench",
          runnerScaleSet: { id: Number(id), name: `bench-${id}` },
          messageQueueUrl: `${origin}/queue/${id}`,
          messageQueueAccessToken: fakeJwt(adminExp),
          statistics: { totalAssignedJobs: 0 }
        })
      }
      if (/\/sessions\//.test(path) && req.method === "DELETE") {
        count("session-delete")
        res.writeHead(204).end()
        return
      }
      if (path === "/stats") return json(res, 200, { ...Object.fromEntries(counts), heldNow: held.size })
      if (path.startsWith("/held")) {
        count("held")
        held.add(res)
        res.on("close", () => held.delete(res))
        return
      }
      if (path.startsWith("/queue/")) {
        if (req.method === "DELETE") {
          count("ack")
          res.writeHead(204).end()
          return
        }
        count("poll")
        if (options.queue === "hold" || options.queue === undefined) {
          held.add(res)
          res.on("close", () => held.delete(res))
          return
        }
        const text = options.queue.message(counts.get("poll") ?? 0)
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
        res.end(text)
        return
      }
      if (/\/runnerscalesets\/\d+$/.test(path)) {
        count("scaleset")
        return json(res, 200, { id: 1, name: "bench", runnerGroupId: 1, runnerGroupName: "default", labels: [{ type: "System", name: "bench" }] })
      }
      count("other")
      json(res, 404, { typeName: "NotFound", message: `no route ${req.method} ${path}` })
    })
    server.keepAliveTimeout = 120_000
    let origin = ""
    server.listen(0, "127.0.0.1", () => {
      origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      resolve({
        origin,
        configUrl: `${origin}/bench-org`,
        counts,
        setAdminExp: (s) => {
          adminExp = Math.floor(Date.now() / 1000) + s
        },
        close: () =>
          new Promise((done) => {
            for (const res of held) res.destroy()
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })
