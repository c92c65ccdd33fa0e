/**
 * Secrets (PAT, app key, installation / registration / admin tokens, queue token, JIT config)
 * never appear in an error message, an error's fields, or a log line at any level.
 */
import { assert, describe, it } from "@effect/vitest"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import { Credentials, ScaleSetClient } from "@scaleset/core"
import { adminJwt, makeAppKey } from "./helpers/keys.js"
import { makeAgent, redirectingClient, serve } from "./helpers/wire.js"
import { fakeService, httpClient, type Reply, sessionReply } from "./helpers/service.js"

const PAT = "ghp_PATSECRET0123456789"
const REG = "REGSECRET_abcdef"
const INSTALLATION = "ghs_INSTALLSECRET_42"
const QUEUE = "MQSECRET_token"
const JIT = "JITSECRET_config_blob"
const appKey = makeAppKey()

const keyLines = appKey.pkcs1Pem.split("\n").filter((l) => l.length > 16 && !l.startsWith("-----"))

/** Runs an effect with every log line captured (all levels), and returns the lines. */
const captureLogs = <A, E, R>(self: Effect.Effect<A, E, R>) => {
  const lines: Array<string> = []
  const logger = Logger.make(({ annotations, cause, logLevel, message }) => {
    lines.push(`${logLevel.label} ${JSON.stringify(message)} ${JSON.stringify([...annotations])} ${Cause.pretty(cause)}`)
  })
  return self.pipe(
    Effect.exit,
    Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
    Logger.withMinimumLogLevel(LogLevel.All),
    Effect.map((exit) => ({ exit, lines }))
  )
}

const render = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return JSON.stringify(exit.value) ?? ""
  const failures = [...Cause.failures(exit.cause)].map((e) => {
    const fields = typeof e === "object" && e !== null ? JSON.stringify(e) : String(e)
    return `${String((e as { message?: unknown }).message)} ${fields} ${String(e)}`
  })
  return `${failures.join("\n")}\n${Cause.pretty(exit.cause)}`
}

const assertClean = (text: string, secrets: ReadonlyArray<string>) => {
  for (const secret of secrets) assert.notInclude(text, secret)
}

