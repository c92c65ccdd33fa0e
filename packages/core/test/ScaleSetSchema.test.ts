import { assert, describe, it } from "@effect/vitest"
import { ScaleSetSchema } from "@scaleset/core"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

const decodeStarted = Schema.decodeUnknownEither(ScaleSetSchema.JobStarted)
const issues = (u: unknown) =>
  Either.match(decodeStarted(u), {
    onLeft: (e) => ParseResult.ArrayFormatter.formatErrorSync(e).map((i) => `${i.path.join(".")}: ${i.message}`),
    onRight: () => []
  })

describe("job message schemas (lenient records)", () => {
  it("decodes every field, RFC 3339 times as Dates and the zero time as absent", () => {
    const job = Either.getOrThrow(decodeStarted({
      messageType: "JobStarted",
      runnerRequestId: 7,
      requestLabels: ["a", "b"],
      queueTime: "2024-05-01T12:00:00Z",
      runnerAssignTime: "2024-05-01T12:00:10.5+02:00",
      finishTime: "0001-01-01T00:00:00Z",
      runnerId: 3,
      runnerName: "r3",
      somethingNew: { ignored: true }
    }))
    assert.strictEqual(job.runnerRequestId, 7)
    assert.deepStrictEqual(job.requestLabels, ["a", "b"])
    assert.strictEqual(job.queueTime?.toISOString(), "2024-05-01T12:00:00.000Z")
    assert.strictEqual(job.runnerAssignTime?.toISOString(), "2024-05-01T10:00:10.500Z")
    assert.isFalse("finishTime" in job)
    assert.isFalse("somethingNew" in job)
  })

  it("gives missing and null fields their zero values", () => {
    const job = Either.getOrThrow(decodeStarted({ messageType: "JobStarted", repositoryName: null, requestLabels: null }))
    assert.strictEqual(job.repositoryName, "")
    assert.strictEqual(job.workflowRunId, 0)
    assert.deepStrictEqual(job.requestLabels, [])
    assert.isFalse("queueTime" in job)
  })

  it("names every wrongly typed field", () => {
    assert.deepStrictEqual(
      issues({ messageType: "JobStarted", runnerRequestId: "7", requestLabels: [1], queueTime: "yesterday", runnerName: 5 }),
      [
        "runnerRequestId: Expected a number",
        "requestLabels: Expected an array of strings",
        "queueTime: Expected an RFC 3339 time",
        "runnerName: Expected a string"
      ]
    )
  })

  it("rejects another message type and a non-object", () => {
    assert.deepStrictEqual(issues({ messageType: "JobCompleted" }), ["messageType: Expected \"JobStarted\""])
    assert.strictEqual(issues([1, 2]).length, 1)
    assert.strictEqual(issues(null).length, 1)
  })

  it("encodes back to the wire shape", () => {
    const job = Either.getOrThrow(decodeStarted({ messageType: "JobStarted", queueTime: "2024-05-01T12:00:00Z" }))
    const wire = Schema.encodeSync(ScaleSetSchema.JobStarted)(job) as Record<string, unknown>
    assert.strictEqual(wire.queueTime, "2024-05-01T12:00:00.000Z")
    assert.isFalse("finishTime" in wire)
  })
})

describe("JIT runner configs (a lenient record with a nested one)", () => {
  const decode = Schema.decodeUnknownEither(ScaleSetSchema.RunnerScaleSetJitRunnerConfig)
  const paths = (u: unknown) =>
    Either.match(decode(u), {
      onLeft: (e) => ParseResult.ArrayFormatter.formatErrorSync(e).map((i) => i.path.join(".")),
      onRight: () => []
    })
  it("decodes the runner as an Option and the config as a secret", () => {
    const config = Either.getOrThrow(decode({ runner: { id: 7, name: "r-7", runnerScaleSetId: 1 }, encodedJITConfig: "c2VjcmV0" }))
    assert.deepStrictEqual(config.runner._tag === "Some" ? config.runner.value : undefined, { id: 7, name: "r-7", runnerScaleSetId: 1 })
    assert.notInclude(String(config.encodedJITConfig), "c2VjcmV0")
    const empty = Either.getOrThrow(decode({ runner: null }))
    assert.strictEqual(empty.runner._tag, "None")
  })
  it("names the wrongly typed field inside the runner", () => {
    assert.deepStrictEqual(paths({ runner: { id: "7", name: "r" }, encodedJITConfig: "x" }), ["runner.id"])
    assert.deepStrictEqual(paths({ runner: 5, encodedJITConfig: 3 }), ["runner", "encodedJITConfig"])
  })
})
