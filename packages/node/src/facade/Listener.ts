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
import { fromCause, ScalesetError } from "./errors.js"
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
    if (!sessionInternals.has(sessionClient)) {
      throw new ScalesetError("the session client was not created by client.createMessageSessionClient", "ValidationError")
    }
    if (options.scaleSetId !== undefined && options.scaleSetId !== sessionClient.scaleSetId) {
      throw new ScalesetError(
        `scaleSetId ${options.scaleSetId} is not the session's scale set (${sessionClient.scaleSetId})`,
        "ValidationError"
      )
    }
    this.#sessionClient = sessionClient
    this.#options = options
    this.#maxRunners = Ref.unsafeMake(options.maxRunners)
  }

  /** Changes the maximum number of runners; the next poll reports it. */
  setMaxRunners(maxRunners: number): void {
    Effect.runSync(Ref.set(this.#maxRunners, maxRunners))
  }

  /**
   * Runs until `signal` aborts (rejecting with an error whose message is `aborted`) or a fatal
   * error. However it ends, the message session is deleted.
   */
  async run(scaler: Scaler, options: { readonly signal?: AbortSignal | undefined } = {}): Promise<never> {
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
