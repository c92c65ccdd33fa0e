/**
 * The listener: a message session turned into a `Stream` of scaling events, and `run`, which drives
 * a `Scaler` with it.
 *
 * Per poll: the first event is `DesiredRunners` from the session's statistics; then the queue is
 * long-polled with the id of the last message handled. No message gives `DesiredRunners` again
 * from the latest statistics. A message gives `Statistics`, its `JobAvailable` jobs acquired (batch
 * order), `JobAssigned`, every `JobStarted`, every `JobCompleted` (each in batch order), then
 * `DesiredRunners(totalAssignedJobs)`.
 *
 * Acknowledgement is after handling by default, so a message whose handling fails is delivered
 * again (at-least-once: handlers must be idempotent); after `maxDeliveries` failed deliveries
 * (default 3) it is acknowledged anyway and reported as a `PoisonMessage` event.
 * `ack: "before-handling"` acknowledges first, as the Go listener does; a handler failure then
 * ends the run.
 *
 * A message whose body does not decode is polled again, and given up on the same way after
 * `maxDeliveries` attempts, so one malformed message cannot wedge the loop.
 *
 * Transient failures (transport, timeouts, 5xx, 429, a garbled 200) are retried in the loop on
 * `retry` (default `Retry.reconnect`), keeping the last message id; anything else ends the
 * stream with a `ListenerClientError`. A message that arrived is handled completely even when
 * interruption is requested meanwhile; then the interruption takes effect (for the client's
 * sessions, an interruption already queued when the answer arrives wins: see
 * `MessageSession.atomicPoll`; the message, not acknowledged, is delivered again).
 *
 * Spans (`Listener.run`, `Listener.start`, `Listener.handleMessage`, and the session's requests)
 * are made when a tracer is installed; Effect's built-in tracer records nothing, and under it
 * none are made (`@scaleset/core/Span`).
 *
 * @since 0.1.0
 */
import type * as MessageSession from "@scaleset/core/MessageSession"
import * as Retry from "@scaleset/core/Retry"
import * as Span from "@scaleset/core/Span"
import * as ScaleSetClient from "@scaleset/core/ScaleSetClient"
import type { ResponseDecodeError } from "@scaleset/core/ScaleSetError"
import type * as ScaleSetSchema from "@scaleset/core/ScaleSetSchema"
import * as Channel from "effect/Channel"
import type * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { InvalidSession, ListenerClientError, ListenerConfigError, type ListenerError } from "./ListenerError.js"
import * as Metrics from "./Metrics.js"
import * as ScalingEventModule from "./ScalingEvent.js"
import { ScalingEvent } from "./ScalingEvent.js"

/**
 * What a scaler does with the events. `handleDesiredRunnerCount` answers with the number of
 * runners now provisioned (recorded as `gha_desired_runners`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Scaler<E = never, R = never> {
  readonly handleDesiredRunnerCount: (count: number) => Effect.Effect<number, E, R>
  readonly handleJobStarted: (job: ScaleSetSchema.JobStarted) => Effect.Effect<void, E, R>
  readonly handleJobCompleted: (job: ScaleSetSchema.JobCompleted) => Effect.Effect<void, E, R>
  /** Told about a message given up on (it was acknowledged without being handled). */
  readonly handlePoisonMessage?:
    | ((event: ScalingEventModule.PoisonMessage) => Effect.Effect<void, never, R>)
    | undefined
}

/**
 * `"after-handling"` (default): at-least-once. `"before-handling"`: the Go listener's order.
 *
 * @since 0.1.0
 * @category models
 */
export type AckMode = "after-handling" | "before-handling"

/**
 * @since 0.1.0
 * @category models
 */
