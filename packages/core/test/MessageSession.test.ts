/**
 * MessageSession on the wire: a loopback node:http fake of the service, the client through
 * `NodeHttpClient.layerUndici`.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Credentials, ScaleSetClient } from "@scaleset/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { fakeService, type Reply, type Seen } from "./helpers/service.js"

const SESSION_ID = "11111111-2222-3333-4444-555555555555"
const SESSION_ID_2 = "66666666-7777-8888-9999-000000000000"
const statistics = {
  totalAvailableJobs: 1,
  totalAcquiredJobs: 0,
  totalAssignedJobs: 2,
  totalRunningJobs: 1,
  totalRegisteredRunners: 1,
  totalBusyRunners: 1,
  totalIdleRunners: 0
}

const sessionBody = (url: string, overrides: Record<string, unknown> = {}) => ({
  sessionId: SESSION_ID,
  ownerName: "owner-1",
  runnerScaleSet: { id: 1, name: "my-scale-set" },
  messageQueueUrl: `${url}/queue/messages?sig=abc`,
  messageQueueAccessToken: "queue-token-1",
  statistics,
  ...overrides
})

const is = {
  create: (r: Seen) => r.method === "POST" && r.path === "/tenant/_apis/runtime/runnerscalesets/1/sessions",
  refresh: (r: Seen) => r.method === "PATCH" && r.path.startsWith("/tenant/_apis/runtime/runnerscalesets/1/sessions/"),
  deleteSession: (r: Seen) => r.method === "DELETE" && r.path.startsWith("/tenant/_apis/runtime/runnerscalesets/1/sessions/"),
  poll: (r: Seen) => r.method === "GET" && r.path === "/queue/messages",
  ack: (r: Seen) => r.method === "DELETE" && r.path.startsWith("/queue/messages/"),
  acquire: (r: Seen) => r.method === "POST" && r.path === "/tenant/_apis/runtime/runnerscalesets/1/acquirejobs"
}

type Handler = (req: Seen, url: string) => Reply | undefined

/** A fake service: `handle` answers first; session create/refresh/delete have defaults. */
const setup = (handle: Handler, options: Partial<ScaleSetClient.ScaleSetClientOptions> = {}) =>
  Effect.gen(function*() {
    let url = ""
    const service = yield* fakeService({
      handle: (req) => {
        const reply = handle(req, url)
        if (reply !== undefined) return reply
        if (is.create(req)) return { status: 200, body: sessionBody(url) }
        if (is.refresh(req)) return { status: 200, body: sessionBody(url, { messageQueueAccessToken: "queue-token-2" }) }
        if (is.deleteSession(req)) return { status: 204 }
        return { status: 404, body: "no route" }
      }
    })
    url = service.url
    const client = yield* ScaleSetClient.make({
      url: service.configUrl,
      credentials: Credentials.personalAccessToken(Redacted.make("test-pat")),
      systemInfo: { system: "test", version: "1.0.0", commitSha: "abc", scaleSetId: 1, subsystem: "unit" },
      retry: { waitMin: "1 millis", waitMax: "1 millis" },
      ...options
    })
    return { service, client, url: () => url }
  })

/** Runs a test with undici; its scope (sessions, the fake server) closes before the HTTP client. */
const wire = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient | Scope.Scope>) =>
  Effect.provide(Effect.scoped(effect), NodeHttpClient.layerUndici)

const count = (seen: ReadonlyArray<Seen>, p: (r: Seen) => boolean) => seen.filter(p).length

const message = (body: unknown, extra: Record<string, unknown> = {}) => ({
  status: 200,
  body: {
    messageId: 7,
    messageType: "RunnerScaleSetJobMessages",
    body: typeof body === "string" ? body : JSON.stringify(body),
    statistics,
    ...extra
  }
})

const job = (messageType: string, extra: Record<string, unknown> = {}) => ({
  messageType,
  runnerRequestId: 101,
  repositoryName: "repo",
  ownerName: "org",
  jobId: "job-1",
  jobWorkflowRef: "org/repo/.github/workflows/ci.yml@refs/heads/main",
  jobDisplayName: "build",
  workflowRunId: 9,
  eventName: "push",
  requestLabels: ["my-scale-set"],
  queueTime: "2024-05-01T12:00:00Z",
  scaleSetAssignTime: "0001-01-01T00:00:00Z",
  runnerAssignTime: "2024-05-01T12:00:10Z",
  finishTime: "0001-01-01T00:00:00Z",
  ...extra
})

