import { assert, describe, it } from "@effect/vitest"
import * as Credentials from "@scaleset/core/Credentials"
import * as ScaleSetClient from "@scaleset/core/ScaleSetClient"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as NodeScaleSet from "../src/NodeScaleSet.js"
import { makePki } from "./helpers/certs.js"
import { startService } from "./helpers/service.js"

const pki = makePki()
const dir = mkdtempSync(join(tmpdir(), "scaleset-tls-"))
const chainFile = join(dir, "chain.pem")
writeFileSync(chainFile, `${pki.intermediatePem}\n${pki.rootPem}`)
const garbageFile = join(dir, "garbage.pem")
writeFileSync(garbageFile, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")

const noEnv = Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))

/** An HTTPS fake service presenting the leaf alone, or the leaf and its intermediate. */
const service = (withIntermediate: boolean) =>
  Effect.acquireRelease(
    Effect.promise(() => startService({ key: pki.leafKeyPem, cert: withIntermediate ? `${pki.leafPem}${pki.intermediatePem}` : pki.leafPem })),
    (s) => Effect.promise(s.close)
  )

const groupName = (url: string, transport: NodeScaleSet.TransportOptions) =>
  Effect.flatMap(ScaleSetClient.ScaleSetClient, (client) => client.getRunnerGroupByName("default")).pipe(
    Effect.map((group) => group.name),
    Effect.provide(NodeScaleSet.layerClient({ url, credentials: Credentials.personalAccessToken("ghp_test"), transport })),
    noEnv
  )

describe("TLS", () => {
  it.live("an unknown CA fails at once with a clear error, not retried", () =>
    Effect.gen(function*() {
      const s = yield* service(true)
      const error = yield* Effect.flip(groupName(s.configUrl(), {}))
      assert.strictEqual(error._tag, "ScaleSetApiError")
      if (error._tag !== "ScaleSetApiError") return
      assert.strictEqual(error.reason, "Transport")
      assert.strictEqual(error.attempts, 1)
      assert.match(error.message, /TLS certificate was rejected \((UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)/)
      assert.include(error.message, "rootCAs")
      assert.include(error.message, "registration-token")
      assert.strictEqual(s.seen.length, 0)
    }).pipe(Effect.scoped))

  it.live("the root CA as a PEM string is trusted, added to the system roots", () =>
    Effect.gen(function*() {
      const s = yield* service(true)
      assert.strictEqual(yield* groupName(s.configUrl(), { rootCAs: pki.rootPem }), "default")
    }).pipe(Effect.scoped))

  it.live("a chain file (intermediate and root) is trusted when the server sends its leaf alone", () =>
    Effect.gen(function*() {
      const s = yield* service(false)
      assert.strictEqual(yield* groupName(s.configUrl(), { rootCAs: [chainFile] }), "default")
      assert.strictEqual(yield* groupName(s.configUrl("localhost"), { rootCAs: chainFile }), "default")
    }).pipe(Effect.scoped))

  it.live("rejectUnauthorized: false connects, with one warning", () =>
    Effect.gen(function*() {
      const s = yield* service(false)
      const warnings: Array<string> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ logLevel, message }) => {
          if (logLevel._tag === "Warning") warnings.push(String(message))
        })
      )
      const names = yield* Effect.flatMap(ScaleSetClient.ScaleSetClient, (client) =>
        Effect.all([client.getRunnerGroupByName("default"), client.getRunnerGroupByName("default"), client.getRunnerByName("r")])).pipe(
          Effect.provide(NodeScaleSet.layerClient({
            url: s.configUrl(),
            credentials: Credentials.personalAccessToken("ghp_test"),
            transport: { rejectUnauthorized: false }
          })),
          Effect.provide(capture),
          noEnv
        )
      assert.strictEqual(names[0].name, "default")
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], "verification is disabled")
    }).pipe(Effect.scoped))

  it.live("an unreadable or garbled CA fails the layer with a TransportError naming it", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(groupName("https://127.0.0.1:1/my-org", { rootCAs: join(dir, "missing.pem") }))
      assert.strictEqual(missing._tag, "TransportError")
      assert.include(missing.message, "missing.pem")
      assert.include(missing.message, "ENOENT")
      const garbled = yield* Effect.flip(groupName("https://127.0.0.1:1/my-org", { rootCAs: garbageFile }))
      assert.strictEqual(garbled._tag, "TransportError")
      assert.include(garbled.message, "not a valid X.509 certificate")
      const notPem = yield* Effect.flip(groupName("https://127.0.0.1:1/my-org", { rootCAs: "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----" }))
      assert.include(notPem.message, "holds no PEM certificate")
    }))
})
