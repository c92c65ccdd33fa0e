/**
 * The Node transport's `HttpClient` (undici `dispatch`, buffered bodies) against a real loopback
 * server: what it sends, what its responses give, interruption and transport failures.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Credentials from "@scaleset/core/Credentials"
import * as ScaleSetClient from "@scaleset/core/ScaleSetClient"
import { Faults, startSimulator } from "@scaleset/testing"
import * as NodeScaleSet from "../src/NodeScaleSet.js"
import * as UndiciClient from "../src/internal/undiciClient.js"

interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/** A server that records requests; `/hold` never answers (until close), `/cookie` sets cookies. */
const server = Effect.acquireRelease(
  Effect.async<{ readonly origin: string; readonly seen: Array<Seen>; readonly closed: Array<string>; readonly close: () => void }>((resume) => {
    const seen: Array<Seen> = []
    const closed: Array<string> = []
    const s = http.createServer((req, res) => {
      let body = ""
      req.on("data", (chunk: Buffer) => (body += chunk.toString()))
      req.on("end", () => {
        seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body })
        if (req.url === "/hold") {
          res.on("close", () => closed.push(req.url ?? ""))
          return
        }
        if (req.url === "/cookie") {
          res.writeHead(200, { "set-cookie": ["a=1", "b=2"], "x-many": ["x", "y"] })
          return res.end()
        }
        const text = JSON.stringify({ echo: body, big: "é".repeat(40_000) })
        res.writeHead(201, { "content-type": "application/json; charset=utf-8" })
        // written in pieces, so the client gathers several chunks
        res.write(text.slice(0, 100))
        setTimeout(() => res.end(text.slice(100)), 5)
      })
    })
    s.listen(0, "127.0.0.1", () => {
      const origin = `http://127.0.0.1:${(s.address() as AddressInfo).port}`
      resume(Effect.succeed({ origin, seen, closed, close: () => s.closeAllConnections() }))
    })
  }),
  (s) => Effect.sync(s.close)
)

const noEnv = Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
const client = HttpClient.HttpClient
const transport = Effect.provide(NodeScaleSet.layer({ proxy: false }))

describe("the Node HttpClient", () => {
  it.live("sends method, headers and body; gives status, headers and the whole body", () =>
    Effect.gen(function*() {
      const s = yield* server
      const http = yield* client
      const res = yield* http.execute(
        HttpClientRequest.post(`${s.origin}/echo`).pipe(
          HttpClientRequest.setHeader("Authorization", "Bearer t"),
          HttpClientRequest.setUrlParam("a", "1 2"),
          HttpClientRequest.bodyText("{\"x\":1}", "application/json")
        )
      )
      assert.strictEqual(res.status, 201)
      assert.strictEqual(res.headers["content-type"], "application/json; charset=utf-8")
      const json = (yield* res.json) as { echo: string; big: string }
      assert.strictEqual(json.echo, "{\"x\":1}")
      assert.strictEqual(json.big, "é".repeat(40_000))
      assert.strictEqual((yield* res.text).length, JSON.stringify(json).length)
      assert.strictEqual((yield* res.arrayBuffer).byteLength, Buffer.byteLength(JSON.stringify(json)))
      const streamed = yield* Stream.runCollect(res.stream)
      assert.strictEqual(Buffer.concat(Chunk.toArray(streamed)).toString(), JSON.stringify(json))
      const [seen] = s.seen
      assert.strictEqual(seen?.method, "POST")
      assert.strictEqual(seen?.url, "/echo?a=1+2")
      assert.strictEqual(seen?.headers.authorization, "Bearer t")
      assert.strictEqual(seen?.headers["content-type"], "application/json")
      assert.strictEqual(seen?.headers["content-length"], "7")
    }).pipe(Effect.scoped, transport, noEnv))

  it.live("repeated headers are joined; cookies are parsed", () =>
    Effect.gen(function*() {
      const s = yield* server
      const res = yield* (yield* client).get(`${s.origin}/cookie`)
      assert.strictEqual(res.headers["x-many"], "x, y")
      assert.deepStrictEqual(Object.keys(res.cookies.cookies).sort(), ["a", "b"])
      assert.strictEqual(yield* res.json, null)
    }).pipe(Effect.scoped, transport, noEnv))

  it.live("a streamed body goes through (the platform client) and arrives whole", () =>
    Effect.gen(function*() {
      const s = yield* server
      const body = Stream.make(new TextEncoder().encode("ab"), new TextEncoder().encode("cd"))
      const res = yield* (yield* client).execute(
        HttpClientRequest.post(`${s.origin}/echo`).pipe(HttpClientRequest.bodyStream(body, { contentType: "text/plain" }))
      )
      assert.strictEqual(((yield* res.json) as { echo: string }).echo, "abcd")
    }).pipe(Effect.scoped, transport, noEnv))

  it.live("interrupting a request aborts it on the wire", () =>
    Effect.gen(function*() {
      const s = yield* server
      const fiber = yield* Effect.fork((yield* client).get(`${s.origin}/hold`))
      while (s.seen.length === 0) yield* Effect.sleep("10 millis")
      yield* Fiber.interrupt(fiber)
      while (s.closed.length === 0) yield* Effect.sleep("10 millis")
      assert.deepStrictEqual(s.closed, ["/hold"])
    }).pipe(Effect.scoped, transport, noEnv))

  it.live("a refused connection and a bad URL are RequestErrors that say which", () =>
    Effect.gen(function*() {
      const http = yield* client
      const refused = yield* Effect.flip(http.get("http://127.0.0.1:1/x"))
      assert.strictEqual(refused._tag, "RequestError")
      assert.strictEqual(refused.reason, "Transport")
      const bad = yield* Effect.flip(http.get("http://exa mple.com/"))
      assert.strictEqual(bad._tag, "RequestError")
      assert.strictEqual(bad.reason, "InvalidUrl")
    }).pipe(Effect.scoped, transport, noEnv))
})