export interface ListenerOptions {
  /**
   * The most runners this scale set may have, sent as `X-ScaleSetMaxCapacity`. A `Ref` (or
   * `SubscriptionRef`) is read on every poll, so it can change while the listener runs.
   * 0..2³¹−1; anything else ends the stream with a `ListenerConfigError`.
   */
  readonly maxRunners: number | Ref.Ref<number>
  readonly ack?: AckMode | undefined
  /** Deliveries of a message whose handling fails before it is given up on. Default 3. */
  readonly maxDeliveries?: number | undefined
  /** The wait after a failed handling, before the message is polled again. Default 1 second. */
  readonly redeliveryDelay?: Duration.DurationInput | undefined
  /** Waits between retries of transient failures. Default `Retry.reconnect`. */
  readonly retry?: Schedule.Schedule<unknown, MessageSession.MessageSessionError> | undefined
  /** Labels of the `gha_*` metrics. */
  readonly labels?: Metrics.Labels | undefined
  /** Where metrics go. Default `Metrics.recorder(labels)`. */
  readonly metrics?: Metrics.Recorder | undefined
}

/**
 * `ListenerOptions` plus where to open the session, for `eventsFromClient` / `runFromClient`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientListenerOptions extends ListenerOptions {
  readonly scaleSetId: number
  /** The session owner (a name for this listener, e.g. the host name). */
  readonly owner: string
  readonly session?: MessageSession.MessageSessionOptions | undefined
}

const MAX_INT32 = 2 ** 31 - 1
const ZERO_UUID = "00000000-0000-0000-0000-000000000000"

/**
 * Checks a max runners value: an integer in 0..2³¹−1.
 *
 * @since 0.1.0
 */
export const validateMaxRunners = (value: number): Effect.Effect<number, ListenerConfigError> =>
  Number.isInteger(value) && value >= 0 && value <= MAX_INT32
    ? Effect.succeed(value)
    : Effect.fail(
      new ListenerConfigError({
        field: "maxRunners",
        reason: `maxRunners must be between 0 and MaxInt32 (${MAX_INT32}), got ${value}`
      })
    )

/**
 * Whether a session failure is worth retrying: transport failures, timeouts, 429, 5xx (not 501)
 * and undecodable answers.
 *
 * @since 0.1.0
 */
export const isTransient = (error: MessageSession.MessageSessionError): boolean => {
  switch (error._tag) {
    case "ResponseDecodeError":
      return true
    case "ScaleSetApiError":
      return error.reason !== "StatusCode" || isTransientStatus(error.status)
    case "ActionsException":
      return isTransientStatus(error.status)
    default:
      return false
  }
}

const isTransientStatus = (status: number | undefined) =>
  status !== undefined && (status === 429 || (status >= 500 && status !== 501))

type Handle<E, R> = (event: ScalingEvent) => Effect.Effect<number | void, E, R>

/** Runs effects one after another (a chain of steps, not a loop over them). */
const sequence = <E>(effects: ReadonlyArray<Effect.Effect<unknown, E>>): Effect.Effect<void, E> =>
  effects.length === 0 ? Effect.void : Effect.asVoid(effects.reduce((chain, next) => Effect.zipRight(chain, next)))

type Operation = "getMessage" | "deleteMessage" | "acquireJobs"

/** What a poll brought: a message, or one that failed to decode too often and is given up on. */
type Polled =
  | { readonly _tag: "Message"; readonly message: ScaleSetSchema.RunnerScaleSetMessage }
  | {
    readonly _tag: "Undecodable"
    readonly messageId: number
    readonly deliveries: number
    readonly error: ResponseDecodeError
  }

/** The listener's loop: `start` gives the first event, `step` one poll and what it brings. */
interface Loop<E, R> {
  readonly start: Effect.Effect<Chunk.Chunk<ScalingEvent>, ListenerError | E, R>
  readonly step: Effect.Effect<Chunk.Chunk<ScalingEvent>, ListenerError | E, R>
  /** The log annotations of the listener (scale set and session). */
  readonly annotations: Readonly<Record<string, unknown>>
}

/**
 * How the loop runs: as the event stream (its consumer handles the events and pulls past them
 * to acknowledge), as a stream with a handler, or inside `run` (whose span and log annotations
 * enclose every step).
 */
type LoopMode = "events" | "eventsWith" | "run"

