/**
 * A message session of a scale set: long polls of its message queue, acknowledgements and job
 * acquisition. Created in a `Scope` by `ScaleSetClient.createMessageSession`; closing the scope
 * deletes the session on the service.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import type * as Either from "effect/Either"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as SynchronizedRef from "effect/SynchronizedRef"
import type * as Retry from "./Retry.js"
import * as ScaleSetSchema from "./ScaleSetSchema.js"
import {
  MessageQueueTokenExpired,
  ResponseDecodeError,
  type RequestError,
  ValidationError
} from "./ScaleSetError.js"
import type { ActionsApi } from "./internal/actions.js"
import {
  decodeError,
  decodeJson,
  decodeJsonSync,
  describeParseError,
  errorFromResponse,
  joinBase,
  lastBase,
  withBaseQuery,
  type RawResponse,
  requestContext
} from "./internal/http.js"
import { withOperationSpan } from "./Span.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface MessageSession {
  readonly scaleSetId: number
  /**
   * `true` when `getMessage` hands a message over with no suspension after receiving it, as the
   * client's sessions do (the answer is decoded synchronously). A listener then polls on its own
   * fiber, a fiber fewer per poll; otherwise on a child fiber, so that an interruption requested
   * during the poll still finds the message the poll brought. The one case the child fiber covers
   * and its own fiber does not: an interruption already queued when the answer arrives wins, and
   * the message, not acknowledged, is delivered again.
   */
  readonly atomicPoll?: boolean | undefined
  /** The current session (it changes when the session is refreshed or re-created). */
  readonly session: Effect.Effect<ScaleSetSchema.RunnerScaleSetSession>
  /**
   * Long-polls the queue. `lastMessageId` is sent when > 0; `maxCapacity` (0..2³¹−1) tells the
   * service how many runners this scale set can have. `None` when the poll ended without a message.
   */
  readonly getMessage: (
    lastMessageId: number,
    maxCapacity: number
  ) => Effect.Effect<Option.Option<ScaleSetSchema.RunnerScaleSetMessage>, MessageSessionError>
  /** Acknowledges a message, so it is not delivered again. */
  readonly deleteMessage: (messageId: number) => Effect.Effect<void, MessageSessionError>
  /** Acquires the jobs of `JobAvailable` messages by their runner request ids. */
  readonly acquireJobs: (requestIds: ReadonlyArray<number>) => Effect.Effect<ReadonlyArray<number>, MessageSessionError>
  /** Refreshes the session (new queue token); a session gone on the service is re-created. */
  readonly refresh: Effect.Effect<ScaleSetSchema.RunnerScaleSetSession, RequestError>
  /** Deletes the session now. The scope's release then has nothing left to do. */
  readonly close: Effect.Effect<void, RequestError>
}

/** @since 0.1.0 @category errors */
export type MessageSessionError = RequestError | MessageQueueTokenExpired | ValidationError

/**
 * @since 0.1.0
 * @category models
 */
export interface MessageSessionOptions {
  /** Retry policy of session, message and acquire requests (defaults to the client's). */
  readonly retry?: Retry.RetryOptions | undefined
  /** Per-attempt timeout of session and acquire requests (defaults to the client's). */
  readonly timeout?: Duration.DurationInput | undefined
  /** A long poll is cut after this and retried; the service holds about 50 s. Default 90 s. */
  readonly pollTimeout?: Duration.DurationInput | undefined
  /** While another client holds the session (409), retry this often… Default 30 s. */
  readonly conflictRetryInterval?: Duration.DurationInput | undefined
  /** …for this long. Default 5 minutes; 0 fails at once. */
  readonly conflictRetryFor?: Duration.DurationInput | undefined
  /** The release (session delete) gives up after this. Default 10 s. */
  readonly closeTimeout?: Duration.DurationInput | undefined
}

const ZERO_UUID = "00000000-0000-0000-0000-000000000000"
const MAX_CAPACITY = 2 ** 31 - 1

const decodeSession = decodeJson(ScaleSetSchema.RunnerScaleSetSession)
const decodeEnvelopeSync = decodeJsonSync(ScaleSetSchema.MessageEnvelope)
const decodeAcquired = decodeJson(ScaleSetSchema.ListOf(Schema.Number))
const jobDecoders: Record<
  ScaleSetSchema.JobMessage["messageType"],
  (u: unknown) => Either.Either<ScaleSetSchema.JobMessage, ParseResult.ParseError>
