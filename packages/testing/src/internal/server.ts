/**
 * The simulator's HTTP server (node:http on loopback): reads each request, applies scripted faults,
 * runs its route, records it for inspection, and writes the reply.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import type { FaultAction, FaultRule, RouteId } from "../Faults.js"
import { correlationHeaders, exceptionReply, makeRoutes, type Reply, type Request, TENANT_PATH } from "./routes.js"
import { makeState, ServiceException, type State } from "./state.js"
import { makeTokens, type Tokens, type TokenOptions } from "./tokens.js"

/**
 * A request the simulator received. Authorization headers keep their scheme only.
 */
export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly route: RouteId
  readonly query: Readonly<Record<string, string>>
  readonly headers: Readonly<Record<string, string>>
  /** 0 when the connection was reset by a fault or the client went away. */
  readonly status: number
  readonly fault: FaultAction["_tag"] | undefined
  readonly at: Date
}

export interface ServerOptions extends TokenOptions {
  readonly organization: string
  readonly repository: string
  readonly runnerGroups: ReadonlyArray<{ readonly name: string; readonly id?: number | undefined }>
  readonly assignmentTimeoutMs: number
  readonly holdMs: number
  readonly runnerPollMs: number
  readonly batchMs: number
  readonly port: number
  readonly maxRecordedRequests: number
  readonly sessionIdleTimeoutMs: number
}

interface ActiveRule {
  readonly rule: FaultRule
  remaining: number
}

const secretHeaders = new Set(["authorization", "proxy-authorization", "cookie"])

const recordHeaders = (headers: IncomingMessage["headers"]): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    const text = Array.isArray(value) ? value.join(", ") : value
    out[name] = secretHeaders.has(name) ? `${text.split(/\s+/)[0] ?? ""} <redacted>` : text
  }
  return out
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener("abort", done)
      resolve()
    }
    signal.addEventListener("abort", done)
  })

export interface SimulatorServer {
  readonly origin: string
  readonly serviceUrl: string
  readonly state: State
  readonly tokens: Tokens
  readonly requests: () => ReadonlyArray<RecordedRequest>
  readonly clearRequests: () => void
  readonly inject: (rule: FaultRule) => void
  readonly clearFaults: () => void
  readonly close: () => Promise<void>
}