describe("MessageSession create", () => {
  it.live("creates the session with the owner and validates it", () =>
    wire(Effect.gen(function*() {
      const { client, service } = yield* setup(() => undefined)
      const session = yield* client.createMessageSession(1, "owner-1")
      const current = yield* session.session
      assert.strictEqual(current.sessionId, SESSION_ID)
      assert.strictEqual(Redacted.value(current.messageQueueAccessToken), "queue-token-1")
      const [create] = service.seen.filter(is.create)
      assert.isDefined(create)
      assert.deepStrictEqual(JSON.parse(create!.body), { sessionId: "00000000-0000-0000-0000-000000000000", ownerName: "owner-1" })
      assert.strictEqual(create!.query.get("api-version"), "6.0-preview")
      assert.match(create!.headers.authorization ?? "", /^Bearer ey/)
    })))

  for (
    const [name, overrides] of [
      ["a zero session id", { sessionId: "00000000-0000-0000-0000-000000000000" }],
      ["no queue URL", { messageQueueUrl: "" }],
      ["no queue token", { messageQueueAccessToken: "" }],
      ["no statistics", { statistics: null }]
    ] as const
  ) {
    it.live(`a session with ${name} is a ResponseDecodeError`, () =>
      wire(Effect.gen(function*() {
        const { client } = yield* setup((req, url) => is.create(req) ? { status: 200, body: sessionBody(url, overrides) } : undefined)
        const error = yield* Effect.flip(client.createMessageSession(1, "owner-1"))
        assert.strictEqual(error._tag, "ResponseDecodeError")
        assert.include(error.message, "/sessions")
      })))
  }

  it.live("a 409 conflict is retried on its schedule, then succeeds", () =>
    wire(Effect.gen(function*() {
      let creates = 0
      const conflict = { status: 409, body: { typeName: "TaskAgentSessionConflictException", message: "held" } }
      const { client } = yield* setup((req) => is.create(req) && ++creates <= 4 ? conflict : undefined, {
        session: { conflictRetryInterval: "10 millis", conflictRetryFor: "10 seconds" }
      })
      const session = yield* client.createMessageSession(1, "owner-1")
      assert.strictEqual((yield* session.session).sessionId, SESSION_ID)
      assert.strictEqual(creates, 5)
    })))

  it.effect("409 ×4 then 200 with the default schedule (every 30 s), on the TestClock", () =>
    wire(Effect.gen(function*() {
      let creates = 0
      const conflict = { status: 409, body: { typeName: "TaskAgentSessionConflictException", message: "held" } }
      const { client } = yield* setup((req) => is.create(req) && ++creates <= 4 ? conflict : undefined)
      const fiber = yield* Effect.fork(client.createMessageSession(1, "owner-1"))
      // real sockets: wait (in real time) for each attempt, then move the test clock past the wait
      const realPause = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 5)))
      for (let attempt = 1; attempt <= 4; attempt++) {
        while (creates < attempt) yield* realPause
        yield* realPause
        assert.strictEqual(creates, attempt, "no retry before the 30 s wait")
        yield* TestClock.adjust("30 seconds")
      }
      const session = yield* Fiber.join(fiber)
      assert.strictEqual((yield* session.session).sessionId, SESSION_ID)
      assert.strictEqual(creates, 5)
    })))

  it.live("a conflict that outlasts the schedule is a typed SessionConflict", () =>
    wire(Effect.gen(function*() {
      let creates = 0
      const { client } = yield* setup((req) =>
        is.create(req) && ++creates > 0
          ? { status: 409, body: { typeName: "TaskAgentSessionConflictException", message: "held" } }
          : undefined, { session: { conflictRetryInterval: "20 millis", conflictRetryFor: "100 millis" } })
      const error = yield* Effect.flip(client.createMessageSession(1, "owner-1"))
      assert.strictEqual(error._tag, "SessionConflict")
      assert.strictEqual((error as { status?: number }).status, 409)
      assert.isAbove(creates, 1)
      assert.isBelow(creates, 20)
    })))

  it.live("waiting out a conflict is interruptible", () =>
    wire(Effect.gen(function*() {
      const { client, service } = yield* setup((req) =>
        is.create(req) ? { status: 409, body: { typeName: "TaskAgentSessionConflictException", message: "held" } } : undefined, {
        session: { conflictRetryInterval: "1 hour", conflictRetryFor: "5 hours" }
      })
      const fiber = yield* Effect.fork(Effect.scoped(client.createMessageSession(1, "owner-1")))
      while (count(service.seen, is.create) === 0) yield* Effect.sleep("5 millis")
      const exit = yield* Fiber.interrupt(fiber).pipe(Effect.timeout("5 seconds"))
      assert.isTrue(Exit.isInterrupted(exit))
    })))
})

