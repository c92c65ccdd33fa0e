import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as Credentials from "@scaleset/core/Credentials"
import type * as MessageSession from "@scaleset/core/MessageSession"
import * as ScaleSetClient from "@scaleset/core/ScaleSetClient"
import type * as ScaleSetSchema from "@scaleset/core/ScaleSetSchema"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Simulator from "../src/Simulator.js"

/** A real core client against the simulator, over undici, with quick retries. */
export const clientFor = (
  sim: Pick<Simulator.SimulatorShape, "url" | "credentials">,
  options: { readonly credentials?: Credentials.Credentials; readonly url?: string; readonly retryMax?: number } = {}
) =>
  Effect.gen(function*() {
    // the undici dispatcher lives as long as the test's scope
    const http = yield* Layer.build(NodeHttpClient.layerUndici)
    return yield* ScaleSetClient.make({
      url: options.url ?? sim.url,
      credentials: options.credentials ?? sim.credentials,
      retry: { max: options.retryMax ?? 3, waitMin: "20 millis", waitMax: "200 millis" },
      session: { conflictRetryFor: 0, pollTimeout: "20 seconds" }
    }).pipe(Effect.provide(http))
  })

/** Polls and acknowledges messages until `done` says enough; every job message seen, in order. */
export const collectJobs = (
  session: MessageSession.MessageSession,
  done: (jobs: ReadonlyArray<ScaleSetSchema.JobMessage>) => boolean,
  options: {
    readonly maxCapacity?: number
    readonly onMessage?: (message: ScaleSetSchema.RunnerScaleSetMessage) => Effect.Effect<void, unknown>
    readonly maxPolls?: number
  } = {}
) =>
  Effect.gen(function*() {
    const jobs: Array<ScaleSetSchema.JobMessage> = []
    const messages: Array<ScaleSetSchema.RunnerScaleSetMessage> = []
    let last = 0
    for (let polls = 0; polls < (options.maxPolls ?? 100) && !done(jobs); polls++) {
      const message = yield* session.getMessage(last, options.maxCapacity ?? 10)
      if (Option.isNone(message)) continue
      messages.push(message.value)
      jobs.push(...message.value.jobs)
      last = message.value.messageId
      if (options.onMessage) yield* Effect.orDie(options.onMessage(message.value))
      yield* session.deleteMessage(message.value.messageId)
    }
    return { jobs, messages, lastMessageId: last }
  })

export const ofType = <T extends ScaleSetSchema.JobMessage["messageType"]>(
  jobs: ReadonlyArray<ScaleSetSchema.JobMessage>,
  type: T
) => jobs.filter((j): j is Extract<ScaleSetSchema.JobMessage, { messageType: T }> => j.messageType === type)
