import { assert, describe, it } from "@effect/vitest"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import { Credentials, ScaleSetClient } from "@scaleset/core"
import { makeAppKey, verifyRs256 } from "./helpers/keys.js"

const key = makeAppKey()
const literalNewlines = (pem: string) => pem.trim().split("\n").join("\\n")

/** Lines of base64 key material in a PEM: none of them may appear in an error. */
const material = (pem: string) =>
  pem.split(/\r?\n|\\n/).filter((line) => line.length >= 16 && !line.startsWith("-----") && !line.includes(":"))

const noRequests = HttpClient.make((request) => Effect.dieMessage(`unexpected request ${request.url}`))

const buildClient = (privateKey: string) =>
  Layer.build(
    ScaleSetClient.layer({
      url: "https://github.com/my-org",
      credentials: Credentials.gitHubApp({ clientId: "Iv1.test", installationId: 1, privateKey: Redacted.make(privateKey) })
    }).pipe(Layer.provide(Layer.succeed(HttpClient.HttpClient, noRequests)))
  ).pipe(Effect.scoped)

describe("app private keys", () => {
  const accepted: ReadonlyArray<readonly [string, string]> = [
    ["PKCS#1", key.pkcs1Pem],
    ["PKCS#8", key.pkcs8Pem],
    ["PKCS#1 with literal \\n", literalNewlines(key.pkcs1Pem)],
    ["PKCS#8 with literal \\n", literalNewlines(key.pkcs8Pem)],
    ["PKCS#1 with CRLF", key.pkcs1Pem.replace(/\n/g, "\r\n")],
    ["PKCS#1 with surrounding whitespace", `\n  ${key.pkcs1Pem}\n`]
  ]
  for (const [name, pem] of accepted) {
    it.effect(`accepts ${name} and signs a JWT the public key verifies`, () =>
      Effect.gen(function*() {
        const imported = yield* Credentials.importPrivateKey(Redacted.make(pem))
        const jwt = yield* Credentials.signAppJwt(imported, "Iv1.test", Date.now())
        const verified = verifyRs256(Redacted.value(jwt), key.publicKey)
        assert.isTrue(verified.ok)
        yield* buildClient(pem)
      }))
  }

  const other = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey
  const encryptedPkcs8 = other.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" }).toString()
  const encryptedPkcs1 = other.export({ type: "pkcs1", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" }).toString()
  const body = key.pkcs1Pem.split("\n").filter((l) => !l.startsWith("-----"))
  const truncated = ["-----BEGIN RSA PRIVATE KEY-----", ...body.slice(0, Math.floor(body.length / 2)), "-----END RSA PRIVATE KEY-----"].join("\n")
  const openssh = [
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    Buffer.from("openssh-key-v1\0secret-openssh-material-0123456789abcdef").toString("base64"),
    "-----END OPENSSH PRIVATE KEY-----"
  ].join("\n")
  const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "sec1", format: "pem" }).toString()
  const rejected: ReadonlyArray<readonly [string, string, string]> = [
    ["OpenSSH", openssh, "OpenSSH"],
    ["encrypted PKCS#8", encryptedPkcs8, "encrypted"],
    ["encrypted PKCS#1", encryptedPkcs1, "encrypted"],
    ["garbled PKCS#1 (truncated DER)", truncated, "garbled"],
    ["garbled base64", "-----BEGIN PRIVATE KEY-----\n!!!not base64!!!\n-----END PRIVATE KEY-----", "base64"],
    ["an EC key", ec, "EC PRIVATE KEY"],
    ["not a PEM at all", "MIIEowIBAAKCAQEAsecretsecretsecretsecret", "not a PEM"],
    ["empty", "", "required"]
  ]
  for (const [name, pem, says] of rejected) {
    it.effect(`rejects ${name} at layer build, naming the format and not the key`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(buildClient(pem))
        assert.strictEqual(error._tag, "AuthError")
        if (error._tag !== "AuthError") return
        assert.strictEqual(error.step, "credentials")
        assert.include(error.message.toLowerCase(), says.toLowerCase())
        const rendered = `${error.message} ${JSON.stringify(error)} ${String(error)}`
        for (const line of material(pem)) assert.notInclude(rendered, line)
        assert.notInclude(rendered, "secret")
      }))
  }
})

describe("app credentials validation", () => {
  it.effect("checks client id, installation id and key in that order", () =>
    Effect.gen(function*() {
      const e1 = yield* Effect.flip(Credentials.validate(Credentials.gitHubApp({ clientId: "", installationId: 0, privateKey: "" })))
      assert.include(e1.message, "client ID is required")
      const e2 = yield* Effect.flip(Credentials.validate(Credentials.gitHubApp({ clientId: "Iv1", installationId: 0, privateKey: "" })))
      assert.include(e2.message, "installation ID is required")
      const e3 = yield* Effect.flip(Credentials.validate(Credentials.gitHubApp({ clientId: "Iv1", installationId: 5, privateKey: "" })))
      assert.include(e3.message, "app private key is required")
      yield* Credentials.validate(Credentials.gitHubApp({ appId: 123, installationId: 5, privateKey: key.pkcs1Pem }))
    }))
})

describe("app JWT", () => {
  it.effect("RS256, iss = client id, iat = now - 60, exp = iat + 540, random jti", () =>
    Effect.gen(function*() {
      const imported = yield* Credentials.importPrivateKey(Redacted.make(key.pkcs1Pem))
      const now = 1_700_000_000_500
      const first = verifyRs256(Redacted.value(yield* Credentials.signAppJwt(imported, "Iv1.client", now)), key.publicKey)
      const second = verifyRs256(Redacted.value(yield* Credentials.signAppJwt(imported, "Iv1.client", now)), key.publicKey)
      assert.isTrue(first.ok && second.ok)
      if (!first.ok || !second.ok) return
      assert.strictEqual(first.header.alg, "RS256")
      assert.strictEqual(first.claims.iss, "Iv1.client")
      assert.strictEqual(first.claims.iat, 1_700_000_000 - 60)
      assert.strictEqual(first.claims.exp, 1_700_000_000 - 60 + 540)
      assert.isString(first.claims.jti)
      assert.isString(second.claims.jti)
      assert.notStrictEqual(first.claims.jti, second.claims.jti)
    }))
})

describe("credentials from JavaScript", () => {
  it.effect("missing values are AuthErrors naming what is required, not crashes", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Credentials.Credentials, string]> = [
        [Credentials.personalAccessToken(undefined as unknown as string), "personal access token is required"],
        [Credentials.gitHubApp({ clientId: undefined, installationId: 1, privateKey: "x" }), "client ID is required"],
        [Credentials.gitHubApp({ clientId: "Iv1.x", installationId: 1, privateKey: undefined as unknown as string }), "private key is required"]
      ]
      for (const [credentials, expected] of cases) {
        const error = yield* Effect.flip(Credentials.validate(credentials))
        assert.strictEqual(error._tag, "AuthError")
        assert.include(error.message, expected)
      }
    }))
})
