/**
 * A small loopback fake of GitHub + the Actions service for wire tests: the token chain endpoints
 * answer by themselves (admin tokens from a callback), everything under `/tenant/` goes to the
 * test's handler. Every request is recorded.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as http from "node:http"
import { Credentials, ScaleSetClient } from "@scaleset/core"
import { adminJwt } from "./keys.js"
import { makeAgent, serve } from "./wire.js"

export interface Seen {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

export type Reply =
  | { readonly status: number; readonly headers?: Record<string, string>; readonly body?: string | object; readonly delayMs?: number }
  | { readonly stall: true }
  | { readonly destroy: true }

/** The answer to a session create: a session whose queue is `{service}/tenant/mq`. */
export const sessionReply = (service: { readonly url: string }, queueToken: string): Reply => ({
  status: 200,
  body: {
    sessionId: "5c3bb0c2-6f4e-4b43-9f36-1a2b3c4d5e6f",
    ownerName: "o",
    messageQueueUrl: `${service.url}/tenant/mq`,
    messageQueueAccessToken: queueToken,
    statistics: { totalAssignedJobs: 0 }
  }
})

export interface ServiceOptions {
  /** The admin token for the n-th chain (0-based). Default: a JWT valid for 10 minutes. */
  readonly adminToken?: (n: number) => string
  /** The Actions service URL runner-registration answers for the n-th chain. Default `{server}/tenant/`. */
  readonly serviceUrl?: (n: number) => string
  /** The registration token for the n-th chain. Default `reg-token-{n}`. */
  readonly registrationToken?: (n: number) => string
  /** Answers requests under `/tenant/`. Default 404. */
  readonly handle?: (req: Seen) => Reply | Promise<Reply>
}

export interface Service {
  readonly url: string
  readonly configUrl: string
  readonly seen: Array<Seen>
  /** Requests to the Actions service (under `/tenant/`). */
  readonly actions: () => ReadonlyArray<Seen>
  /** How many token chains reached runner-registration. */
  readonly chains: () => number
  readonly inFlight: () => number
  readonly maxInFlight: () => number
}

const send = (req: http.IncomingMessage, res: http.ServerResponse, reply: Reply) => {
  if ("stall" in reply) return
  if ("destroy" in reply) {
    req.socket.destroy()
    return
  }
  const write = () => {
    const body = reply.body === undefined ? undefined : typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body)
    res.writeHead(reply.status, {
      ...(typeof reply.body === "object" ? { "Content-Type": "application/json" } : {}),
      ...reply.headers
    })
    res.end(body)
  }
  if (reply.delayMs) setTimeout(write, reply.delayMs)
  else write()
}

export const fakeService = (options: ServiceOptions = {}): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const seen: Array<Seen> = []
    let chains = 0
    let registrations = 0
    let inFlight = 0
    let maxInFlight = 0
    let url = ""
    const served = yield* serve((req, res, body) => {
      const parsed = new URL(req.url ?? "/", "http://localhost")
      const entry: Seen = {
        method: req.method ?? "",
        path: parsed.pathname,
        query: parsed.searchParams,
        headers: req.headers,
        body: body.toString("utf8")
      }
      seen.push(entry)
      if (parsed.pathname.endsWith("/actions/runners/registration-token")) {
        const n = registrations++
        return send(req, res, {
          status: 201,
          body: { token: options.registrationToken?.(n) ?? `reg-token-${n}`, expires_at: "2099-01-01T00:00:00Z" }
        })
      }
      if (parsed.pathname === "/api/v3/actions/runner-registration") {
        const n = chains++
        return send(req, res, {
          status: 201,
          body: { url: options.serviceUrl?.(n) ?? `${url}/tenant/`, token: options.adminToken?.(n) ?? adminJwt(600, String(n)) }
        })
      }
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      res.on("close", () => {
        inFlight--
      })
      Promise.resolve(options.handle?.(entry) ?? { status: 404 }).then((reply) => send(req, res, reply))
    })
    url = served.url
    return {
      url,
      configUrl: `${url}/my-org`,
      seen,
      actions: () => seen.filter((s) => s.path.startsWith("/tenant/")),
      chains: () => chains,
      inFlight: () => inFlight,
      maxInFlight: () => maxInFlight
    }
  })

/** An undici `HttpClient` for the scope. */
export const httpClient: Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> = Effect.map(
  makeAgent(),
  (agent) => NodeHttpClient.makeUndici(agent)
)

/** A PAT client for a fake service. */
export const patClient = (
  service: Service,
  options: Partial<ScaleSetClient.ScaleSetClientOptions> = {}
) =>
  Effect.flatMap(httpClient, (client) =>
    ScaleSetClient.make({
      url: service.configUrl,
      credentials: Credentials.personalAccessToken(Redacted.make("test-pat")),
      systemInfo: { system: "test", version: "1.0.0", commitSha: "abc", scaleSetId: 1, subsystem: "unit" },
      retry: { waitMin: "1 millis", waitMax: "1 millis" },
      ...options
    }).pipe(Effect.provideService(HttpClient.HttpClient, client)))
