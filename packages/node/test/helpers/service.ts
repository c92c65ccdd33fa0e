/**
 * A small fake of GitHub and the Actions service over HTTP or HTTPS: the PAT token chain, runner
 * groups, scale sets, runners, sessions and an empty message queue. Every URL it hands out
 * (service URL, queue URL) uses the Host the request came to, so a client talking to
 * `scaleset.test` through a proxy keeps doing so for every later request.
 */
import * as http from "node:http"
import * as https from "node:https"
import type { AddressInfo } from "node:net"

export interface SeenByService {
  readonly method: string
  readonly host: string
  readonly path: string
}

export interface FakeService {
  readonly port: number
  /** `http(s)://{host}:{port}/my-org` */
  readonly configUrl: (host?: string) => string
  readonly seen: Array<SeenByService>
  readonly close: () => Promise<void>
}

const b64url = (s: string) => Buffer.from(s).toString("base64url")
const adminToken = () =>
  `${b64url(JSON.stringify({ alg: "RS256", typ: "JWT" }))}.${b64url(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + 3600 }))}.c2ln`

const statistics = {
  totalAvailableJobs: 0,
  totalAcquiredJobs: 0,
  totalAssignedJobs: 2,
  totalRunningJobs: 0,
  totalRegisteredRunners: 0,
  totalBusyRunners: 0,
  totalIdleRunners: 0
}

export const startService = async (tls?: { readonly key: string; readonly cert: string }): Promise<FakeService> => {
  const seen: Array<SeenByService> = []
  const scaleSets = new Map<number, Record<string, unknown>>()
  let nextId = 1
  const scheme = tls ? "https" : "http"

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    let body = ""
    req.on("data", (chunk: Buffer) => (body += chunk.toString()))
    req.on("end", () => {
      const host = req.headers.host ?? ""
      const url = new URL(req.url ?? "/", `${scheme}://${host}`)
      const method = req.method ?? "GET"
      seen.push({ method, host, path: url.pathname })
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value))
      }
      const path = url.pathname
      if (method === "POST" && path.endsWith("/actions/runners/registration-token")) {
        return json(201, { token: "registration-token", expires_at: new Date(Date.now() + 3600_000).toISOString() })
      }
      if (method === "POST" && path === "/api/v3/actions/runner-registration") {
        return json(200, { url: `${scheme}://${host}/service/`, token: adminToken() })
      }
      const actions = path.replace(/^\/service\//, "")
      if (method === "GET" && actions === "_apis/runtime/runnergroups/") {
        return json(200, { count: 1, value: [{ id: 1, name: "default", size: 0, isDefaultGroup: true }] })
      }
      if (method === "GET" && actions === "_apis/runtime/runnerscalesets") {
        const found = [...scaleSets.values()].filter((s) => s.name === url.searchParams.get("name"))
        return json(200, { count: found.length, value: found })
      }
      if (method === "POST" && actions === "_apis/runtime/runnerscalesets") {
        const id = nextId++
        const scaleSet = { ...(JSON.parse(body) as Record<string, unknown>), id }
        scaleSets.set(id, scaleSet)
        return json(200, scaleSet)
      }
      const session = /^_apis\/runtime\/runnerscalesets\/(\d+)\/sessions(?:\/([\w-]+))?$/.exec(actions)
      if (session && method === "POST") {
        const sessionId = "6f8c2a3e-1b4d-4c5e-9f7a-8b9c0d1e2f3a"
        return json(200, {
          sessionId,
          ownerName: (JSON.parse(body) as { ownerName: string }).ownerName,
          messageQueueUrl: `${scheme}://${host}/queue/${sessionId}`,
          messageQueueAccessToken: "queue-token",
          statistics
        })
      }
      if (session && method === "DELETE") return void res.writeHead(204).end()
      if (path.startsWith("/queue/") && method === "GET") return void res.writeHead(202).end()
      if (path.startsWith("/queue/") && method === "DELETE") return void res.writeHead(204).end()
      if (method === "GET" && /^_apis\/distributedtask\/pools\/0\/agents\/\d+$/.test(actions)) {
        return json(404, { typeName: "GitHub.DistributedTask.WebApi.AgentNotFoundException, x", message: "no such runner" })
      }
      if (method === "GET" && actions === "_apis/distributedtask/pools/0/agents") return json(200, { count: 0, value: [] })
      json(404, { message: `no route for ${method} ${path}` })
    })
  }

  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, handler) : http.createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    configUrl: (host = "127.0.0.1") => `${scheme}://${host}:${port}/my-org`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