> = {
  JobAvailable: Schema.decodeUnknownEither(ScaleSetSchema.JobAvailable),
  JobAssigned: Schema.decodeUnknownEither(ScaleSetSchema.JobAssigned),
  JobStarted: Schema.decodeUnknownEither(ScaleSetSchema.JobStarted),
  JobCompleted: Schema.decodeUnknownEither(ScaleSetSchema.JobCompleted)
}

/** A session the service answered with must be usable: id, queue URL, token and statistics. */
const validateSession = (res: RawResponse, session: ScaleSetSchema.RunnerScaleSetSession) => {
  const problem = session.sessionId === "" || session.sessionId === ZERO_UUID
    ? "the session has no sessionId"
    : session.messageQueueUrl === "" || !URL.canParse(session.messageQueueUrl)
    ? "the session has no valid messageQueueUrl"
    : Redacted.value(session.messageQueueAccessToken) === ""
    ? "the session has no messageQueueAccessToken"
    : session.statistics == null
    ? "the session has no statistics"
    : undefined
  return problem === undefined ? Effect.succeed(session) : Effect.fail(decodeError(res, problem))
}

type Decoded =
  | { readonly _tag: "Message"; readonly message: ScaleSetSchema.RunnerScaleSetMessage; readonly skipped: ReadonlyArray<string> }
  | { readonly _tag: "Error"; readonly error: ResponseDecodeError }

/** The decoding itself, synchronous: it runs for every message. */
const decodeMessageSync = (res: RawResponse): Decoded => {
  const fail = (error: ResponseDecodeError): Decoded => ({ _tag: "Error", error })
  const envelope = decodeEnvelopeSync(res)
  if (envelope._tag === "Left") return fail(envelope.left)
  const { messageId, messageType, body, statistics } = envelope.right
  if (messageType !== "RunnerScaleSetJobMessages") {
    return fail(decodeError(res, `unsupported message type ${JSON.stringify(messageType)}`))
  }
  const message = (jobs: ReadonlyArray<ScaleSetSchema.JobMessage>, skipped: ReadonlyArray<string>): Decoded => ({
    _tag: "Message",
    message: { messageId, messageType, statistics, jobs },
    skipped
  })
  if (body.trim() === "") return message([], [])
  // the envelope decoded, so the error can name the message: a listener may give up on it
  const bodyError = (reason: string) => fail(new ResponseDecodeError({ ...requestContext(res, res), reason, messageId }))
  let items: unknown
  try {
    items = JSON.parse(body)
  } catch {
    return bodyError("the message body is not JSON")
  }
  if (!Array.isArray(items)) return bodyError("the message body is not a JSON array")
  const jobs: Array<ScaleSetSchema.JobMessage> = []
  const skipped: Array<string> = []
  for (let index = 0; index < items.length; index++) {
    const item: unknown = items[index]
    const type = typeof item === "object" && item !== null ? (item as { messageType?: unknown }).messageType : undefined
    const decode = typeof type === "string" && Object.hasOwn(jobDecoders, type)
      ? jobDecoders[type as keyof typeof jobDecoders]
      : undefined
    if (decode === undefined) {
      skipped.push(String(type))
      continue
    }
    const job = decode(item)
    if (job._tag === "Left") return bodyError(`job message ${index} (${String(type)}): ${describeParseError(job.left)}`)
    jobs.push(job.right)
  }
  return message(jobs, skipped)
}

const decoded = <A>(res: RawResponse, f: (message: ScaleSetSchema.RunnerScaleSetMessage) => A): Effect.Effect<A, ResponseDecodeError> => {
  const result = decodeMessageSync(res)
  if (result._tag === "Error") return Effect.fail(result.error)
  const value = f(result.message)
  return result.skipped.length === 0 ? Effect.succeed(value) : Effect.as(
    Effect.logDebug("skipped job messages of unknown type").pipe(
      Effect.annotateLogs({ messageId: result.message.messageId, messageTypes: result.skipped.join(",") })
    ),
    value
  )
}

/**
 * Decodes a queue message: the envelope, then its `body` (a JSON string) job by job. Unknown job
 * types are skipped; a malformed known one fails the whole message.
 *
 * @since 0.1.0
 */
export const decodeMessage = (res: RawResponse): Effect.Effect<ScaleSetSchema.RunnerScaleSetMessage, ResponseDecodeError> =>
  decoded(res, (message) => message)

const sessionPath = (scaleSetId: number, sessionId?: string) =>
  `_apis/runtime/runnerscalesets/${scaleSetId}/sessions${sessionId === undefined ? "" : `/${sessionId}`}`