describe("MessageSession release", () => {
  it.live("closing the scope deletes the session", () =>
    wire(Effect.gen(function*() {
      const { client, service } = yield* setup(() => undefined)
      yield* Effect.scoped(client.createMessageSession(1, "owner-1"))
      const deletes = service.seen.filter(is.deleteSession)
      assert.strictEqual(deletes.length, 1)
      assert.strictEqual(deletes[0]!.path, `/tenant/_apis/runtime/runnerscalesets/1/sessions/${SESSION_ID}`)
    })))

  for (
    const [name, reply] of [
      ["404", { status: 404 }],
      ["400 SessionExpiredException", { status: 400, body: { typeName: "TaskAgentSessionExpiredException", message: "gone" } }],
      ["500", { status: 500, body: "down" }]
    ] as const
  ) {
    it.live(`a ${name} on delete does not fail the release`, () =>
      wire(Effect.gen(function*() {
        const { client, service } = yield* setup((req) => is.deleteSession(req) ? reply : undefined)
        const exit = yield* Effect.exit(Effect.scoped(client.createMessageSession(1, "owner-1")))
        assert.isTrue(Exit.isSuccess(exit))
        assert.isAtLeast(count(service.seen, is.deleteSession), 1)
      })))
  }

  it.live("the release is bounded by closeTimeout", () =>
    wire(Effect.gen(function*() {
      const { client, service } = yield* setup((req) => is.deleteSession(req) ? { stall: true } : undefined, {
        session: { closeTimeout: "200 millis" }
      })
      const exit = yield* Effect.exit(Effect.scoped(client.createMessageSession(1, "owner-1"))).pipe(Effect.timeout("5 seconds"))
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(count(service.seen, is.deleteSession), 1)
    })))

  it.live("interruption deletes the session", () =>
    wire(Effect.gen(function*() {
      const { client, service } = yield* setup(() => undefined)
      const fiber = yield* Effect.fork(Effect.scoped(Effect.zipRight(client.createMessageSession(1, "owner-1"), Effect.never)))
      while (count(service.seen, is.create) === 0) yield* Effect.sleep("5 millis")
      yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(count(service.seen, is.deleteSession), 1)
    })))
})

