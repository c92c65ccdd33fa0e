import { assert, describe, it } from "@effect/vitest"
import { Listener } from "@scaleset/listener"
import { InvalidSession, ListenerClientError, ListenerConfigError } from "@scaleset/listener/ListenerError"
import type * as MessageSession from "@scaleset/core/MessageSession"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import {
  ackAfterHandling,
  type Call,
  type ExpectedCall,
  type GoMessage,
  makeHarness,
  type Scenario,
  scenarios,
  ScriptedScalerError
} from "./harness.js"

type Kind = "Cancelled" | "Client" | "Scaler" | "Listener" | "Validation"

interface Expectation {
  readonly calls: ReadonlyArray<ExpectedCall>
  readonly kind: Kind
  readonly messageContains: ReadonlyArray<string>
}

const goExpectation = (scenario: Scenario): Expectation => ({
  calls: scenario.expectCalls ?? [],
  kind: (scenario.expect.error?.kind ?? "Cancelled") as Kind,
  messageContains: scenario.expect.error?.messageContains ?? []
})

/**
 * The same scenario with acknowledgement after handling. A handler failure then leaves the
 * message unacknowledged, and it is polled for again with the previous id (the script then runs
 * out, which cancels the run).
 */
const defaultExpectation = (scenario: Scenario): Expectation => {
  const go = goExpectation(scenario)
  const withoutAck = go.calls.filter((c) => c.call !== "client.deleteMessage")
  switch (scenario.id) {
    case "listener-job-started-error":
    case "listener-job-completed-error":
      return {
        calls: [...withoutAck, { call: "client.getMessage", args: { lastMessageId: 0, maxCapacity: 10 } }],
        kind: "Cancelled",
        messageContains: []
      }
    case "listener-acquire-error":
      return { ...go, calls: withoutAck }
    case "listener-delete-message-error": {
      // the whole message is handled, then its acknowledgement fails
      const message = scenario.script!.getMessage![0]!.return as GoMessage
      return { ...go, calls: [...withoutAck, ...handlingCalls(message), { call: "client.deleteMessage", args: { messageId: 1 } }] }
    }
    default:
      return { ...go, calls: ackAfterHandling(go.calls) }
  }
}

/** The calls that handle a message after its statistics, in order (acknowledgement not included). */
const handlingCalls = (message: GoMessage): Array<ExpectedCall> => {
  const calls: Array<ExpectedCall> = []
  const available = (message.jobAvailableMessages ?? []) as ReadonlyArray<{ readonly runnerRequestId: number }>
  if (available.length > 0) calls.push({ call: "client.acquireJobs", args: { requestIds: available.map((j) => j.runnerRequestId) } })
  for (const job of message.jobStartedMessages ?? []) {
    calls.push({ call: "metrics.recordJobStarted", args: { job } }, { call: "scaler.handleJobStarted", args: { job } })
  }
  for (const job of message.jobCompletedMessages ?? []) {
    calls.push({ call: "metrics.recordJobCompleted", args: { job } }, { call: "scaler.handleJobCompleted", args: { job } })
  }
  const count = (message.statistics as { readonly totalAssignedJobs: number }).totalAssignedJobs
  calls.push({ call: "scaler.handleDesiredRunnerCount", args: { count } }, { call: "metrics.recordDesiredRunners", args: { count } })
  return calls
}

const assertCalls = (actual: ReadonlyArray<Call>, expected: ReadonlyArray<ExpectedCall>) => {
  assert.deepStrictEqual(
    actual.map(({ args, call }) => (args === undefined ? { call } : { call, args })),
    expected.map(({ args, call }) => (args === undefined ? { call } : { call, args }))
  )
  expected.forEach((call, i) => {
    if (call.contextCancelled === false) {
      assert.isFalse(actual[i]!.interruptible, `call ${i} (${call.call}) must not be interruptible`)
    }
  })
}

const assertOutcome = (exit: Exit.Exit<unknown, unknown>, expectation: Expectation) => {
  assert.isTrue(Exit.isFailure(exit), "the run must not succeed")
  if (Exit.isSuccess(exit)) return
  if (expectation.kind === "Cancelled") {
    assert.isTrue(Cause.isInterruptedOnly(exit.cause), `expected a bare interruption, got ${Cause.pretty(exit.cause)}`)
    return
  }
  const failure = Cause.failureOption(exit.cause)
  assert.isTrue(Option.isSome(failure), `expected a failure, got ${Cause.pretty(exit.cause)}`)
  if (Option.isNone(failure)) return
  const error = failure.value
  switch (expectation.kind) {
    case "Client":
      assert.instanceOf(error, ListenerClientError)
      break
    case "Scaler":
      assert.instanceOf(error, ScriptedScalerError)
      break
    case "Listener":
      assert.instanceOf(error, InvalidSession)
      break
    case "Validation":
      assert.instanceOf(error, ListenerConfigError)
      break
  }
  for (const text of expectation.messageContains) {
    assert.include((error as Error).message, text)
  }
}

const replay = (scenario: Scenario, ack: Listener.AckMode, expectation: Expectation) =>
  Effect.gen(function*() {
    const harness = yield* makeHarness(scenario, { exhaustedGetMessageCancels: ack === "after-handling" })
    const session = scenario.client === null ? (null as unknown as MessageSession.MessageSession) : harness.session
    const fiber = yield* Effect.fork(
      Listener.run(session, harness.scaler, {
        maxRunners: scenario.operation === "new" ? scenario.config.maxRunners : harness.maxRunners,
        ack,
        metrics: harness.metrics,
        redeliveryDelay: 0
      })
    )
    yield* harness.setRunFiber(fiber)
    const exit = yield* Fiber.await(fiber)
    assertCalls(harness.log, expectation.calls)
    assertOutcome(exit, expectation)
  })

describe("listener conformance (Go order, ack: before-handling)", () => {
  for (const scenario of scenarios) {
    it.effect(scenario.id, () => replay(scenario, "before-handling", goExpectation(scenario)))
  }
})

describe("listener conformance (default order, ack after handling)", () => {
  for (const scenario of scenarios) {
    it.effect(scenario.id, () => replay(scenario, "after-handling", defaultExpectation(scenario)))
  }
})