interface State {
  readonly session: ScaleSetSchema.RunnerScaleSetSession
  /** Increments on every refresh, so concurrent 401s refresh once. */
  readonly generation: number
  readonly closed: boolean
}

/**
 * Creates a session and returns it in the current scope. Internal: use
 * `ScaleSetClient.createMessageSession`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  api: ActionsApi,
  scaleSetId: number,
  owner: string,
  options: MessageSessionOptions = {}
): Effect.Effect<MessageSession, RequestError | ValidationError, Scope.Scope> =>
  Effect.gen(function*() {
    if (!Number.isSafeInteger(scaleSetId) || scaleSetId <= 0) {
      return yield* new ValidationError({ field: "scaleSetId", reason: `must be a positive integer, got ${scaleSetId}` })
    }
    const retry = options.retry
    const timeout = options.timeout
    const pollTimeout = options.pollTimeout ?? Duration.seconds(90)

    const create = Effect.gen(function*() {
      const res = yield* api.request({
        method: "POST",
        path: sessionPath(scaleSetId),
        json: { sessionId: ZERO_UUID, ownerName: owner },
        ok: [200],
        retry,
        timeout
      })
      return yield* decodeSession(res).pipe(Effect.flatMap((s) => validateSession(res, s)))
    })

    const conflictSchedule = Schedule.spaced(options.conflictRetryInterval ?? Duration.seconds(30)).pipe(
      Schedule.upTo(options.conflictRetryFor ?? Duration.minutes(5))
    )
    // The acquisition runs uninterruptibly (so a created session always gets its release), but
    // the waits between conflict retries are interruptible: SIGINT does not wait 5 minutes.
    const createWithConflictRetry = Effect.flatMap(Schedule.driver(conflictSchedule), (driver) => {
      const attempt: Effect.Effect<ScaleSetSchema.RunnerScaleSetSession, RequestError> = Effect.catchTag(
        create,
        "SessionConflict",
        (conflict) =>
          Effect.logInfo("another client holds the message session of this scale set; retrying").pipe(
            Effect.annotateLogs({ scaleSetId, owner }),
            Effect.zipRight(Effect.interruptible(driver.next(conflict))),
            Effect.matchEffect({ onFailure: () => Effect.fail(conflict), onSuccess: () => attempt })
          )
      )
      return attempt
    })

    // the state, written only under the ref's lock; `latest` mirrors it for the per-request read
    let latest: State
    const state = yield* Effect.acquireRelease(
      Effect.flatMap(createWithConflictRetry, (session) =>
        SynchronizedRef.make<State>(latest = { session, generation: 0, closed: false })),
      (ref) =>
        deleteSession(ref).pipe(
          // the release runs uninterruptibly: make the delete interruptible so the timeout can cut it
          Effect.interruptible,
          Effect.timeout(options.closeTimeout ?? Duration.seconds(10)),
          Effect.catchAllCause((cause) =>
            Effect.logWarning("the message session was not deleted", cause).pipe(Effect.annotateLogs({ scaleSetId })))
        )
    )

    function deleteSession(ref: SynchronizedRef.SynchronizedRef<State>): Effect.Effect<void, RequestError> {
      return SynchronizedRef.updateEffect(ref, (current) =>
        current.closed ? Effect.succeed(current) : api.request({
          method: "DELETE",
          path: sessionPath(scaleSetId, current.session.sessionId),
          ok: [204, 404, 400],
          retry,
          timeout
        }).pipe(
          Effect.flatMap((res) =>
            // 404 and 400 …SessionExpiredException mean the session is already gone
            res.status === 204 || res.status === 404 || res.text.includes("SessionExpiredException")
              ? Effect.void
              : Effect.fail(errorFromResponse(res))
          ),
          Effect.as(latest = { ...current, closed: true })
        ))
    }

    /** Refreshes once per generation: concurrent callers that saw the same 401 share one PATCH. */
    const refreshFrom = (seen: number) =>
      SynchronizedRef.modifyEffect(state, (current) => {
        if (current.generation !== seen) return Effect.succeed([current.session, current] as const)
        return api.request({
          method: "PATCH",
          path: sessionPath(scaleSetId, current.session.sessionId),
          ok: [200, 404],
          retry,
          timeout
        }).pipe(
          Effect.flatMap((res) =>
            res.status === 404
              ? Effect.zipLeft(
                create,
                Effect.logInfo("the message session was gone; created a new one").pipe(
                  Effect.annotateLogs({ scaleSetId })
                )
              )
              : Effect.flatMap(decodeSession(res), (s) => validateSession(res, s))
          ),
          Effect.map((session) => [session, latest = { session, generation: current.generation + 1, closed: false }] as const)
        )
      })

    /** Runs a queue request; on 401 refreshes the session once and retries; a second 401 is final. */
    const withQueueToken = <A, E>(
      send: (session: ScaleSetSchema.RunnerScaleSetSession) => Effect.Effect<RawResponse, E>,
      handle: (res: RawResponse) => Effect.Effect<A, E | ResponseDecodeError | RequestError>
    ): Effect.Effect<A, E | ResponseDecodeError | RequestError | MessageQueueTokenExpired> =>
      // combinators rather than a generator: this runs for every poll and acknowledgement
      Effect.suspend(() => {
        const before = latest
        return Effect.flatMap(send(before.session), (first) =>
          first.status !== 401 ? handle(first) : Effect.flatMap(refreshFrom(before.generation), (session) =>
            Effect.flatMap(send(session), (second) =>
              second.status !== 401 ? handle(second) : Effect.fail<MessageQueueTokenExpired | RequestError | E>(
                new MessageQueueTokenExpired({
                  ...requestContext(second, second),
                  body: second.text === "" ? undefined : second.text
                })
              ))))
      })

    const queueBase = lastBase()
    const queueAuthorization = (session: ScaleSetSchema.RunnerScaleSetSession) =>
      `Bearer ${Redacted.value(session.messageQueueAccessToken)}`

    // the queue operations run once per message: spans without a captured stack trace (internal/span.ts)
    const getMessage = (
      lastMessageId: number,
      maxCapacity: number
    ): Effect.Effect<Option.Option<ScaleSetSchema.RunnerScaleSetMessage>, MessageSessionError> =>
      withOperationSpan(!Number.isSafeInteger(maxCapacity) || maxCapacity < 0 || maxCapacity > MAX_CAPACITY
        ? Effect.fail<MessageSessionError>(
          new ValidationError({ field: "maxCapacity", reason: `must be an integer in 0..${MAX_CAPACITY}, got ${maxCapacity}` })
        )
        : withQueueToken(
          (session) =>
            api.pipeline.send({
              method: "GET",
              url: withBaseQuery(queueBase(session.messageQueueUrl), lastMessageId > 0 ? { lastMessageId } : undefined),
              headers: {
                authorization: queueAuthorization(session),
                accept: "application/json; api-version=6.0-preview",
                "x-scalesetmaxcapacity": String(maxCapacity)
              },
              ok: [200, 202, 401],
              timeout: pollTimeout,
              ...(retry === undefined ? {} : { retry })
            }),
          (res) => res.status === 202 ? Effect.succeedNone : decoded(res, Option.some)
        ), "MessageSession.getMessage", { scaleSetId, lastMessageId, maxCapacity })

    const deleteMessage = (messageId: number) =>
      withOperationSpan(withQueueToken(
        (session) =>
          api.pipeline.send({
            method: "DELETE",
            url: joinBase(queueBase(session.messageQueueUrl), String(messageId)),
            headers: { authorization: queueAuthorization(session), "content-type": "application/json" },
            ok: [204, 401],
            ...(retry === undefined ? {} : { retry }),
            ...(timeout === undefined ? {} : { timeout })
          }),
        () => Effect.void
      ), "MessageSession.deleteMessage", { scaleSetId, messageId })

    const acquireJobs = (requestIds: ReadonlyArray<number>) =>
      withOperationSpan(withQueueToken(
        (session) =>
          api.request({
            method: "POST",
            path: `_apis/runtime/runnerscalesets/${scaleSetId}/acquirejobs`,
            json: requestIds,
            token: session.messageQueueAccessToken,
            ok: [200, 401],
            retry,
            timeout
          }),
        (res) => Effect.map(decodeAcquired(res), (list) => list.value)
      ), "MessageSession.acquireJobs", { scaleSetId, jobs: requestIds.length })

    const current = SynchronizedRef.get(state)
    return {
      scaleSetId,
      atomicPoll: true,
      session: Effect.map(current, (s) => s.session),
      getMessage,
      deleteMessage,
      acquireJobs,
      refresh: withOperationSpan(Effect.flatMap(current, (s) => refreshFrom(s.generation)), "MessageSession.refresh", { scaleSetId }),
      close: withOperationSpan(deleteSession(state), "MessageSession.close", { scaleSetId })
    } satisfies MessageSession
  })

