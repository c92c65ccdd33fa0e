import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as NodeConfig from "../src/NodeConfig.js"
import * as NodeScaleSet from "../src/NodeScaleSet.js"

const env = (vars: Record<string, string>) => Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(vars))))

const problems = (vars: Record<string, string>) =>
  NodeConfig.clientOptions.pipe(env(vars), Effect.flip, Effect.map((e) => e.problems))

const dir = mkdtempSync(join(tmpdir(), "scaleset-config-"))
const keyFile = join(dir, "app.pem")
writeFileSync(keyFile, "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n")

describe("NodeConfig.clientOptions", () => {
  it.effect("nothing set: one error naming the URL and the credentials to set", () =>
    Effect.gen(function*() {
      const error = yield* NodeConfig.clientOptions.pipe(env({}), Effect.flip)
      assert.strictEqual(error._tag, "NodeConfigError")
      assert.strictEqual(error.problems.length, 2)
      assert.include(error.message, "SCALESET_URL is not set")
      assert.include(error.message, "SCALESET_TOKEN")
      assert.include(error.message, "SCALESET_APP_PRIVATE_KEY_FILE")
    }))

  it.effect("a token and app settings together conflict", () =>
    Effect.gen(function*() {
      const found = yield* problems({ SCALESET_URL: "https://github.com/o", SCALESET_TOKEN: "ghp_x", SCALESET_APP_CLIENT_ID: "Iv1.x" })
      assert.strictEqual(found.length, 1)
      assert.include(found[0], "both SCALESET_TOKEN and GitHub App settings (SCALESET_APP_CLIENT_ID)")
    }))

  it.effect("incomplete app settings list what is missing; other mistakes are reported too", () =>
    Effect.gen(function*() {
      const found = yield* problems({
        SCALESET_URL: "https://github.com/o",
        SCALESET_APP_ID: "123",
        SCALESET_RETRY_MAX: "many",
        SCALESET_TIMEOUT: "soon",
        SCALESET_INSECURE_SKIP_TLS_VERIFY: "maybe"
      })
      assert.deepStrictEqual(found, [
        "GitHub App settings are incomplete: also set SCALESET_APP_INSTALLATION_ID, SCALESET_APP_PRIVATE_KEY (or SCALESET_APP_PRIVATE_KEY_FILE)",
        "SCALESET_RETRY_MAX must be a non-negative integer",
        "SCALESET_TIMEOUT must be a duration such as \"30 seconds\" or \"2 minutes\"",
        "SCALESET_INSECURE_SKIP_TLS_VERIFY must be true or false"
      ])
    }))

  it.effect("a key and a key file together conflict; an unreadable key file is named", () =>
    Effect.gen(function*() {
      const app = { SCALESET_URL: "https://github.com/o", SCALESET_APP_CLIENT_ID: "Iv1.x", SCALESET_APP_INSTALLATION_ID: "42" }
      const both = yield* problems({ ...app, SCALESET_APP_PRIVATE_KEY: "k", SCALESET_APP_PRIVATE_KEY_FILE: keyFile })
      assert.deepStrictEqual(both, ["both SCALESET_APP_PRIVATE_KEY and SCALESET_APP_PRIVATE_KEY_FILE are set: set only one"])
      const missing = yield* problems({ ...app, SCALESET_APP_PRIVATE_KEY_FILE: join(dir, "nope.pem") })
      assert.strictEqual(missing.length, 1)
      assert.include(missing[0], "nope.pem")
      assert.include(missing[0], "ENOENT")
    }))

  it.effect("a PAT configuration with retry, timeout and transport settings", () =>
    Effect.gen(function*() {
      const options = yield* NodeConfig.clientOptions.pipe(env({
        SCALESET_URL: " https://github.com/my-org ",
        SCALESET_TOKEN: "ghp_secret",
        SCALESET_RETRY_MAX: "2",
        SCALESET_RETRY_WAIT_MAX: "5 seconds",
        SCALESET_TIMEOUT: "2 minutes",
        SCALESET_PROXY: "http://proxy:3128",
        SCALESET_NO_PROXY: ".corp",
        SCALESET_CA_FILE: `/a.pem,/b.pem`,
        SCALESET_INSECURE_SKIP_TLS_VERIFY: "true",
        SCALESET_CONNECT_TIMEOUT: "10 seconds"
      }))
      assert.strictEqual(options.url, "https://github.com/my-org")
      assert.strictEqual(options.credentials._tag, "PersonalAccessToken")
      if (options.credentials._tag === "PersonalAccessToken") {
        assert.strictEqual(Redacted.value(options.credentials.token), "ghp_secret")
        assert.notInclude(String(options.credentials.token), "ghp_secret")
      }
      assert.strictEqual(options.retry?.max, 2)
      assert.isTrue(Duration.equals(Duration.decode(options.retry?.waitMax ?? 0), Duration.seconds(5)))
      assert.isTrue(Duration.equals(Duration.decode(options.timeout ?? 0), Duration.minutes(2)))
      assert.deepStrictEqual(options.transport?.rootCAs, ["/a.pem", "/b.pem"])
      assert.strictEqual(options.transport?.proxy, "http://proxy:3128")
      assert.strictEqual(options.transport?.noProxy, ".corp")
      assert.strictEqual(options.transport?.rejectUnauthorized, false)
    }))

  it.effect("a GitHub App with its key read from a file", () =>
    Effect.gen(function*() {
      const options = yield* NodeConfig.clientOptions.pipe(env({
        SCALESET_URL: "https://github.com/my-org",
        SCALESET_APP_ID: "123",
        SCALESET_APP_INSTALLATION_ID: "42",
        SCALESET_APP_PRIVATE_KEY_FILE: keyFile
      }))
      assert.strictEqual(options.credentials._tag, "GitHubApp")
      if (options.credentials._tag === "GitHubApp") {
        assert.strictEqual(options.credentials.clientId, "123")
        assert.strictEqual(options.credentials.installationId, 42)
        assert.include(Redacted.value(options.credentials.privateKey), "BEGIN RSA PRIVATE KEY")
      }
    }))
})

describe("layers from the environment", () => {
  it.effect("layerClientConfig fails with the configuration error", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(NodeScaleSet.layerClientConfig).pipe(Effect.scoped, env({ SCALESET_TOKEN: "x" }), Effect.flip)
      assert.strictEqual(error._tag, "NodeConfigError")
      assert.include(error.message, "SCALESET_URL")
    }))

  it.effect("layerConfig reports a bad proxy variable", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(NodeScaleSet.layerConfig).pipe(Effect.scoped, env({ HTTPS_PROXY: "gopher://x" }), Effect.flip)
      assert.strictEqual(error._tag, "TransportError")
      assert.include(error.message, "HTTPS_PROXY")
    }))
})