describe("MessageSession getMessage", () => {
  it.live("sends the queue headers, no api-version, lastMessageId only when > 0", () =>
    wire(Effect.gen(function*() {
      const { client, service } = yield* setup((req) => is.poll(req) ? { status: 202 } : undefined)
      const session = yield* client.createMessageSession(1, "owner-1")
      assert.isTrue(Option.isNone(yield* session.getMessage(0, 10)))
      yield* client.setSystemInfo({ system: "later", version: "2.0.0", commitSha: "def", scaleSetId: 1, subsystem: "unit" })
      assert.isTrue(Option.isNone(yield* session.getMessage(42, 3)))
      const [first, second] = service.seen.filter(is.poll)
      assert.strictEqual(first!.query.get("sig"), "abc")
      assert.isFalse(first!.query.has("lastMessageId"))
      assert.isFalse(first!.query.has("api-version"))
      assert.strictEqual(first!.headers.accept, "application/json; api-version=6.0-preview")
      assert.strictEqual(first!.headers.authorization, "Bearer queue-token-1")
      assert.strictEqual(first!.headers["x-scalesetmaxcapacity"], "10")
      assert.strictEqual(JSON.parse(first!.headers["user-agent"] ?? "{}").system, "test")
      assert.strictEqual(second!.query.get("lastMessageId"), "42")
      assert.strictEqual(second!.headers["x-scalesetmaxcapacity"], "3")
      assert.strictEqual(JSON.parse(second!.headers["user-agent"] ?? "{}").system, "later")
    })))

  it.live("decodes jobs in batch order, skips unknown types, zero times are absent", () =>
    wire(Effect.gen(function*() {
      const { client } = yield* setup((req) =>
        is.poll(req)
          ? message([
            job("JobAvailable", { acquireJobUrl: "x" }),
            job("SomethingNew"),
            job("JobStarted", { runnerId: 3, runnerName: "r" }),
            job("JobCompleted", { result: "succeeded", runnerId: 3, runnerName: "r" })
          ])
          : undefined
      )
      const session = yield* client.createMessageSession(1, "owner-1")
      const got = yield* session.getMessage(0, 10)
      assert.isTrue(Option.isSome(got))
      const msg = Option.getOrThrow(got)
      assert.strictEqual(msg.messageId, 7)
      assert.deepStrictEqual(msg.jobs.map((j) => j.messageType), ["JobAvailable", "JobStarted", "JobCompleted"])
      assert.strictEqual(msg.jobs[0]!.scaleSetAssignTime, undefined)
      assert.strictEqual(msg.jobs[0]!.finishTime, undefined)
      assert.strictEqual(msg.jobs[0]!.runnerAssignTime?.toISOString(), "2024-05-01T12:00:10.000Z")
      assert.strictEqual(msg.statistics?.totalAssignedJobs, 2)
    })))

  it.live("an empty job body means no jobs", () =>
    wire(Effect.gen(function*() {
      const { client } = yield* setup((req) => is.poll(req) ? message("") : undefined)
      const session = yield* client.createMessageSession(1, "owner-1")
      const msg = Option.getOrThrow(yield* session.getMessage(0, 10))
      assert.strictEqual(msg.jobs.length, 0)
    })))

  for (
    const [name, reply] of [
      ["an empty 200", { status: 200, body: "" }],
      ["a non-JSON 200", { status: 200, body: "<html>" }],
      ["a 200 of the wrong type", { status: 200, body: { messageId: "seven", messageType: "RunnerScaleSetJobMessages" } }],
      ["a job body that is not JSON", message("{not json")],
      ["another message type", { status: 200, body: { messageId: 1, messageType: "Other", body: "" } }]
    ] as const
  ) {
    it.live(`${name} is a ResponseDecodeError naming the request`, () =>
      wire(Effect.gen(function*() {
        const { client } = yield* setup((req) => is.poll(req) ? reply : undefined)
        const session = yield* client.createMessageSession(1, "owner-1")
        const error = yield* Effect.flip(session.getMessage(0, 10))
        assert.strictEqual(error._tag, "ResponseDecodeError")
        assert.include(error.message, "GET")
        assert.include(error.message, "/queue/messages")
      })))
  }

  it.live("a stalled long poll is cut at pollTimeout and retried", () =>
    wire(Effect.gen(function*() {
      let polls = 0
      const { client, service } = yield* setup((req) => is.poll(req) ? (++polls === 1 ? { stall: true } : { status: 202 }) : undefined, {
        session: { pollTimeout: "300 millis" }
      })
      const session = yield* client.createMessageSession(1, "owner-1")
      const got = yield* session.getMessage(0, 10).pipe(Effect.timeout("10 seconds"))
      assert.isTrue(Option.isNone(got))
      assert.strictEqual(count(service.seen, is.poll), 2)
    })))
})

describe("MessageSession deleteMessage and acquireJobs", () => {
  it.live("deleteMessage appends the id to the queue path (no //) and keeps the query", () =>
    wire(Effect.gen(function*() {
      const { client, service } = yield* setup((req, url) =>
        is.create(req)
          ? { status: 200, body: sessionBody(url, { messageQueueUrl: `${url}/queue/messages/?sig=abc` }) }
          : is.ack(req)
          ? { status: 204 }
          : undefined
      )
      const session = yield* client.createMessageSession(1, "owner-1")
      yield* session.deleteMessage(5)
      const [ack] = service.seen.filter(is.ack)
      assert.strictEqual(ack!.path, "/queue/messages/5")
      assert.strictEqual(ack!.query.get("sig"), "abc")
      assert.isFalse(ack!.query.has("api-version"))
      assert.strictEqual(ack!.headers.authorization, "Bearer queue-token-1")
    })))

  it.live("acquireJobs posts the ids with the queue token and api-version", () =>
    wire(Effect.gen(function*() {
      const { client, service } = yield* setup((req) => is.acquire(req) ? { status: 200, body: { count: 1, value: [101] } } : undefined)
      const session = yield* client.createMessageSession(1, "owner-1")
      const acquired = yield* session.acquireJobs([101, 102])
      assert.deepStrictEqual(acquired, [101])
      const [post] = service.seen.filter(is.acquire)
      assert.deepStrictEqual(JSON.parse(post!.body), [101, 102])
      assert.strictEqual(post!.headers.authorization, "Bearer queue-token-1")
      assert.strictEqual(post!.query.get("api-version"), "6.0-preview")
    })))
})