/** Checks the options and the session, and builds the loop over them. */
const makeLoop = <E, R>(
  session: MessageSession.MessageSession,
  options: ListenerOptions,
  handle: Handle<E, R>,
  mode: LoopMode
): Effect.Effect<Loop<E, R>, ListenerError> =>
  Effect.gen(function*() {
    // without a handler, a message is acknowledged when the consumer pulls past its events
    const deferAck = mode === "events" && options.ack !== "before-handling"
    // a JavaScript caller can pass nothing
    if ((session as MessageSession.MessageSession | undefined) == null) {
      return yield* new ListenerConfigError({ field: "session", reason: "client is required" })
    }
    if (!Number.isSafeInteger(session.scaleSetId) || session.scaleSetId <= 0) {
      return yield* new ListenerConfigError({ field: "scaleSetId", reason: `scaleSetId is required, got ${session.scaleSetId}` })
    }
    if (typeof options.maxRunners === "number") yield* validateMaxRunners(options.maxRunners)
    const maxDeliveries = options.maxDeliveries ?? 3
    if (!Number.isInteger(maxDeliveries) || maxDeliveries < 1) {
      return yield* new ListenerConfigError({ field: "maxDeliveries", reason: `must be a positive integer, got ${maxDeliveries}` })
    }
    const ackBefore = options.ack === "before-handling"
    const redeliveryDelay = Duration.decode(options.redeliveryDelay ?? Duration.seconds(1))
    const schedule = options.retry ?? Retry.reconnect
    const recorder = options.metrics ?? Metrics.recorder(options.labels)
    const maxRunners = options.maxRunners

    const initial = yield* session.session
    if (initial.sessionId === "" || initial.sessionId === ZERO_UUID) {
      return yield* new InvalidSession({ reason: "initial session is nil: it has no sessionId" })
    }
    if (initial.statistics == null) {
      return yield* new InvalidSession({ reason: "session statistics is nil" })
    }
    const annotations = { scaleSetId: session.scaleSetId, sessionId: initial.sessionId }

    // the loop's state, private to this run of the stream
    let latest: ScaleSetSchema.RunnerScaleSetStatistic = initial.statistics
    let lastMessageId = 0
    let pendingAck: number | undefined = undefined
    const failures = new Map<number, number>()

    /**
     * Retries transient failures; only the waits are interruptible, never a request under way. The
     * schedule's driver is made at the first failure: most calls succeed at once.
     */
    const withRetry = <A>(
      operation: Operation,
      effect: Effect.Effect<A, MessageSession.MessageSessionError>
    ): Effect.Effect<A, ListenerClientError> =>
      Effect.catchAll(effect, (first) => {
        if (!isTransient(first)) return Effect.fail(new ListenerClientError({ operation, cause: first }))
        return Effect.flatMap(Schedule.driver(schedule), (driver) => {
          const retry = (cause: MessageSession.MessageSessionError): Effect.Effect<A, ListenerClientError> => {
            const fatal = new ListenerClientError({ operation, cause })
            if (!isTransient(cause)) return Effect.fail(fatal)
            return Effect.logWarning(`${operation} failed; retrying`).pipe(
              Effect.annotateLogs({ ...annotations, error: cause.message }),
              Effect.zipRight(Effect.interruptible(driver.next(cause))),
              Effect.matchEffect({ onFailure: () => Effect.fail(fatal), onSuccess: () => Effect.catchAll(effect, retry) })
            )
          }
          return retry(first)
        })
      })

    // a number was validated above (and is recorded at the start); a Ref is read (and checked) on
    // every poll
    const readMaxRunners = typeof maxRunners === "number"
      ? undefined
      : Effect.flatMap(Ref.get(maxRunners), validateMaxRunners).pipe(Effect.tap(recorder.recordMaxRunners))

    // the session's operations have their own spans (MessageSession.deleteMessage, .getMessage)
    const acknowledge = (messageId: number) => withRetry("deleteMessage", session.deleteMessage(messageId))

    const desired = (): ScalingEvent => ScalingEvent.DesiredRunners({ count: latest.totalAssignedJobs, statistics: latest })

    /** The metrics of one event (desired runners: the count asked for). */
    const recordEvent = (event: ScalingEvent): Effect.Effect<void> | undefined => {
      switch (event._tag) {
        case "JobStarted":
          return recorder.recordJobStarted(event.job)
        case "JobCompleted":
          return recorder.recordJobCompleted(event.job)
        case "DesiredRunners":
          return recorder.recordDesiredRunners(event.count)
        default:
          return undefined
      }
    }

    /** One event: its metrics and the handler (desired runners: the count the scaler provisioned). */
    const handleEvent = (event: ScalingEvent): Effect.Effect<void, E, R> => {
      if (event._tag === "DesiredRunners") {
        return Effect.flatMap(handle(event), (provisioned) =>
          recorder.recordDesiredRunners(typeof provisioned === "number" ? provisioned : event.count))
      }
      const record = recordEvent(event)
      return record === undefined ? Effect.asVoid(handle(event)) : Effect.zipRight(record, handle(event))
    }

    /** The first event: desired runners from the session's statistics. */
    const start = Effect.gen(function*() {
      if (typeof maxRunners === "number") yield* recorder.recordMaxRunners(maxRunners)
      yield* recorder.recordStatistics(latest)
      const event = desired()
      yield* handleEvent(event)
      return Chunk.of(event)
    }).pipe((effect) => Span.withOperationSpan(effect, "Listener.start"))

    /** Handles one message; runs uninterruptibly (the caller masks). */
    // traced where a handler runs in it (`events` hands the events on, the consumer handles them)
    const handleMessage = (message: ScaleSetSchema.RunnerScaleSetMessage) =>
      mode === "events" ? handleMessageBody(message) : Span.withOperationSpan(
        handleMessageBody(message),
        "Listener.handleMessage",
        { messageId: message.messageId, jobs: message.jobs.length }
      )
    /** A handling that failed: delivered again, or after `maxDeliveries` given up on. */
    const handlingFailed = Effect.fnUntraced(function*(messageId: number, error: E) {
      // the message is already acknowledged: it cannot come again, so the run ends (Go)
      if (ackBefore) return yield* Effect.fail(error)
      const deliveries = (failures.get(messageId) ?? 0) + 1
      if (deliveries < maxDeliveries) {
        failures.set(messageId, deliveries)
        yield* Effect.logWarning("handling a message failed; it will be delivered again").pipe(
          Effect.annotateLogs({ ...annotations, messageId, deliveries, error: String(error) })
        )
        if (Duration.toMillis(redeliveryDelay) > 0) yield* Effect.interruptible(Effect.sleep(redeliveryDelay))
        return Chunk.empty<ScalingEvent>()
      }
      failures.delete(messageId)
      yield* Effect.logError("handling a message kept failing; acknowledging it without handling").pipe(
        Effect.annotateLogs({ ...annotations, messageId, deliveries, error: String(error) })
      )
      yield* acknowledge(messageId)
      lastMessageId = messageId
      const poison = ScalingEvent.PoisonMessage({ messageId, deliveries, error })
      yield* Effect.ignore(handle(poison))
      return Chunk.of<ScalingEvent>(poison)
    })

    // combinators rather than a generator, and the events built in one synchronous pass: this runs
    // for every message
    const handleMessageBody = (message: ScaleSetSchema.RunnerScaleSetMessage) =>
      Effect.suspend((): Effect.Effect<Chunk.Chunk<ScalingEvent>, ListenerError | E, R> => {
        const messageId = message.messageId
        const events: Array<ScalingEvent> = []
        // what runs before the events are handled, in order
        const before: Array<Effect.Effect<unknown, ListenerError>> = []
        if (message.statistics !== undefined) {
          latest = message.statistics
          before.push(recorder.recordStatistics(latest))
          events.push(ScalingEvent.Statistics({ messageId, statistics: latest }))
        } else {
          before.push(
            Effect.logWarning("a message came without statistics; keeping the previous ones").pipe(
              Effect.annotateLogs({ ...annotations, messageId })
            )
          )
        }
        if (ackBefore) before.push(acknowledge(messageId))

        const available: Array<number> = []
        const started: Array<ScaleSetSchema.JobStarted> = []
        const completed: Array<ScaleSetSchema.JobCompleted> = []
        for (const job of message.jobs) {
          switch (job.messageType) {
            case "JobAvailable":
              available.push(job.runnerRequestId)
              events.push(ScalingEvent.JobAvailable({ messageId, job }))
              break
            case "JobAssigned":
              events.push(ScalingEvent.JobAssigned({ messageId, job }))
              break
            case "JobStarted":
              started.push(job)
              break
            case "JobCompleted":
              completed.push(job)
              break
          }
        }
        if (available.length > 0) {
          before.push(Effect.flatMap(withRetry("acquireJobs", session.acquireJobs(available)), (acquired) =>
            Effect.logDebug("acquired jobs").pipe(
              Effect.annotateLogs({ ...annotations, messageId, requested: available.length, acquired: acquired.length })
            )))
        }
        for (const job of started) events.push(ScalingEvent.JobStarted({ messageId, job }))
        for (const job of completed) events.push(ScalingEvent.JobCompleted({ messageId, job }))
        events.push(desired())

        const handled = () => {
          failures.delete(messageId)
          if (deferAck) pendingAck = messageId
          lastMessageId = messageId
          return Chunk.unsafeFromArray(events)
        }
        if (deferAck) {
          // the event stream: only the metrics here; the message is acknowledged once its events
          // were pulled past
          for (const event of events) {
            const record = recordEvent(event)
            if (record !== undefined) before.push(record)
          }
          return Effect.map(sequence(before), handled)
        }
        return Effect.zipRight(
          sequence(before),
          Effect.flatMap(Effect.either(Effect.forEach(events, handleEvent, { discard: true })), (result) =>
            result._tag === "Left"
              ? handlingFailed(messageId, result.left)
              : ackBefore
              ? Effect.sync(handled)
              : Effect.map(acknowledge(messageId), handled))
        )
      })

    /**
     * A message whose body does not decode is polled again (a garbled answer may be transient);
     * once it failed `maxDeliveries` times it is given up on, like a message whose handling fails.
     */
    const giveUpOnUndecodable = (error: ResponseDecodeError) => {
      const messageId = error.messageId
      if (messageId === undefined) return Effect.fail(error)
      const deliveries = (failures.get(messageId) ?? 0) + 1
      failures.set(messageId, deliveries)
      return deliveries < maxDeliveries
        ? Effect.fail(error)
        : Effect.succeed(Option.some<Polled>({ _tag: "Undecodable", messageId, deliveries, error }))
    }

    const poisonUndecodable = (polled: Extract<Polled, { _tag: "Undecodable" }>) =>
      Effect.gen(function*() {
        failures.delete(polled.messageId)
        yield* Effect.logError("a message kept failing to decode; acknowledging it without handling").pipe(
          Effect.annotateLogs({ ...annotations, messageId: polled.messageId, deliveries: polled.deliveries, error: polled.error.message })
        )
        yield* acknowledge(polled.messageId)
        lastMessageId = polled.messageId
        const poison = ScalingEvent.PoisonMessage({ messageId: polled.messageId, deliveries: polled.deliveries, error: polled.error })
        yield* Effect.ignore(handle(poison))
        return Chunk.of<ScalingEvent>(poison)
      })

    /** What a poll brought: handled completely, even when an interruption is requested meanwhile. */
    const handlePolled = (polled: Polled) =>
      polled._tag === "Undecodable" ? poisonUndecodable(polled) : handleMessage(polled.message)

    /** After a poll that failed (an interruption too): what arrived is handled, then the step fails. */
    const pollFailed = (
      cause: Cause.Cause<ListenerClientError>,
      arrived: Option.Option<Polled>
    ): Effect.Effect<Chunk.Chunk<ScalingEvent>, ListenerError | E, R> =>
      Option.isSome(arrived)
        ? Effect.zipRight(Effect.exit(handlePolled(arrived.value)), Effect.failCause(cause))
        : Effect.failCause(cause)

    /** After a poll that succeeded: its message, or desired runners again. */
    const polled = (
      value: Option.Option<Polled>,
      restore: <A, E2, R2>(effect: Effect.Effect<A, E2, R2>) => Effect.Effect<A, E2, R2>
    ): Effect.Effect<Chunk.Chunk<ScalingEvent>, ListenerError | E, R> => {
      if (Option.isSome(value)) return handlePolled(value.value)
      const event = desired()
      return Effect.as(restore(handle(event)), Chunk.of(event))
    }

    /**
     * One poll and what it brings. A session whose poll is atomic (the client's) is polled on this
     * fiber: what it brought is kept the moment it is decoded, and nothing suspends in between.
     * Any other is polled on a child fiber, so an interruption can still see what it brought.
     */
    const step = Effect.uninterruptibleMask((restore) => {
      const poll = (max: number) => {
        let arrived = Option.none<Polled>()
        const once = Effect.matchEffect(session.getMessage(lastMessageId, max), {
          onSuccess: (message): Effect.Effect<Option.Option<Polled>, MessageSession.MessageSessionError> => {
            arrived = Option.map(message, (m): Polled => ({ _tag: "Message", message: m }))
            return Effect.succeed(arrived)
          },
          onFailure: (error): Effect.Effect<Option.Option<Polled>, MessageSession.MessageSessionError> =>
            error._tag === "ResponseDecodeError"
              ? Effect.tap(giveUpOnUndecodable(error), (value) => void (arrived = value))
              : Effect.fail(error)
        })
        const retried = withRetry("getMessage", once)
        if (session.atomicPoll === true) {
          return Effect.matchCauseEffect(restore(retried), {
            onFailure: (cause) => pollFailed(cause, arrived),
            onSuccess: (value) => polled(value, restore)
          })
        }
        return Effect.flatMap(Effect.fork(restore(retried)), (fiber) =>
          Effect.matchCauseEffect(restore(Fiber.join(fiber)), {
            onSuccess: (value) => polled(value, restore),
            onFailure: (cause) =>
              Effect.flatMap(Fiber.interrupt(fiber), (exit) =>
                pollFailed(cause, Exit.isSuccess(exit) ? exit.value : Option.none()))
          }))
      }
      const polling = readMaxRunners === undefined
        ? poll(maxRunners as number)
        : Effect.flatMap(restore(readMaxRunners), poll)
      const ack = pendingAck
      const acknowledged = ack === undefined ? polling : Effect.zipRight(
        restore(acknowledge(ack)),
        Effect.suspend(() => {
          pendingAck = undefined
          return polling
        })
      )
      // a pending interruption lands at the first interruptible step, before anything else happens
      // (Go checks its context here)
      return acknowledged
    })
    // the listener's own logs carry the annotations; a handler's logs get them from the step in a
    // stream with a handler (an annotation per step costs, so only there), and from `run` once
    const annotatedStep = mode === "eventsWith" ? Effect.annotateLogs(step, annotations) : step

    return { start: Effect.annotateLogs(start, annotations), step: annotatedStep, annotations } satisfies Loop<E, R>
  })

