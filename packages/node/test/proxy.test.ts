import { assert, describe, it } from "@effect/vitest"
import * as Credentials from "@scaleset/core/Credentials"
import * as ScaleSetClient from "@scaleset/core/ScaleSetClient"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as NodeScaleSet from "../src/NodeScaleSet.js"
import * as Proxy from "../src/internal/proxy.js"
import { makePki } from "./helpers/certs.js"
import { startProxy } from "./helpers/proxy.js"
import { startService } from "./helpers/service.js"

const select = (plan: Proxy.ProxyPlan, target: string) => Proxy.selector(plan)(new URL(target))?.href
const proxy = new URL("http://proxy.internal:3128")
const fixed = (noProxy?: string): Proxy.ProxyPlan => ({ _tag: "Fixed", proxy, noProxy: Proxy.parseNoProxy(noProxy) })

describe("proxy selection", () => {
  it("never proxies loopback targets", () => {
    for (const target of ["http://127.0.0.1:8080/x", "https://127.8.9.10/", "http://[::1]:80/", "http://localhost:1/", "https://api.localhost/"]) {
      assert.strictEqual(select(fixed(), target), undefined, target)
    }
    assert.strictEqual(select(fixed(), "https://api.github.com/"), proxy.href)
    assert.strictEqual(select(fixed(), "http://128.0.0.1/"), proxy.href)
  })

  it("honours NO_PROXY domains, suffixes, ports, IPs, CIDRs and *", () => {
    const plan = fixed("example.com, .corp.internal ,ghes.local:8443 10.0.0.0/8 192.168.1.7 [fd00::1]:443")
    const bypassed = [
      "https://example.com/",
      "https://api.example.com/",
      "https://corp.internal/",
      "https://a.b.corp.internal/",
      "https://ghes.local:8443/",
      "http://10.1.2.3/",
      "http://192.168.1.7:9000/",
      "https://[fd00::1]/"
    ]
    const proxied = [
      "https://notexample.com/",
      "https://example.com.evil.io/",
      "https://ghes.local/",
      "http://11.1.2.3/",
      "http://192.168.1.8/",
      "http://[fd00::1]:80/",
      "https://github.com/"
    ]
    for (const target of bypassed) assert.strictEqual(select(plan, target), undefined, target)
    for (const target of proxied) assert.strictEqual(select(plan, target), proxy.href, target)
    assert.strictEqual(select(fixed("*"), "https://github.com/"), undefined)
    assert.strictEqual(select(fixed("*.github.com"), "https://api.github.com/"), undefined)
  })

  it("uses HTTPS_PROXY for https and HTTP_PROXY for http targets", () => {
    const https = new URL("http://secure-proxy:1")
    const plan: Proxy.ProxyPlan = { _tag: "Environment", http: proxy, https, noProxy: Proxy.emptyNoProxy }
    assert.strictEqual(select(plan, "https://github.com/"), https.href)
    assert.strictEqual(select(plan, "http://ghes.corp/"), proxy.href)
    const httpOnly: Proxy.ProxyPlan = { _tag: "Environment", http: proxy, https: undefined, noProxy: Proxy.emptyNoProxy }
    assert.strictEqual(select(httpOnly, "https://github.com/"), undefined)
  })

  it("parses proxy URLs, defaulting the scheme, and redacts credentials", () => {
    const parsed = Proxy.parseProxyUrl("proxy.corp:3128")
    assert.isTrue(parsed instanceof URL)
    assert.strictEqual((parsed as URL).href, "http://proxy.corp:3128/")
    assert.strictEqual(typeof Proxy.parseProxyUrl("ftp://proxy:21"), "string")
    assert.strictEqual(Proxy.redactUrl(new URL("http://me:secret@proxy:1")), "http://***@proxy:1/")
  })
})

const pat = Credentials.personalAccessToken("ghp_test")

/** Token chain, a scale set, a session with one poll, the session deleted; answers debugInfo. */
const exercise = Effect.gen(function*() {
  const client = yield* ScaleSetClient.ScaleSetClient
  const group = yield* client.getRunnerGroupByName("default")
  const scaleSet = yield* client.createRunnerScaleSet({ name: "proxied", runnerGroupId: group.id })
  const message = yield* Effect.scoped(
    Effect.flatMap(client.createMessageSession(scaleSet.id, "owner"), (session) => session.getMessage(0, 5))
  )
  assert.isTrue(Option.isNone(message))
  return JSON.parse(yield* client.debugInfo) as { has_proxy: boolean; has_root_ca: boolean }
})

const withEnv = (env: Record<string, string>) => Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const expectedPaths = [
  "/api/v3/orgs/my-org/actions/runners/registration-token",
  "/api/v3/actions/runner-registration",
  "/service/_apis/runtime/runnergroups/",
  "/service/_apis/runtime/runnerscalesets",
  "/service/_apis/runtime/runnerscalesets/1/sessions",
  "/queue/6f8c2a3e-1b4d-4c5e-9f7a-8b9c0d1e2f3a",
  "/service/_apis/runtime/runnerscalesets/1/sessions/6f8c2a3e-1b4d-4c5e-9f7a-8b9c0d1e2f3a"
]

