import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Context from "effect/Context"
import type * as Exit from "effect/Exit"
import * as Tracer from "effect/Tracer"
import { Span } from "@scaleset/core"
import { fakeService, patClient, type Reply, sessionReply } from "./helpers/service.js"

/** A tracer that keeps every span it makes, as an exporter would see them. */
const recordingTracer = () => {
  const spans: Array<Recorded> = []
  class Recorded implements Tracer.Span {
    readonly _tag = "Span"
    readonly spanId = `span-${spans.length}`
    readonly traceId: string
    readonly sampled = true
    readonly attributes = new Map<string, unknown>()
    readonly links: Array<Tracer.SpanLink>
    status: Tracer.SpanStatus
    exit: Exit.Exit<unknown, unknown> | undefined
    constructor(
      readonly name: string,
      readonly parent: Option.Option<Tracer.AnySpan>,
      readonly context: Context.Context<never>,
      links: ReadonlyArray<Tracer.SpanLink>,
      startTime: bigint,
      readonly kind: Tracer.SpanKind
    ) {
      this.traceId = Option.match(parent, { onNone: () => "trace", onSome: (p) => p.traceId })
      this.links = [...links]
      this.status = { _tag: "Started", startTime }
      spans.push(this)
    }
    end(endTime: bigint, exit: Exit.Exit<unknown, unknown>) {
      this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
      this.exit = exit
    }
    attribute(key: string, value: unknown) {
      this.attributes.set(key, value)
    }
    event() {}
    addLinks(links: ReadonlyArray<Tracer.SpanLink>) {
      this.links.push(...links)
    }
  }
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => new Recorded(name, parent, context, links, startTime, kind),
    context: (f) => f()
  })
  return { tracer, spans }
}

const handle = (service: { url: string }) => (req: { method: string; path: string }): Reply => {
  if (req.path.endsWith("/sessions") && req.method === "POST") return sessionReply(service, "mq-secret-token")
  if (req.path === "/tenant/mq") return { status: 202 }
  if (req.method === "DELETE") return { status: 204 }
  if (req.path.endsWith("/agents/404")) return { status: 404, body: { typeName: "AgentNotFoundException", message: "no runner" } }
  return { status: 200, body: { id: 1, name: "runner-1", runnerScaleSetId: 1 } }
}

describe("spans with a tracer installed", () => {
  it.live("every operation has its span: name, attributes, the request's method, URL, status and attempts, no secrets", () => {
    const { tracer, spans } = recordingTracer()
    return Effect.gen(function*() {
      const service: { url: string } = { url: "" }
      const fake = yield* fakeService({ handle: (req) => handle(service)(req) })
      service.url = fake.url
      const client = yield* patClient(fake)
      yield* Effect.withSpan(client.getRunner(1), "app.operation")
      yield* Effect.flip(client.getRunner(404))
      yield* Effect.scoped(Effect.flatMap(client.createMessageSession(1, "o"), (session) => session.getMessage(0, 5)))

      const byName = (name: string) => spans.filter((s) => s.name === name)
      const [getRunner, notFound] = byName("ScaleSetClient.getRunner")
      assert.strictEqual(getRunner?.attributes.get("runnerId"), 1)
      assert.strictEqual(getRunner?.attributes.get("http.request.method"), "GET")
      assert.match(String(getRunner?.attributes.get("url.full")), /\/_apis\/distributedtask\/pools\/0\/agents\/1\?api-version=6\.0-preview$/)
      assert.strictEqual(getRunner?.attributes.get("http.response.status_code"), 200)
      assert.strictEqual(getRunner?.attributes.get("http.request.attempts"), 1)
      assert.strictEqual(getRunner?.status._tag, "Ended")
      // the caller's span is the parent
      assert.strictEqual(Option.getOrUndefined(getRunner!.parent)?.spanId, byName("app.operation")[0]?.spanId)
      // a failed operation: its span ended with the failure and the status of the answer
      assert.strictEqual(notFound?.attributes.get("http.response.status_code"), 404)
      assert.isTrue(notFound?.exit?._tag === "Failure")
      assert.strictEqual(byName("ScaleSetClient.refreshAdminToken").length, 1)
      assert.strictEqual(byName("ScaleSetClient.createMessageSession")[0]?.attributes.get("scaleSetId"), 1)
      const poll = byName("MessageSession.getMessage")[0]
      assert.strictEqual(poll?.attributes.get("maxCapacity"), 5)
      assert.strictEqual(poll?.attributes.get("http.response.status_code"), 202)
      // no token in any attribute
      const values = spans.flatMap((s) => [...s.attributes.values()].map(String)).join("\n")
      for (const secret of ["mq-secret-token", "reg-token", "Bearer", "RemoteAuth"]) assert.notInclude(values, secret)
    }).pipe(Effect.scoped, Effect.withTracer(tracer))
  })

  it.live("under the built-in tracer a request does not annotate the caller's span", () =>
    Effect.gen(function*() {
      const fake = yield* fakeService({ handle: () => ({ status: 200, body: { id: 1, name: "runner-1", runnerScaleSetId: 1 } }) })
      const client = yield* patClient(fake)
      const attributes = yield* Effect.withSpan(
        Effect.zipRight(client.getRunner(1), Effect.map(Effect.currentSpan, (span) => span.attributes)),
        "app.operation"
      )
      assert.isFalse(attributes.has("url.full"))
      assert.isFalse(attributes.has("http.response.status_code"))
    }).pipe(Effect.scoped))

  it.effect("withOperationSpan makes its span for an installed tracer only", () => {
    const { tracer } = recordingTracer()
    const inner = Span.withOperationSpan(Effect.map(Effect.currentSpan, (span) => span.name), "library.operation", { a: 1 })
    return Effect.gen(function*() {
      // the built-in tracer: the caller's span stays current inside the operation
      assert.strictEqual(yield* Effect.withSpan(inner, "app.operation"), "app.operation")
      // an installed tracer: the operation's own span
      assert.strictEqual(yield* Effect.withSpan(inner, "app.operation").pipe(Effect.withTracer(tracer)), "library.operation")
    })
  })
})