describe("secrets stay secret", () => {
  it.live("in errors and logs of a failing PAT client (4xx, 5xx after retries, bad admin token, queue 401s)", () =>
    Effect.gen(function*() {
      const SHORT = adminJwt(30, "ADMINSECRET-short")
      const ADMIN = adminJwt(600, "ADMINSECRET")
      const service = yield* fakeService({
        registrationToken: () => REG,
        // chain 0: a token inside the refresh window, chain 1: not a JWT, then a good one
        adminToken: (n) => (n === 0 ? SHORT : n === 1 ? "ADMINSECRET-not-a-jwt" : ADMIN),
        handle: (req): Reply => {
          if (req.path.endsWith("/agents/1")) return { status: 404, body: { typeName: "AgentNotFoundException", message: "gone" } }
          if (req.path.endsWith("/agents/2")) return { status: 503, body: "busy" }
          if (req.path.endsWith("/generatejitconfig")) {
            return { status: 200, body: { runner: { id: 1, name: "r", runnerScaleSetId: 1 }, encodedJITConfig: JIT } }
          }
          if (req.path.endsWith("/sessions") && req.method === "POST") return sessionReply(service, QUEUE)
          if (req.path.startsWith("/tenant/mq")) return { status: 401, body: "expired" }
          if (req.method === "PATCH") return { status: 404 }
          return { status: 204 }
        }
      })
      const http = yield* httpClient
      const secrets = [PAT, REG, "ADMINSECRET", QUEUE, JIT, ADMIN, SHORT]
      const { exit, lines } = yield* captureLogs(Effect.gen(function*() {
        const client = yield* ScaleSetClient.make({
          url: service.configUrl,
          credentials: Credentials.personalAccessToken(PAT),
          retry: { max: 2, waitMin: "1 millis", waitMax: "1 millis" }
        })
        const outcomes: Array<string> = []
        outcomes.push(render(yield* Effect.exit(client.getRunner(1))))
        outcomes.push(render(yield* Effect.exit(client.getRunner(2))))
        const jit = yield* client.generateJitRunnerConfig({ name: "r" }, 1)
        outcomes.push(`${String(jit.encodedJITConfig)} ${JSON.stringify(jit)}`)
        assert.strictEqual(Redacted.value(jit.encodedJITConfig), JIT)
        outcomes.push(render(yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
          const session = yield* client.createMessageSession(1, "o")
          outcomes.push(JSON.stringify(yield* session.session))
          return yield* session.getMessage(0, 1)
        })))))
        outcomes.push(yield* client.debugInfo)
        return outcomes.join("\n")
      }).pipe(Effect.provideService(HttpClient.HttpClient, http)))
      assert.isTrue(Exit.isSuccess(exit))
      const text = render(exit)
      for (const tag of ["RunnerNotFound", "AuthError", "MessageQueueTokenExpired"]) assert.include(text, tag)
      assert.strictEqual(service.chains(), 3)
      assertClean(text, secrets)
      assertClean(lines.join("\n"), secrets)
      // the secrets did travel on the wire, where they belong
      assert.isTrue(service.seen.some((s) => s.headers.authorization === `Bearer ${PAT}`))
      assert.isTrue(service.seen.some((s) => s.headers.authorization === `RemoteAuth ${REG}`))
    }).pipe(Effect.scoped))

  it.live("in errors and logs of a GitHub App client (installation token refused, admin token not a JWT)", () =>
    Effect.gen(function*() {
      let installation = 0
      const served = yield* serve((req, res) => {
        const path = new URL(req.url ?? "/", "http://x").pathname
        if (path.endsWith("/access_tokens")) {
          res.writeHead(installation++ === 0 ? 401 : 201, { "Content-Type": "application/json" })
          res.end(installation === 1 ? "{\"message\":\"Bad credentials\"}" : JSON.stringify({ token: INSTALLATION }))
        } else if (path.endsWith("/registration-token")) {
          res.writeHead(201, { "Content-Type": "application/json" })
          res.end(JSON.stringify({ token: REG }))
        } else {
          res.writeHead(201, { "Content-Type": "application/json" })
          res.end(JSON.stringify({ url: "http://127.0.0.1:1/tenant", token: "ADMINSECRET-not-a-jwt" }))
        }
      })
      const agent = yield* makeAgent()
      const { exit, lines } = yield* captureLogs(Effect.gen(function*() {
        const client = yield* ScaleSetClient.make({
          url: `${served.url}/my-org`,
          credentials: Credentials.gitHubApp({ clientId: "Iv1.x", installationId: 9, privateKey: Redacted.make(appKey.pkcs1Pem) }),
          retry: { max: 0 }
        })
        const first = render(yield* Effect.exit(client.getRunner(1)))
        const second = render(yield* Effect.exit(client.getRunner(1)))
        return `${first}\n${second}`
      }).pipe(Effect.provideService(HttpClient.HttpClient, redirectingClient(served.url, agent))))
      assert.isTrue(Exit.isSuccess(exit))
      const text = render(exit)
      assert.include(text, "Bad credentials")
      assert.include(text, "admin")
      assertClean(text, [INSTALLATION, REG, "ADMINSECRET", ...keyLines])
      assertClean(lines.join("\n"), [INSTALLATION, REG, "ADMINSECRET", ...keyLines])
    }).pipe(Effect.scoped))

  it.live("a PAT with a stray newline fails without printing the token", () =>
    Effect.gen(function*() {
      const service = yield* fakeService()
      const http = yield* httpClient
      const { exit, lines } = yield* captureLogs(Effect.gen(function*() {
        const client = yield* ScaleSetClient.make({
          url: service.configUrl,
          credentials: Credentials.personalAccessToken(`${PAT}\nX-Injected: 1`),
          retry: { max: 1, waitMin: "1 millis", waitMax: "1 millis" }
        })
        return yield* client.getRunner(1)
      }).pipe(Effect.provideService(HttpClient.HttpClient, http)))
      assert.isTrue(Exit.isFailure(exit))
      const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
      const error = failure && failure._tag === "Some" ? failure.value : undefined
      assert.strictEqual(error?._tag, "ScaleSetApiError")
      if (error?._tag === "ScaleSetApiError") {
        assert.strictEqual(error.reason, "Transport")
        assert.strictEqual(error.attempts, 1, "an invalid header is not retried")
      }
      assert.isFalse(service.seen.some((s) => "x-injected" in s.headers))
      assert.strictEqual(service.seen.length, 0, "an invalid header is never sent")
      assertClean(render(exit), [PAT])
      assertClean(lines.join("\n"), [PAT])
    }).pipe(Effect.scoped))
})