describe("MessageSession 401 and refresh", () => {
  const unauthorized: Reply = { status: 401, body: "token expired" }

  it.live("a 401 refreshes once (PATCH) and retries with the new token", () =>
    wire(Effect.gen(function*() {
      const { client, service } = yield* setup((req) =>
        is.poll(req) ? (req.headers.authorization === "Bearer queue-token-1" ? unauthorized : { status: 202 }) : undefined
      )
      const session = yield* client.createMessageSession(1, "owner-1")
      assert.isTrue(Option.isNone(yield* session.getMessage(0, 10)))
      assert.strictEqual(count(service.seen, is.refresh), 1)
      assert.deepStrictEqual(service.seen.filter(is.poll).map((r) => r.headers.authorization), [
        "Bearer queue-token-1",
        "Bearer queue-token-2"
      ])
    })))

  it.live("a 401 on deleteMessage refreshes once", () =>
    wire(Effect.gen(function*() {
      const { client, service } = yield* setup((req) =>
        is.ack(req) ? (req.headers.authorization === "Bearer queue-token-1" ? unauthorized : { status: 204 }) : undefined
      )
      const session = yield* client.createMessageSession(1, "owner-1")
      yield* session.deleteMessage(3)
      assert.strictEqual(count(service.seen, is.refresh), 1)
      assert.strictEqual(count(service.seen, is.ack), 2)
    })))

  it.live("a second 401 is MessageQueueTokenExpired", () =>
    wire(Effect.gen(function*() {
      const { client, service } = yield* setup((req) => is.acquire(req) ? unauthorized : undefined)
      const session = yield* client.createMessageSession(1, "owner-1")
      const error = yield* Effect.flip(session.acquireJobs([1]))
      assert.strictEqual(error._tag, "MessageQueueTokenExpired")
      assert.strictEqual(count(service.seen, is.refresh), 1)
      assert.strictEqual(count(service.seen, is.acquire), 2)
    })))

  it.live("concurrent 401s share one refresh", () =>
    wire(Effect.gen(function*() {
      const { client, service } = yield* setup((req) =>
        is.poll(req)
          ? (req.headers.authorization === "Bearer queue-token-1" ? { ...unauthorized, delayMs: 50 } : { status: 202 })
          : is.refresh(req)
          ? undefined
          : undefined
      )
      const session = yield* client.createMessageSession(1, "owner-1")
      const results = yield* Effect.all([session.getMessage(0, 1), session.getMessage(0, 2), session.getMessage(0, 3)], {
        concurrency: "unbounded"
      })
      assert.isTrue(results.every(Option.isNone))
      assert.strictEqual(count(service.seen, is.refresh), 1)
      assert.strictEqual(count(service.seen, is.poll), 6)
    })))

  it.live("a 404 on refresh re-creates the session (same owner) and retries once", () =>
    wire(Effect.gen(function*() {
      let creates = 0
      const { client, service } = yield* setup((req, url) => {
        if (is.create(req)) {
          creates++
          return creates === 1 ? undefined : { status: 200, body: sessionBody(url, { sessionId: SESSION_ID_2, messageQueueAccessToken: "queue-token-3" }) }
        }
        if (is.refresh(req)) return { status: 404, body: { typeName: "TaskAgentSessionNotFoundException", message: "gone" } }
        if (is.poll(req)) return req.headers.authorization === "Bearer queue-token-3" ? { status: 202 } : unauthorized
        return undefined
      })
      const scope = yield* Scope.make()
      const session = yield* client.createMessageSession(1, "owner-1").pipe(Scope.extend(scope))
      assert.isTrue(Option.isNone(yield* session.getMessage(0, 10)))
      assert.strictEqual((yield* session.session).sessionId, SESSION_ID_2)
      const posts = service.seen.filter(is.create)
      assert.strictEqual(posts.length, 2)
      assert.strictEqual(JSON.parse(posts[1]!.body).ownerName, "owner-1")
      yield* Scope.close(scope, Exit.void)
      const deletes = service.seen.filter(is.deleteSession)
      assert.deepStrictEqual(deletes.map((d) => d.path.split("/").pop()), [SESSION_ID_2])
    })))
})
