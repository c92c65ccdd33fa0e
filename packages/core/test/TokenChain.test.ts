import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { adminJwt, fakeJwt } from "./helpers/keys.js"
import { fakeService, patClient, type Seen } from "./helpers/service.js"

const runner = (req: Seen) => ({ status: 200, body: { id: Number(req.path.split("/").pop()), name: "r", runnerScaleSetId: 1 } })
const bearer = (s: Seen) => String(s.headers.authorization ?? "")

describe("token chain", () => {
  it.live("32 concurrent callers on a cold client run exactly one chain", () =>
    Effect.gen(function*() {
      const service = yield* fakeService({ handle: runner })
      const client = yield* patClient(service)
      yield* Effect.forEach(Array.from({ length: 32 }, (_, i) => i + 1), (id) => client.getRunner(id), { concurrency: "unbounded" })
      assert.strictEqual(service.chains(), 1)
      assert.strictEqual(service.seen.filter((s) => s.path.endsWith("registration-token")).length, 1)
      assert.strictEqual(service.actions().length, 32)
    }).pipe(Effect.scoped))

  it.live("32 concurrent callers on an expiring token run exactly one refresh, and all use the new token", () =>
    Effect.gen(function*() {
      const tokens = [adminJwt(30, "old"), adminJwt(600, "new")]
      const service = yield* fakeService({ adminToken: (n) => tokens[n] ?? adminJwt(600, "extra"), handle: runner })
      const client = yield* patClient(service)
      yield* client.getRunner(1)
      assert.strictEqual(service.chains(), 1)
      yield* Effect.forEach(Array.from({ length: 32 }, (_, i) => i + 1), (id) => client.getRunner(id), { concurrency: "unbounded" })
      assert.strictEqual(service.chains(), 2)
      const later = service.actions().slice(1)
      assert.strictEqual(later.length, 32)
      for (const s of later) assert.strictEqual(bearer(s), `Bearer ${tokens[1]}`)
    }).pipe(Effect.scoped))

  it.live("a token is refreshed when it expires within 60 s, and kept otherwise", () =>
    Effect.gen(function*() {
      const tokens = [adminJwt(75, "a"), adminJwt(55, "b"), adminJwt(600, "c")]
      const service = yield* fakeService({ adminToken: (n) => tokens[n] ?? adminJwt(600, "x"), handle: runner })
      const client = yield* patClient(service)
      yield* client.getRunner(1) // chain 1: exp in 75 s
      yield* client.getRunner(1) // still > 60 s: no refresh
      assert.strictEqual(service.chains(), 1)
      assert.strictEqual(service.actions().length, 2)
      // force the 55 s token in: a fresh client whose first token is b
      const service2 = yield* fakeService({ adminToken: (n) => tokens[n + 1] ?? adminJwt(600, "x"), handle: runner })
      const client2 = yield* patClient(service2)
      yield* client2.getRunner(1) // token b (55 s)
      yield* client2.getRunner(1) // within 60 s: refreshed to c
      assert.strictEqual(service2.chains(), 2)
      assert.deepStrictEqual(service2.actions().map(bearer), [`Bearer ${tokens[1]}`, `Bearer ${tokens[2]}`])
    }).pipe(Effect.scoped))

  for (const [name, bad] of [["not a JWT", "secret-admin-token-not-a-jwt"], ["a JWT without exp", adminJwt(null, "noexp")]] as const) {
    it.live(`an admin token that is ${name} fails, sends nothing with it, and the next call refreshes`, () =>
      Effect.gen(function*() {
        const tokens = [adminJwt(30, "short"), bad, adminJwt(600, "good")]
        const service = yield* fakeService({ adminToken: (n) => tokens[n] ?? adminJwt(600, "x"), handle: runner })
        const client = yield* patClient(service)
        yield* client.getRunner(1) // the short token works once
        const error = yield* Effect.flip(client.getRunner(2))
        assert.strictEqual(error._tag, "AuthError")
        if (error._tag === "AuthError") assert.strictEqual(error.step, "admin-connection")
        assert.notInclude(error.message, bad)
        assert.strictEqual(service.actions().length, 1, "the Actions request was not sent")
        const third = yield* client.getRunner(3)
        assert.strictEqual(third.id, 3)
        assert.strictEqual(service.chains(), 3)
        assert.deepStrictEqual(service.actions().map(bearer), [`Bearer ${tokens[0]}`, `Bearer ${tokens[2]}`])
        assert.isFalse(service.seen.some((s) => bearer(s).includes(bad)))
      }).pipe(Effect.scoped))
  }

  for (const serviceUrl of ["not a url", "ftp://actions.example/tenant"]) {
    it.live(`a runner-registration url ${JSON.stringify(serviceUrl)} is an admin-connection error, not a defect`, () =>
      Effect.gen(function*() {
        const service = yield* fakeService({ serviceUrl: () => serviceUrl, handle: runner })
        const client = yield* patClient(service)
        const error = yield* Effect.flip(client.getRunner(1))
        assert.strictEqual(error._tag, "AuthError")
        if (error._tag === "AuthError") {
          assert.strictEqual(error.step, "admin-connection")
          assert.include(error.message, "runner-registration")
        }
        assert.strictEqual(service.actions().length, 0)
      }).pipe(Effect.scoped))
  }

  it.live("no global lock: two slow operations are in flight at the same time", () =>
    Effect.gen(function*() {
      const service = yield* fakeService({ handle: (req) => ({ ...runner(req), delayMs: 300 }) })
      const client = yield* patClient(service)
      yield* client.getRunner(1) // warm the token chain
      yield* Effect.all([client.getRunner(2), client.getRunner(3)], { concurrency: "unbounded" })
      assert.strictEqual(service.maxInFlight(), 2)
    }).pipe(Effect.scoped))

  it.effect("the refresh window on the TestClock: 61 s before exp keeps the token, 59 s refreshes it", () =>
    Effect.gen(function*() {
      // the TestClock starts at the epoch: exp = 1000 s is absolute time on it
      const jwt = (exp: number, tag: string) => fakeJwt({ iss: "123", exp }, tag)
      const tokens = [jwt(1000, "first"), jwt(5000, "second")]
      const service = yield* fakeService({ adminToken: (n) => tokens[n] ?? jwt(9000, "extra"), handle: runner })
      const client = yield* patClient(service)
      yield* client.getRunner(1)
      yield* TestClock.setTime(939_000) // exp in 61 s
      yield* client.getRunner(2)
      assert.strictEqual(service.chains(), 1)
      yield* TestClock.setTime(941_000) // exp in 59 s
      yield* client.getRunner(3)
      assert.strictEqual(service.chains(), 2)
      assert.deepStrictEqual(service.actions().map(bearer), [`Bearer ${tokens[0]}`, `Bearer ${tokens[0]}`, `Bearer ${tokens[1]}`])
    }).pipe(Effect.scoped))

  it.live("64 concurrent calls are in flight at the server at the same time", () =>
    Effect.gen(function*() {
      const service = yield* fakeService({ handle: (req) => ({ ...runner(req), delayMs: 300 }) })
      const client = yield* patClient(service)
      yield* client.getRunner(1) // warm the token chain
      yield* Effect.forEach(Array.from({ length: 64 }, (_, i) => i + 1), (id) => client.getRunner(id), { concurrency: "unbounded" })
      assert.strictEqual(service.maxInFlight(), 64)
    }).pipe(Effect.scoped))
})
