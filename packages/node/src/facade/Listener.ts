/**
 * The facade's `Listener`: the seed's polling loop (`new Listener(sessionClient, options)`,
 * `listener.run(scaler, { signal })`) over the Effect listener of `@scaleset/listener`.
 *
 * @since 0.1.0
 */
import type * as ScaleSetSchema from "@scaleset/core/ScaleSetSchema"
import * as Listener_ from "@scaleset/listener/Listener"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { type MessageSessionClient, sessionInternals } from "./Client.js"
import { fromCause, invalidArgument, isObject, ScalesetError, ValidationError } from "./errors.js"
import { type FacadeLogger, loggerLayer } from "./options.js"

/**
 * What the listener calls; each method may return a value or a Promise.
 *
 * @since 0.1.0
 */
export interface Scaler {
  /** Provision or remove runners to match `count`; answer how many runners there now are. */
  handleDesiredRunnerCount(count: number): number | Promise<number>
  handleJobStarted(jobInfo: ScaleSetSchema.JobStarted): void | Promise<void>
  handleJobCompleted(jobInfo: ScaleSetSchema.JobCompleted): void | Promise<void>
}

/** @since 0.1.0 */
export interface ListenerOptions {
  /** The scale set of the session (checked against it). */
  readonly scaleSetId: number
  /** The most runners the scale set may have (sent with every poll). */
  readonly maxRunners: number
  /** Where the listener logs (Info and above); default: the client's logger. */
  readonly logger?: FacadeLogger | undefined
}

const maxInt32 = 2 ** 31 - 1

/** `maxRunners` as the service takes it: an integer from 0 to 2^31 − 1. */
const checkMaxRunners = (maxRunners: unknown): number => {
  if (typeof maxRunners !== "number" || !Number.isInteger(maxRunners) || maxRunners < 0 || maxRunners > maxInt32) {
    throw new ValidationError(`maxRunners must be an integer from 0 to ${maxInt32}, got ${String(maxRunners)}`, {
      field: "maxRunners",
      reason: "out of range"
    })
  }
  return maxRunners
}

/** A scaler method threw or rejected: the run ends with that very error. */
class ScalerFailure extends Data.TaggedError("ScalerFailure")<{ readonly error: unknown }> {}

const call = <A>(f: () => A | Promise<A>): Effect.Effect<A, ScalerFailure> =>
  Effect.tryPromise({ try: async () => await f(), catch: (error) => new ScalerFailure({ error }) })

/**
 * Polls a message session and hands scaling events to a scaler.
 *
 * @since 0.1.0
 */
export class Listener {
  readonly #sessionClient: MessageSessionClient
  readonly #options: ListenerOptions
  readonly #maxRunners: Ref.Ref<number>

  constructor(sessionClient: MessageSessionClient, options: ListenerOptions) {
    if (!isObject(sessionClient) || !sessionInternals.has(sessionClient)) {
      throw new ValidationError("the session client was not created by client.createMessageSessionClient", {
        field: "sessionClient",
        reason: sessionClient === undefined || sessionClient === null ? "missing" : "not a session client"
      })
    }
    if (!isObject(options)) throw invalidArgument("options", "an object with scaleSetId and maxRunners", options)
    if (options.scaleSetId !== undefined && options.scaleSetId !== sessionClient.scaleSetId) {
      throw new ScalesetError(
        `scaleSetId ${options.scaleSetId} is not the session's scale set (${sessionClient.scaleSetId})`,
        "ValidationError"
      )
    }
    this.#sessionClient = sessionClient
    this.#options = options
    this.#maxRunners = Ref.unsafeMake(checkMaxRunners(options.maxRunners))
  }

  /**
   * Changes the maximum number of runners; the next poll reports it. Throws `ValidationError`
   * (keeping the old value) unless it is an integer from 0 to 2^31 − 1.
   */
  setMaxRunners(maxRunners: number): void {
    Effect.runSync(Ref.set(this.#maxRunners, checkMaxRunners(maxRunners)))
  }

  /**
   * Runs until `signal` aborts (rejecting with an error whose message is `aborted`) or a fatal
   * error. However it ends, the message session is deleted.
   */
  async run(scaler: Scaler, options: { readonly signal?: AbortSignal | undefined } = {}): Promise<never> {
    if (
      !isObject(scaler) || typeof scaler.handleDesiredRunnerCount !== "function" ||
      typeof scaler.handleJobStarted !== "function" || typeof scaler.handleJobCompleted !== "function"
    ) {
      throw invalidArgument("scaler", "an object with handleDesiredRunnerCount, handleJobStarted and handleJobCompleted", scaler)
    }
    const { edge, session } = sessionInternals.get(this.#sessionClient)!
    const effectScaler: Listener_.Scaler<ScalerFailure> = {
      handleDesiredRunnerCount: (count) => call(() => scaler.handleDesiredRunnerCount(count)),
      handleJobStarted: (job) => call(() => scaler.handleJobStarted(job)),
      handleJobCompleted: (job) => call(() => scaler.handleJobCompleted(job))
    }
    let program = Listener_.run(session, effectScaler, { maxRunners: this.#maxRunners })
    if (this.#options.logger !== undefined) program = Effect.provide(program, loggerLayer(this.#options.logger))
    const exit = await edge.runtime.runPromiseExit(program, options.signal === undefined ? undefined : { signal: options.signal })
    await this.#sessionClient.close().catch(() => undefined)
    if (Exit.isSuccess(exit)) throw new ScalesetError("the listener stopped", "Stopped")
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure) && failure.value instanceof ScalerFailure) throw failure.value.error
    throw fromCause(exit.cause)
  }
}
