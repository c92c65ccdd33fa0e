import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { ScaleSetError } from "@scaleset/core"
import { fakeService, patClient, type Reply, type Seen, sessionReply } from "./helpers/service.js"

const runner = { status: 200, body: { id: 1, name: "runner-1", runnerScaleSetId: 1 } } as const
const isAgent = (req: Seen) => req.path.includes("/agents/")

/** Answers the scripted replies in order, then the last one again. */
const script = (replies: ReadonlyArray<Reply>) => {
  let i = 0
  return () => replies[Math.min(i++, replies.length - 1)] ?? { status: 500 }
}

describe("query encoding", () => {
  const names = ["with space", "a+b", "build&test=1", "x#y", "100%", "%41", "semi;colon", "q?x/y", "ünïcødé ✓ 日本"]
  for (const name of names) {
    it.live(`${JSON.stringify(name)} reaches the server exactly`, () =>
      Effect.gen(function*() {
        const service = yield* fakeService({
          handle: (req) =>
            req.path.endsWith("/runnergroups/")
              ? { status: 200, body: { count: 1, value: [{ id: 3, name, size: 0, isDefaultGroup: false }] } }
              : { status: 200, body: { count: 0, value: [] } }
        })
        const client = yield* patClient(service)
        assert.isTrue(Option.isNone(yield* client.getRunnerScaleSet(1, name)))
        assert.isTrue(Option.isNone(yield* client.getRunnerByName(name)))
        assert.strictEqual((yield* client.getRunnerGroupByName(name)).id, 3)
        const [scaleSets, runners, groups] = service.actions()
        assert.deepStrictEqual([...scaleSets!.query.keys()].sort(), ["api-version", "name", "runnerGroupId"])
        assert.strictEqual(scaleSets!.query.get("name"), name)
        assert.strictEqual(scaleSets!.query.get("runnerGroupId"), "1")
        assert.deepStrictEqual([...runners!.query.keys()].sort(), ["agentName", "api-version"])
        assert.strictEqual(runners!.query.get("agentName"), name)
        assert.deepStrictEqual([...groups!.query.keys()].sort(), ["api-version", "groupName"])
        assert.strictEqual(groups!.query.get("groupName"), name)
      }).pipe(Effect.scoped))
  }
})