const engine = <E, R>(
  session: MessageSession.MessageSession,
  options: ListenerOptions,
  handle: Handle<E, R>,
  mode: "events" | "eventsWith"
): Stream.Stream<ScalingEvent, ListenerError | E, R> =>
  Stream.fromChannel(Channel.unwrap(
    Effect.flatMap(makeLoop(session, options, handle, mode), (loop) =>
      Effect.map(loop.start, (first) => {
        // the first event, then each step's events: a channel of its own, which takes fewer runtime
        // steps per message than `Stream.repeatEffectChunk`
        const steps: Channel.Channel<Chunk.Chunk<ScalingEvent>, unknown, ListenerError | E, unknown, never, unknown, R> =
          Channel.flatMap(Channel.fromEffect(loop.step), (events) => Channel.zipRight(Channel.write(events), steps))
        return Channel.zipRight(Channel.write(first), steps)
      }))
  ))

/**
 * The scaling events of a message session, forever (until interrupted or a fatal error). A
 * message is acknowledged once the consumer pulls past its events (or first, with
 * `ack: "before-handling"`); one whose events were not all consumed is delivered again to the
 * next listener. The session's scope is the caller's: closing it deletes the session.
 *
 * @since 0.1.0
 * @category streams
 */
export const events = (
  session: MessageSession.MessageSession,
  options: ListenerOptions
): Stream.Stream<ScalingEvent, ListenerError> =>
  engine(session, options, () => Effect.void, "events")