export const startServer = async (options: ServerOptions): Promise<SimulatorServer> => {
  let origin = ""
  const serviceUrl = () => `${origin}${TENANT_PATH}`
  const state = makeState({
    runnerGroups: options.runnerGroups,
    assignmentTimeoutMs: options.assignmentTimeoutMs,
    serviceUrl,
    defaultOwner: options.organization,
    defaultRepository: options.repository,
    sessionIdleTimeoutMs: options.sessionIdleTimeoutMs
  })
  const tokens = makeTokens(options)
  const routes = makeRoutes({
    state,
    tokens,
    origin: () => origin,
    serviceUrl,
    holdMs: options.holdMs,
    runnerPollMs: options.runnerPollMs,
    batchMs: options.batchMs
  })
  const recorded: Array<RecordedRequest> = []
  let rules: Array<ActiveRule> = []
  const closing = new AbortController()
  const sockets = new Set<Socket>()

  const takeFault = (method: string, path: string, route: RouteId): FaultAction | undefined => {
    for (const active of rules) {
      const { rule } = active
      if (active.remaining <= 0) continue
      if (rule.route !== undefined && rule.route !== route) continue
      if (rule.method !== undefined && rule.method.toUpperCase() !== method) continue
      if (rule.path !== undefined && !(typeof rule.path === "string" ? path.includes(rule.path) : rule.path.test(path))) continue
      active.remaining--
      rules = rules.filter((r) => r.remaining > 0)
      return rule.action
    }
    return undefined
  }

  const run = async (handle: (request: Request) => Reply | Promise<Reply>, request: Request): Promise<Reply> => {
    try {
      return await handle(request)
    } catch (e) {
      if (e instanceof ServiceException) return exceptionReply(e)
      return { status: 500, headers: { "Content-Type": "text/plain" }, body: `simulator error: ${String(e)}` }
    }
  }

  const transform = (reply: Reply, fault: FaultAction | undefined): Reply => {
    if (fault === undefined) return reply
    switch (fault._tag) {
      case "Bom":
        return { ...reply, body: `\uFEFF${reply.body ?? ""}` }
      case "Garbled":
        return { ...reply, body: `{"messageId": 1, "messa\u0000ge` }
      case "EmptyBody":
        return { ...reply, body: "" }
      default:
        return reply
    }
  }

  const faultReply = (fault: Extract<FaultAction, { _tag: "Status" }>): Reply => {
    const body = fault.body ??
      (fault.status >= 500 ? undefined : JSON.stringify({ typeName: "SimulatedFaultException", message: `simulated ${fault.status}` }))
    const contentType = fault.body === undefined && fault.status < 500 ? "application/json" : "text/plain"
    return {
      status: fault.status,
      headers: { ...(body === undefined ? {} : { "Content-Type": contentType }), ...fault.headers },
      ...(body === undefined ? {} : { body })
    }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const method = (req.method ?? "GET").toUpperCase()
    const url = new URL(req.url ?? "/", origin)
    const route = routes.resolve(method, url, req.headers.host ?? "")
    const controller = new AbortController()
    const abort = () => controller.abort()
    res.on("close", abort)
    closing.signal.addEventListener("abort", abort)
    const record = (status: number, fault: FaultAction | undefined) => {
      recorded.push({
        method,
        path: url.pathname,
        route: route.id,
        query: Object.fromEntries(url.searchParams),
        headers: recordHeaders(req.headers),
        status,
        fault: fault?._tag,
        at: new Date()
      })
      if (recorded.length > options.maxRecordedRequests) recorded.splice(0, recorded.length - options.maxRecordedRequests)
    }
    try {
      const body = await readBody(req)
      const fault = takeFault(method, url.pathname, route.id)
      if (fault?._tag === "Reset") {
        record(0, fault)
        req.socket.destroy()
        return
      }
      if (fault?._tag === "Latency") await sleep(fault.ms, controller.signal)
      const reply = fault?._tag === "Status"
        ? faultReply(fault)
        : transform(await run(route.handle, { method, url, headers: req.headers, body, signal: controller.signal }), fault)
      if (res.destroyed) {
        record(0, fault)
        return
      }
      const payload = reply.body === undefined || reply.status === 204 ? undefined : Buffer.from(reply.body, "utf8")
      res.writeHead(reply.status, {
        ...correlationHeaders(route.id),
        ...reply.headers,
        ...(payload === undefined ? {} : { "Content-Length": String(payload.length) })
      })
      res.end(payload)
      record(reply.status, fault)
    } catch (e) {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { "Content-Type": "text/plain" })
        res.end(`simulator error: ${String(e)}`)
      }
      record(500, undefined)
    } finally {
      res.off("close", abort)
      closing.signal.removeEventListener("abort", abort)
    }
  }

  const server = createServer((req, res) => void handle(req, res))
  server.keepAliveTimeout = 5_000
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port, "127.0.0.1", () => {
      server.off("error", reject)
      resolve()
    })
  })
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  let closed: Promise<void> | undefined
  return {
    origin,
    serviceUrl: serviceUrl(),
    state,
    tokens,
    requests: () => [...recorded],
    clearRequests: () => {
      recorded.length = 0
    },
    inject: (rule) => {
      rules.push({ rule, remaining: rule.times ?? 1 })
    },
    clearFaults: () => {
      rules = []
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        closing.abort()
        state.dispose()
        server.close(() => resolve())
        // long polls were answered by the abort; idle keep-alive sockets go now
        setTimeout(() => {
          for (const socket of sockets) socket.destroy()
        }, 50).unref()
        server.closeIdleConnections()
      })
      return closed
    }
  }
}