describe("retries", () => {
  it.live("Retry-After is honoured (and not cut by retryWaitMax)", () =>
    Effect.gen(function*() {
      const times: Array<number> = []
      const next = script([{ status: 503, headers: { "Retry-After": "1" } }, runner])
      const service = yield* fakeService({ handle: () => (times.push(Date.now()), next()) })
      const client = yield* patClient(service)
      yield* client.getRunner(1)
      assert.strictEqual(times.length, 2)
      assert.isAtLeast(times[1]! - times[0]!, 950)
    }).pipe(Effect.scoped))

  it.live("Retry-After is capped by retryAfterMax", () =>
    Effect.gen(function*() {
      const next = script([{ status: 429, headers: { "Retry-After": "3600" } }, runner])
      const service = yield* fakeService({ handle: next })
      const client = yield* patClient(service, { retry: { waitMin: "1 millis", waitMax: "1 millis", retryAfterMax: "20 millis" } })
      const result = yield* client.getRunner(1).pipe(Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => "not capped" }))
      assert.strictEqual(result.id, 1)
      assert.strictEqual(service.actions().length, 2)
    }).pipe(Effect.scoped))

  for (const status of [400, 401, 403, 404, 409, 422, 501]) {
    it.live(`${status} is not retried`, () =>
      Effect.gen(function*() {
        const service = yield* fakeService({ handle: () => ({ status }) })
        const client = yield* patClient(service, { retry: { max: 3, waitMin: "1 millis", waitMax: "1 millis" } })
        const error = yield* Effect.flip(client.getRunner(1))
        assert.strictEqual(service.actions().length, 1)
        assert.strictEqual(error._tag, "ScaleSetApiError")
        if (error._tag === "ScaleSetApiError") {
          assert.strictEqual(error.status, status)
          assert.strictEqual(error.attempts, 1)
        }
      }).pipe(Effect.scoped))
  }

  for (const status of [429, 500, 502, 503, 504]) {
    it.live(`${status} is retried up to retry.max`, () =>
      Effect.gen(function*() {
        const service = yield* fakeService({ handle: () => ({ status }) })
        const client = yield* patClient(service, { retry: { max: 2, waitMin: "1 millis", waitMax: "1 millis" } })
        const error = yield* Effect.flip(client.getRunner(1))
        assert.strictEqual(service.actions().length, 3)
        assert.strictEqual(error._tag, "ScaleSetApiError")
        if (error._tag === "ScaleSetApiError") assert.strictEqual(error.attempts, 3)
      }).pipe(Effect.scoped))
  }

  it.live("a connection reset is retried", () =>
    Effect.gen(function*() {
      const service = yield* fakeService({ handle: script([{ destroy: true }, runner]) })
      const client = yield* patClient(service)
      assert.strictEqual((yield* client.getRunner(1)).id, 1)
      assert.strictEqual(service.actions().length, 2)
    }).pipe(Effect.scoped))

  it.live("the per-attempt timeout cuts a stalled response and retries", () =>
    Effect.gen(function*() {
      const service = yield* fakeService({ handle: script([{ stall: true }, runner]) })
      const client = yield* patClient(service, { timeout: "1 second" })
      assert.strictEqual((yield* client.getRunner(1)).id, 1)
      assert.strictEqual(service.actions().length, 2)
    }).pipe(Effect.scoped))

  it.live("when every attempt stalls the error says timeout and counts the attempts", () =>
    Effect.gen(function*() {
      const service = yield* fakeService({ handle: () => ({ stall: true }) })
      const client = yield* patClient(service, { timeout: "100 millis", retry: { max: 2, waitMin: "1 millis", waitMax: "1 millis" } })
      const error = yield* Effect.flip(client.getRunner(1))
      assert.strictEqual(service.actions().length, 3)
      assert.strictEqual(error._tag, "ScaleSetApiError")
      if (error._tag === "ScaleSetApiError") {
        assert.strictEqual(error.reason, "Timeout")
        assert.strictEqual(error.attempts, 3)
        assert.include(error.message, "/_apis/distributedtask/pools/0/agents/1")
      }
    }).pipe(Effect.scoped))
})

describe("errors after retries", () => {
  it.live("keep method, URL, status, ActivityId, X-GitHub-Request-Id and body", () =>
    Effect.gen(function*() {
      const service = yield* fakeService({
        handle: () => ({
          status: 503,
          headers: { "Content-Type": "text/plain", ActivityId: "act-123", "X-GitHub-Request-Id": "GH:REQ:9" },
          body: "service busy, try later"
        })
      })
      const client = yield* patClient(service, { retry: { max: 2, waitMin: "1 millis", waitMax: "1 millis" } })
      const error = yield* Effect.flip(client.getRunner(7))
      assert.instanceOf(error, ScaleSetError.ScaleSetApiError)
      if (!(error instanceof ScaleSetError.ScaleSetApiError)) return
      assert.strictEqual(error.method, "GET")
      assert.strictEqual(error.url, `${service.url}/tenant/_apis/distributedtask/pools/0/agents/7?api-version=6.0-preview`)
      assert.strictEqual(error.status, 503)
      assert.strictEqual(error.activityId, "act-123")
      assert.strictEqual(error.githubRequestId, "GH:REQ:9")
      assert.strictEqual(error.body, "service busy, try later")
      assert.strictEqual(error.attempts, 3)
      for (const part of ["GET", error.url, "503", "act-123", "GH:REQ:9", "service busy, try later", "3 attempts"]) {
        assert.include(error.message, part)
      }
    }).pipe(Effect.scoped))

  it.live("an Actions exception after retries keeps its type, message and ids", () =>
    Effect.gen(function*() {
      const service = yield* fakeService({
        handle: () => ({
          status: 500,
          headers: { ActivityId: "act-500" },
          body: { typeName: "GitHub.Some.InternalException", message: "boom inside" }
        })
      })
      const client = yield* patClient(service, { retry: { max: 1, waitMin: "1 millis", waitMax: "1 millis" } })
      const error = yield* Effect.flip(client.getRunner(1))
      assert.instanceOf(error, ScaleSetError.ActionsException)
      if (!(error instanceof ScaleSetError.ActionsException)) return
      assert.strictEqual(error.status, 500)
      assert.strictEqual(error.activityId, "act-500")
      assert.strictEqual(error.typeName, "GitHub.Some.InternalException")
      assert.strictEqual(error.exceptionMessage, "boom inside")
      assert.strictEqual(error.attempts, 2)
      assert.include(error.message, "boom inside")
      assert.include(error.message, "/agents/1")
    }).pipe(Effect.scoped))

  it.live("a UTF-8 BOM before a JSON body is ignored", () =>
    Effect.gen(function*() {
      const service = yield* fakeService({
        handle: (req) =>
          isAgent(req)
            ? { status: 200, headers: { "Content-Type": "application/json" }, body: "\uFEFF{\"id\":5,\"name\":\"bom\",\"runnerScaleSetId\":2}" }
            : { status: 404 }
      })
      const client = yield* patClient(service)
      const r = yield* client.getRunner(5)
      assert.deepStrictEqual([r.id, r.name, r.runnerScaleSetId], [5, "bom", 2])
    }).pipe(Effect.scoped))
})