const dispatch = <E, R>(scaler: Scaler<E, R>): Handle<E, R> => (event) => {
  switch (event._tag) {
    case "DesiredRunners":
      return scaler.handleDesiredRunnerCount(event.count)
    case "JobStarted":
      return scaler.handleJobStarted(event.job)
    case "JobCompleted":
      return scaler.handleJobCompleted(event.job)
    case "PoisonMessage":
      return scaler.handlePoisonMessage ? scaler.handlePoisonMessage(event) : Effect.void
    default:
      return Effect.void
  }
}

/**
 * The scaling events of a message session, each handed to `handle` before it is emitted; a
 * message is acknowledged once all its events were handled. A failure of `handle` on a message
 * makes it delivered again (after-handling mode) and, after `maxDeliveries`, a `PoisonMessage`;
 * a failure on a `DesiredRunners` without a message ends the stream.
 *
 * @since 0.1.0
 * @category streams
 */
export const eventsWith = <E, R>(
  session: MessageSession.MessageSession,
  handle: (event: ScalingEvent) => Effect.Effect<number | void, E, R>,
  options: ListenerOptions
): Stream.Stream<ScalingEvent, ListenerError | E, R> => engine(session, options, handle, "eventsWith")

/**
 * Runs a scaler on a message session until interrupted or a fatal error: what draining
 * `eventsWith(session, scaler)` does, without a stream in between.
 *
 * @since 0.1.0
 * @category running
 */
