import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Simulator from "../src/Simulator.js"

interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly json: Record<string, unknown>
}

const call = (url: string, init: { method?: string; token?: string; auth?: string; body?: unknown; accept?: string } = {}) =>
  Effect.promise(async (): Promise<Answer> => {
    const res = await fetch(url, {
      method: init.method ?? "GET",
      headers: {
        ...(init.token ? { Authorization: `Bearer ${init.token}` } : {}),
        ...(init.auth ? { Authorization: init.auth } : {}),
        ...(init.accept ? { Accept: init.accept } : {}),
        "Content-Type": "application/json"
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) })
    })
    const text = await res.text()
    return { status: res.status, headers: res.headers, json: (res.headers.get("content-type") ?? "").includes("json") ? JSON.parse(text) : { text } }
  })

const keys = (o: unknown) => Object.keys(o as object).sort()

describe("wire shapes", () => {
  it.scopedLive("field names, statuses and headers as PROTOCOL.md §3–§5 give them", () =>
    Effect.gen(function*() {
      const sim = yield* Simulator.make({ longPollHold: "200 millis" })
      const api = `${sim.origin}/api/v3`
      const reg = yield* call(`${api}/orgs/my-org/actions/runners/registration-token`, { method: "POST", token: Redacted.value(sim.pat) })
      assert.strictEqual(reg.status, 201)
      assert.deepStrictEqual(keys(reg.json), ["expires_at", "token"])
      assert.match(String(reg.json.expires_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
      assert.isNotNull(reg.headers.get("x-github-request-id"))
      const admin = yield* call(`${api}/actions/runner-registration`, {
        method: "POST",
        auth: `RemoteAuth ${reg.json.token}`,
        body: { url: sim.url, runner_event: "register" }
      })
      assert.strictEqual(admin.status, 201)
      const base = String(admin.json.url)
      const token = String(admin.json.token)
      const q = "api-version=6.0-preview"

      const created = yield* call(`${base}_apis/runtime/runnerscalesets?${q}`, {
        method: "POST",
        token,
        body: { name: "wire", runnerGroupId: 1, RunnerSetting: {}, createdOn: "0001-01-01T00:00:00Z" }
      })
      assert.strictEqual(created.status, 200)
      assert.isNotNull(created.headers.get("activityid"))
      for (const k of ["id", "name", "runnerGroupId", "runnerGroupName", "labels", "RunnerSetting", "createdOn", "runnerJitConfigUrl", "statistics"]) {
        assert.property(created.json, k)
      }
      assert.deepStrictEqual(created.json.labels, [{ type: "System", name: "wire" }])
      assert.deepStrictEqual(keys(created.json.statistics), [
        "totalAcquiredJobs", "totalAssignedJobs", "totalAvailableJobs", "totalBusyRunners", "totalIdleRunners",
        "totalRegisteredRunners", "totalRunningJobs"
      ])
      const id = Number(created.json.id)

      const list = yield* call(`${base}_apis/runtime/runnerscalesets?runnerGroupId=1&name=wire&${q}`, { token })
      assert.deepStrictEqual(keys(list.json), ["count", "value"])
      assert.strictEqual(list.json.count, 1)
      const missing = yield* call(`${base}_apis/runtime/runnerscalesets/999?${q}`, { token })
      assert.strictEqual(missing.status, 404)
      assert.include(String(missing.json.typeName), "RunnerScaleSetNotFoundException")
      assert.isString(missing.json.message)
      const noVersion = yield* call(`${base}_apis/runtime/runnerscalesets/${id}`, { token })
      assert.strictEqual(noVersion.status, 400)

      const groups = yield* call(`${base}_apis/runtime/runnergroups/?groupName=default&${q}`, { token })
      assert.deepStrictEqual(groups.json.value, [{ id: 1, name: "default", isDefaultGroup: true, size: 0 }])

      const jit = yield* call(`${base}_apis/runtime/runnerscalesets/${id}/generatejitconfig?${q}`, {
        method: "POST",
        token,
        body: { name: "wire-runner", workFolder: "" }
      })
      assert.deepStrictEqual(keys(jit.json), ["encodedJITConfig", "runner"])
      assert.strictEqual((jit.json.runner as { runnerScaleSetId: number }).runnerScaleSetId, id)

      const session = yield* call(`${base}_apis/runtime/runnerscalesets/${id}/sessions?${q}`, {
        method: "POST",
        token,
        body: { sessionId: "00000000-0000-0000-0000-000000000000", ownerName: "wire-owner" }
      })
      assert.deepStrictEqual(keys(session.json), [
        "messageQueueAccessToken", "messageQueueUrl", "ownerName", "runnerScaleSet", "sessionId", "statistics"
      ])
      assert.match(String(session.json.sessionId), /^[0-9a-f-]{36}$/)
      const queueUrl = String(session.json.messageQueueUrl)
      const queueToken = String(session.json.messageQueueAccessToken)
      assert.strictEqual(queueToken.split(".").length, 3)

      const empty = yield* call(queueUrl, { token: queueToken, accept: "application/json; api-version=6.0-preview" })
      assert.strictEqual(empty.status, 202)
      yield* sim.enqueueJobs({ count: 1 })
      const message = yield* call(queueUrl, { token: queueToken, accept: "application/json; api-version=6.0-preview" })
      assert.strictEqual(message.status, 200)
      assert.deepStrictEqual(keys(message.json), ["body", "messageId", "messageType", "statistics"])
      assert.strictEqual(message.json.messageType, "RunnerScaleSetJobMessages")
      assert.isString(message.json.body)
      const [job] = JSON.parse(String(message.json.body)) as Array<Record<string, unknown>>
      assert.deepStrictEqual(keys(job), [
        "acquireJobUrl", "eventName", "finishTime", "jobDisplayName", "jobId", "jobWorkflowRef", "messageType", "ownerName",
        "queueTime", "repositoryName", "requestLabels", "runnerAssignTime", "runnerRequestId", "scaleSetAssignTime", "workflowRunId"
      ])
      assert.strictEqual(job!.finishTime, "0001-01-01T00:00:00Z")

      const ackUrl = new URL(queueUrl)
      ackUrl.pathname += `/${message.json.messageId}`
      const ack = yield* call(ackUrl.toString(), { method: "DELETE", token: queueToken })
      assert.strictEqual(ack.status, 204)
      const acquired = yield* call(`${base}_apis/runtime/runnerscalesets/${id}/acquirejobs?${q}`, {
        method: "POST",
        token: queueToken,
        body: [job!.runnerRequestId]
      })
      assert.deepStrictEqual(acquired.json, { count: 1, value: [job!.runnerRequestId] })
      const withAdminToken = yield* call(`${base}_apis/runtime/runnerscalesets/${id}/acquirejobs?${q}`, { method: "POST", token, body: [] })
      assert.strictEqual(withAdminToken.status, 401)

      const refreshed = yield* call(`${base}_apis/runtime/runnerscalesets/${id}/sessions/${session.json.sessionId}?${q}`, { method: "PATCH", token })
      assert.strictEqual(refreshed.status, 200)
      assert.notStrictEqual(refreshed.json.messageQueueAccessToken, queueToken)
      const deleted = yield* call(`${base}_apis/runtime/runnerscalesets/${id}/sessions/${session.json.sessionId}?${q}`, { method: "DELETE", token })
      assert.strictEqual(deleted.status, 204)
      const gone = yield* call(queueUrl, { token: queueToken, accept: "application/json; api-version=6.0-preview" })
      assert.strictEqual(gone.status, 404)
    }))
})
