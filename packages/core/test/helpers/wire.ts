/**
 * Wire helpers for tests: an `HttpClient` over undici that sends every request to a loopback
 * server (the original URL travels in a header), and small `node:http` server utilities.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import { Agent } from "undici"

export const ORIGINAL_URL_HEADER = "x-conformance-original-url"

/** An undici agent (closed with the scope), optionally trusting extra CAs. */
export const makeAgent = (options: { readonly ca?: ReadonlyArray<string> | undefined } = {}) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      new Agent(options.ca && options.ca.length > 0 ? { connect: { ca: [...options.ca] } } : {})
    ),
    (agent) => Effect.promise(() => agent.destroy().catch(() => undefined))
  )

/**
 * An `HttpClient` that sends every request to `serverUrl` (same path and query) and keeps the
 * URL it was meant for in `x-conformance-original-url`.
 */
export const redirectingClient = (serverUrl: string, agent: Agent): HttpClient.HttpClient =>
  NodeHttpClient.makeUndici(agent).pipe(
    HttpClient.mapRequest((request) => {
      const original = new URL(request.url)
      return request.pipe(
        HttpClientRequest.setUrl(`${serverUrl}${original.pathname}${original.search}`),
        HttpClientRequest.setHeader(ORIGINAL_URL_HEADER, request.url)
      )
    })
  )

export interface Served {
  readonly url: string
  readonly server: http.Server
  readonly connections: () => number
}

/** Starts an HTTP(S) server on loopback for the scope; open sockets are destroyed on release. */
export const serve = (
  handler: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void,
  tls?: { readonly cert: string; readonly key: string }
): Effect.Effect<Served, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Served>((resume) => {
      let connections = 0
      const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => handler(req, res, Buffer.concat(chunks)))
      }
      const server: http.Server = tls
        ? https.createServer({ cert: tls.cert, key: tls.key }, listener)
        : http.createServer(listener)
      server.on("connection", () => {
        connections++
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({
          url: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
          server,
          connections: () => connections
        }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** Reads a request's JSON body, or undefined when empty or not JSON. */
export const jsonBody = (body: Buffer): unknown => {
  if (body.length === 0) return undefined
  try {
    return JSON.parse(body.toString("utf8")) as unknown
  } catch {
    return undefined
  }
}