export const run = <E, R>(
  session: MessageSession.MessageSession,
  scaler: Scaler<E, R>,
  options: ListenerOptions
): Effect.Effect<never, ListenerError | E, R> =>
  // the loop itself, not `eventsWith` drained: no stream to keep per listener (memory, per message)
  Effect.flatMap(makeLoop(session, options, dispatch(scaler), "run"), (loop) => {
    // not `Effect.forever`, which yields on every round: each step waits on the service anyway
    const forever: Effect.Effect<never, ListenerError | E, R> = Effect.flatMap(loop.step, () => forever)
    return Effect.annotateLogs(Effect.zipRight(loop.start, forever), loop.annotations)
  }).pipe((effect) => Span.withOperationSpan(effect, "Listener.run", { scaleSetId: session?.scaleSetId }))

const openSession = (options: ClientListenerOptions) =>
  Effect.gen(function*() {
    const client = yield* ScaleSetClient.ScaleSetClient
    const session = yield* client.createMessageSession(options.scaleSetId, options.owner, options.session).pipe(
      Effect.mapError((cause) => new ListenerClientError({ operation: "createSession", cause }))
    )
    const current = yield* session.session
    const labels: Metrics.Labels = {
      name: current.runnerScaleSet?.name,
      enterprise: client.config.enterprise,
      organization: client.config.organization,
      repository: client.config.repository,
      ...options.labels
    }
    return [session, { ...options, labels }] as const
  })

/**
 * Opens a message session of a scale set with the `ScaleSetClient` and streams its events;
 * closing the stream deletes the session.
 *
 * @since 0.1.0
 * @category streams
 */
export const eventsFromClient = (
  options: ClientListenerOptions
): Stream.Stream<ScalingEvent, ListenerError, ScaleSetClient.ScaleSetClient> =>
  Stream.unwrapScoped(Effect.map(openSession(options), ([session, opts]) => events(session, opts)))

/**
 * Opens a message session of a scale set with the `ScaleSetClient` and runs a scaler on it until
 * interrupted; the session is deleted when it ends, however it ends.
 *
 * @since 0.1.0
 * @category running
 */
export const runFromClient = <E, R>(
  scaler: Scaler<E, R>,
  options: ClientListenerOptions
): Effect.Effect<never, ListenerError | E, R | ScaleSetClient.ScaleSetClient> =>
  Effect.scoped(Effect.flatMap(openSession(options), ([session, opts]) => run(session, scaler, opts)))