describe("through a real proxy", () => {
  it.live("an explicit proxy with credentials carries every request, sessions included", () =>
    Effect.gen(function*() {
      const service = yield* Effect.acquireRelease(Effect.promise(() => startService()), (s) => Effect.promise(s.close))
      const proxyServer = yield* Effect.acquireRelease(Effect.promise(() => startProxy({ requireAuth: "user:p@ss" })), (p) => Effect.promise(p.close))
      const info = yield* exercise.pipe(
        Effect.provide(NodeScaleSet.layerClient({
          url: service.configUrl("scaleset.test"),
          credentials: pat,
          retry: { max: 0 },
          transport: { proxy: `http://user:p%40ss@127.0.0.1:${proxyServer.port}` }
        })),
        withEnv({})
      )
      assert.isTrue(info.has_proxy)
      assert.isFalse(info.has_root_ca)
      const paths = proxyServer.seen.map((s) => new URL(s.target).pathname)
      for (const path of expectedPaths) assert.include(paths, path)
      for (const seen of proxyServer.seen) {
        assert.strictEqual(new URL(seen.target).hostname, "scaleset.test")
        assert.strictEqual(seen.authorization, `Basic ${Buffer.from("user:p@ss").toString("base64")}`)
      }
      assert.deepStrictEqual(service.seen.map((s) => s.path), paths)
      assert.isTrue(service.seen.every((s) => s.host === `scaleset.test:${service.port}`))
    }).pipe(Effect.scoped))

  it.live("HTTPS_PROXY from the environment tunnels HTTPS with CONNECT", () =>
    Effect.gen(function*() {
      const pki = makePki()
      const service = yield* Effect.acquireRelease(
        Effect.promise(() => startService({ key: pki.leafKeyPem, cert: `${pki.leafPem}${pki.intermediatePem}` })),
        (s) => Effect.promise(s.close)
      )
      const proxyServer = yield* Effect.acquireRelease(Effect.promise(() => startProxy()), (p) => Effect.promise(p.close))
      const info = yield* exercise.pipe(
        Effect.provide(NodeScaleSet.layerClient({
          url: service.configUrl("scaleset.test"),
          credentials: pat,
          retry: { max: 0 },
          transport: { rootCAs: pki.rootPem }
        })),
        withEnv({ https_proxy: proxyServer.url, NO_PROXY: "example.com" })
      )
      assert.isTrue(info.has_proxy)
      assert.isTrue(info.has_root_ca)
      assert.isAbove(proxyServer.seen.length, 0)
      for (const seen of proxyServer.seen) {
        assert.strictEqual(seen.method, "CONNECT")
        assert.strictEqual(seen.target, `scaleset.test:${service.port}`)
      }
      const paths = service.seen.map((s) => s.path)
      for (const path of expectedPaths) assert.include(paths, path)
    }).pipe(Effect.scoped))

  it.live("loopback targets bypass an environment proxy", () =>
    Effect.gen(function*() {
      const service = yield* Effect.acquireRelease(Effect.promise(() => startService()), (s) => Effect.promise(s.close))
      const proxyServer = yield* Effect.acquireRelease(Effect.promise(() => startProxy()), (p) => Effect.promise(p.close))
      yield* exercise.pipe(
        Effect.provide(NodeScaleSet.layerClient({ url: service.configUrl("127.0.0.1"), credentials: pat, retry: { max: 0 } })),
        withEnv({ HTTP_PROXY: proxyServer.url, HTTPS_PROXY: proxyServer.url })
      )
      assert.strictEqual(proxyServer.seen.length, 0)
      assert.isAbove(service.seen.length, 6)
    }).pipe(Effect.scoped))

  it.live("NO_PROXY sends a matching target directly", () =>
    Effect.gen(function*() {
      const proxyServer = yield* Effect.acquireRelease(Effect.promise(() => startProxy()), (p) => Effect.promise(p.close))
      const error = yield* exercise.pipe(
        Effect.provide(NodeScaleSet.layerClient({ url: "http://scaleset.test:1/my-org", credentials: pat, retry: { max: 0 } })),
        withEnv({ HTTP_PROXY: proxyServer.url, NO_PROXY: "github.com,.test" }),
        Effect.flip
      )
      // only the proxy can resolve *.test: going direct fails to resolve the name
      assert.strictEqual(error._tag, "ScaleSetApiError")
      assert.strictEqual(proxyServer.seen.length, 0)
      assert.match(error.message, /ENOTFOUND|EAI_AGAIN|scaleset\.test/)
    }).pipe(Effect.scoped))

  it.live("a proxy URL that does not parse fails the layer with a TransportError", () =>
    Effect.gen(function*() {
      const error = yield* exercise.pipe(
        Effect.provide(NodeScaleSet.layerClient({ url: "http://scaleset.test:1/my-org", credentials: pat, transport: { proxy: "ftp://x:1" } })),
        Effect.flip
      )
      assert.strictEqual(error._tag, "TransportError")
    }))
})
