import * as Credentials from "@scaleset/core/Credentials"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { generateKeyPairSync } from "node:crypto"
import { request } from "node:http"
import * as Simulator from "../src/Simulator.js"
import { clientFor } from "./util.js"

/** A raw POST, for what the core client does not send (the hosted layout, bad requests). */
const post = (url: string, headers: Record<string, string>, body = "") =>
  Effect.async<{ readonly status: number; readonly body: string }>((resume) => {
    const u = new URL(url)
    const req = request(
      { host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method: "POST", headers },
      (res) => {
        let text = ""
        res.on("data", (d: Buffer) => (text += d.toString()))
        res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body: text })))
      }
    )
    req.end(body)
  })

const rsaPair = () =>
  generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" }
  })

describe("the GitHub side", () => {
  it.scopedLive("a GitHub App with the generated key gets an installation token (201) and works", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make()
      const client = yield* clientFor(sim, { credentials: yield* sim.appCredentials })
      const group = yield* client.getRunnerGroupByName("default")
      assert.strictEqual(group.name, "default")
      const calls = yield* sim.requests()
      assert.deepStrictEqual(calls.slice(0, 3).map((r) => `${r.route}:${r.status}`), [
        "app.accessToken:201",
        "registrationToken:201",
        "runnerRegistration:201"
      ])
      assert.strictEqual(calls[0]!.path, `/api/v3/app/installations/${sim.app.installationId}/access_tokens`)
      assert.strictEqual(calls[0]!.headers.authorization, "Bearer <redacted>")
      assert.strictEqual(calls[2]!.headers.authorization, "RemoteAuth <redacted>")
    }))

  it.scopedLive("an App JWT signed with another key is refused (401)", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make()
      const wrong = Credentials.gitHubApp({ clientId: sim.app.clientId, installationId: sim.app.installationId, privateKey: rsaPair().privateKey })
      const client = yield* clientFor(sim, { credentials: wrong, retryMax: 0 })
      const error = yield* Effect.flip(client.getRunnerGroupByName("default"))
      assert.include(error.message, "401")
      assert.include(error.message, "could not be verified")
      assert.deepStrictEqual((yield* sim.requests()).map((r) => `${r.route}:${r.status}`), ["app.accessToken:401"])
    }))

  it.scopedLive("a configured public key: its private key works, the wrong issuer or installation does not", () =>
    Effect.gen(function*() {
      const pair = rsaPair()
      const sim = yield* Simulator.make({ app: { clientId: "Iv1.mine", installationId: 7, publicKey: pair.publicKey } })
      const good = Credentials.gitHubApp({ clientId: "Iv1.mine", installationId: 7, privateKey: pair.privateKey })
      yield* (yield* clientFor(sim, { credentials: good })).getRunnerGroupByName("default")
      // the app id is accepted as issuer too
      const byAppId = Credentials.gitHubApp({ appId: sim.app.appId, installationId: 7, privateKey: pair.privateKey })
      yield* (yield* clientFor(sim, { credentials: byAppId })).getRunnerGroupByName("default")

      const otherIssuer = Credentials.gitHubApp({ clientId: "Iv1.other", installationId: 7, privateKey: pair.privateKey })
      const e1 = yield* Effect.flip((yield* clientFor(sim, { credentials: otherIssuer, retryMax: 0 })).getRunnerGroupByName("default"))
      assert.include(e1.message, "401")
      const otherInstallation = Credentials.gitHubApp({ clientId: "Iv1.mine", installationId: 8, privateKey: pair.privateKey })
      const e2 = yield* Effect.flip((yield* clientFor(sim, { credentials: otherInstallation, retryMax: 0 })).getRunnerGroupByName("default"))
      assert.include(e2.message, "404")
      assert.isTrue((yield* Effect.flip(sim.appPrivateKey))._tag === "SimulatorError")
    }))

  it.scopedLive("a wrong PAT is refused with 401 Bad credentials", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make()
      const client = yield* clientFor(sim, { credentials: Credentials.personalAccessToken("ghp_wrong"), retryMax: 0 })
      const error = yield* Effect.flip(client.getRunnerGroupByName("default"))
      assert.include(error.message, "Bad credentials")
    }))

  it.scopedLive("repository and enterprise config URLs; a registration token is only good for its own scope", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make()
      for (const url of [sim.configUrl({ owner: "octo", repository: "hello" }), sim.configUrl({ enterprise: "acme" })]) {
        const client = yield* clientFor(sim, { url })
        yield* client.getRunnerGroupByName("default")
      }
      const paths = (yield* sim.requests({ route: "registrationToken" })).map((r) => r.path)
      assert.deepStrictEqual(paths, [
        "/api/v3/repos/octo/hello/actions/runners/registration-token",
        "/api/v3/enterprises/acme/actions/runners/registration-token"
      ])
      const token = yield* post(`${sim.origin}/api/v3/orgs/my-org/actions/runners/registration-token`, {
        Authorization: "Bearer ghp_not-the-pat"
      })
      assert.strictEqual(token.status, 401)
    }))

  it.scopedLive("the hosted layout (no /api/v3, Host api.…) answers the same routes", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make()
      const pat = Redacted.value(sim.pat)
      const reg = yield* post(`${sim.origin}/orgs/my-org/actions/runners/registration-token`, {
        Host: "api.github.localhost",
        Authorization: `Bearer ${pat}`
      })
      assert.strictEqual(reg.status, 201)
      const token = (JSON.parse(reg.body) as { token: string }).token
      const admin = yield* post(`${sim.origin}/actions/runner-registration`, {
        Host: "api.github.localhost",
        Authorization: `RemoteAuth ${token}`,
        "Content-Type": "application/json"
      }, JSON.stringify({ url: "https://github.localhost/my-org", runner_event: "register" }))
      assert.strictEqual(admin.status, 201)
      const answer = JSON.parse(admin.body) as { url: string; token: string }
      assert.strictEqual(answer.url, sim.serviceUrl)
      assert.strictEqual(answer.token.split(".").length, 3)
      // the registration token names my-org, not another org
      const reg2 = yield* post(`${sim.origin}/orgs/my-org/actions/runners/registration-token`, {
        Host: "api.github.localhost",
        Authorization: `Bearer ${pat}`
      })
      const other = yield* post(`${sim.origin}/api/v3/actions/runner-registration`, {
        Authorization: `RemoteAuth ${(JSON.parse(reg2.body) as { token: string }).token}`,
        "Content-Type": "application/json"
      }, JSON.stringify({ url: `${sim.origin}/other-org`, runner_event: "register" }))
      assert.strictEqual(other.status, 404)
    }))

  it.scopedLive("Actions requests need the admin token and api-version=6.0-preview", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make()
      const noToken = yield* post(`${sim.serviceUrl}_apis/runtime/runnerscalesets?api-version=6.0-preview`, {}, "{}")
      assert.strictEqual(noToken.status, 401)
      const client = yield* clientFor(sim)
      yield* client.getRunnerGroupByName("default")
      assert.isTrue((yield* sim.requests({ route: "runnerGroups.list" })).every((r) => r.query["api-version"] === "6.0-preview"))
    }))
})