describe("the Node client's per-request deadline (enforced by the transport)", () => {
  it.live("a request past its deadline is cut, retried, and fails as a Timeout naming the deadline", () =>
    Effect.gen(function*() {
      const sim = yield* Effect.acquireRelease(Effect.promise(() => startSimulator()), (s) => Effect.promise(s.stop))
      sim.inject(Faults.rule("scaleSets.get", Faults.latency(2_000), { times: 2 }))
      const layer = NodeScaleSet.layerClient({
        url: sim.url,
        credentials: Credentials.personalAccessToken(sim.pat),
        timeout: "150 millis",
        retry: { max: 1, waitMin: "10 millis" },
        transport: { proxy: false }
      })
      const client = Context.get(yield* Layer.build(layer), ScaleSetClient.ScaleSetClient)
      const started = Date.now()
      const error = yield* Effect.flip(client.getRunnerScaleSetById(1))
      assert.strictEqual(error._tag, "ScaleSetApiError")
      if (error._tag !== "ScaleSetApiError") return
      assert.strictEqual(error.reason, "Timeout", error.message)
      assert.strictEqual(error.attempts, 2)
      assert.match(error.message, /timed out: no answer within 150ms/)
      assert.isBelow(Date.now() - started, 1_500, "each attempt was cut at its deadline, not at the server's 2 s")
      // the deadline is per attempt: the next request, answered at once, succeeds
      const group = yield* client.getRunnerGroupByName("default")
      assert.strictEqual(group.name, "default")
    }).pipe(Effect.scoped, noEnv))
})

describe("splitUrl", () => {
  it("gives the origin and path the URL parser gives, for the URLs the pipeline builds and odd ones", () => {
    const urls = [
      "https://pipelines.actions.githubusercontent.com/abc/_apis/runtime/runnerscalesets/1?api-version=6.0-preview",
      "http://127.0.0.1:8080/queue/1?sessionId=s&lastMessageId=7",
      "https://HOST.example:443/Path/a%20b",
      "https://user:pass@host/x",
      "https://host",
      "https://host?x=1",
      "https://host/p#frag",
      "http://[::1]:9000/v",
      "http://HOST:80/x",
      "https://host:443/x?y",
      "HTTPS://host/x"
    ]
    for (const url of urls) {
      const parsed = new URL(url)
      assert.deepStrictEqual(UndiciClient.splitUrl(url), { origin: parsed.origin, path: parsed.pathname + parsed.search }, url)
    }
  })
})