describe("User-Agent", () => {
  it.live("setSystemInfo changes the User-Agent of later requests, session requests included", () =>
    Effect.gen(function*() {
      const service = yield* fakeService({
        handle: (req): Reply => {
          if (req.path.endsWith("/sessions") && req.method === "POST") return sessionReply(service, "mq-token")
          if (req.path === "/tenant/mq") return { status: 202 }
          if (req.method === "DELETE") return { status: 204 }
          return runner
        }
      })
      const client = yield* patClient(service)
      yield* client.getRunner(1)
      const session = yield* client.createMessageSession(1, "o")
      yield* client.setSystemInfo({ system: "sys", version: "2.0.0", commitSha: "def", scaleSetId: 42, subsystem: "listener" })
      yield* client.getRunner(1)
      yield* session.getMessage(0, 5)
      const agents = service.seen.map((s) => JSON.parse(String(s.headers["user-agent"])) as Record<string, unknown>)
      assert.strictEqual(agents[0]?.scale_set_id, 1)
      const [beforeSession, createSession, after, poll] = service.actions().map((s) =>
        JSON.parse(String(s.headers["user-agent"])) as Record<string, unknown>
      )
      assert.strictEqual(beforeSession?.scale_set_id, 1)
      assert.strictEqual(createSession?.scale_set_id, 1)
      assert.deepInclude(after, { system: "sys", version: "2.0.0", commit_sha: "def", scale_set_id: 42, subsystem: "listener", kind: "scaleset" })
      assert.deepInclude(poll, { scale_set_id: 42, subsystem: "listener" })
      assert.deepStrictEqual(yield* client.systemInfo, { system: "sys", version: "2.0.0", commitSha: "def", scaleSetId: 42, subsystem: "listener" })
    }).pipe(Effect.scoped))
})

describe("arguments from JavaScript", () => {
  it.live("an operation given nothing is an effect that dies when run, not a throw when made", () =>
    Effect.gen(function*() {
      const service = yield* fakeService({ handle: () => ({ status: 200, body: { count: 0, value: [] } }) })
      const client = yield* patClient(service)
      const nothing = undefined as unknown as never
      // made without throwing …
      const effects: ReadonlyArray<Effect.Effect<unknown, unknown>> = [
        client.generateJitRunnerConfig(nothing, 1),
        client.createRunnerScaleSet(nothing),
        client.updateRunnerScaleSet(1, nothing),
        client.getOrCreateRunnerScaleSet(nothing)
      ]
      // … and each dies when run, sending nothing
      for (const effect of effects) {
        const exit = yield* Effect.exit(effect)
        assert.isTrue(exit._tag === "Failure" && exit.cause._tag === "Die", String(exit))
      }
      assert.strictEqual(service.actions().length, 0)
    }).pipe(Effect.scoped))
})
