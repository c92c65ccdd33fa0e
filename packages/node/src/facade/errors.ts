/**
 * The facade's error classes: plain `Error` subclasses usable with `instanceof`, carrying the same
 * fields as the core errors they come from (the core error is the `cause`).
 *
 * @since 0.1.0
 */
import * as ScaleSetError from "@scaleset/core/ScaleSetError"
import * as ListenerError from "@scaleset/listener/ListenerError"
import * as Cause from "effect/Cause"
import * as Option from "effect/Option"
import * as NodeError from "../NodeError.js"

interface RequestInfo {
  readonly method?: string | undefined
  readonly url?: string | undefined
  readonly status?: number | undefined
  readonly activityId?: string | undefined
  readonly githubRequestId?: string | undefined
}

/**
 * The base of every error the facade throws.
 *
 * @since 0.1.0
 * @category errors
 */
export class ScalesetError extends Error {
  /** The tag of the core error (`RunnerNotFound`, `ScaleSetApiError`, …), or `Aborted`. */
  readonly code: string
  /** The request that failed (method and URL), its last status and correlation ids, when there was one. */
  readonly method: string | undefined
  readonly url: string | undefined
  readonly status: number | undefined
  readonly activityId: string | undefined
  readonly githubRequestId: string | undefined

  constructor(message: string, code: string, info: RequestInfo = {}, options?: { readonly cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.method = info.method
    this.url = info.url
    this.status = info.status
    this.activityId = info.activityId
    this.githubRequestId = info.githubRequestId
  }
}

interface ExceptionInfo extends RequestInfo {
  readonly typeName: string
  readonly exceptionMessage: string
}

/**
 * The service answered with an exception (`{"typeName", "message"}`) not mapped to a more specific class.
 *
 * @since 0.1.0
 * @category errors
 */
export class ActionsExceptionError extends ScalesetError {
  readonly typeName: string
  readonly exceptionMessage: string
  readonly attempts: number
  constructor(message: string, info: ExceptionInfo & { readonly attempts: number }, options?: { readonly cause?: unknown }) {
    super(message, "ActionsException", info, options)
    this.typeName = info.typeName
    this.exceptionMessage = info.exceptionMessage
    this.attempts = info.attempts
  }
}

/** An Actions exception with its own class. */
abstract class TypedExceptionError extends ScalesetError {
  readonly typeName: string
  readonly exceptionMessage: string
  constructor(message: string, code: string, info: ExceptionInfo, options?: { readonly cause?: unknown }) {
    super(message, code, info, options)
    this.typeName = info.typeName
    this.exceptionMessage = info.exceptionMessage
  }
}

/** @since 0.1.0 @category errors */
export class RunnerNotFoundError extends TypedExceptionError {
  constructor(message: string, info: ExceptionInfo, options?: { readonly cause?: unknown }) {
    super(message, "RunnerNotFound", info, options)
  }
}

/** @since 0.1.0 @category errors */
export class RunnerExistsError extends TypedExceptionError {
  constructor(message: string, info: ExceptionInfo, options?: { readonly cause?: unknown }) {
    super(message, "RunnerExists", info, options)
  }
}

/** @since 0.1.0 @category errors */
export class JobStillRunningError extends TypedExceptionError {
  constructor(message: string, info: ExceptionInfo, options?: { readonly cause?: unknown }) {
    super(message, "JobStillRunning", info, options)
  }
}

/** 404 `RunnerScaleSetNotFoundException`. @since 0.1.0 @category errors */
export class ScaleSetNotFoundError extends TypedExceptionError {
  constructor(message: string, info: ExceptionInfo, options?: { readonly cause?: unknown }) {
    super(message, "ScaleSetNotFound", info, options)
  }
}

/** 409: another client holds the message session of the scale set. @since 0.1.0 @category errors */
export class SessionConflictError extends TypedExceptionError {
  constructor(message: string, info: ExceptionInfo, options?: { readonly cause?: unknown }) {
    super(message, "SessionConflict", info, options)
  }
}

/** The message queue token was refused again after a session refresh. @since 0.1.0 @category errors */
export class MessageQueueTokenExpiredError extends ScalesetError {
  readonly body: string | undefined
  constructor(message: string, info: RequestInfo & { readonly body?: string | undefined }, options?: { readonly cause?: unknown }) {
    super(message, "MessageQueueTokenExpired", info, options)
    this.body = info.body
  }
}

/**
 * A request failed: an unexpected status (`reason: "StatusCode"`, with the `body`), a transport
 * failure or a timeout; `attempts` counts the tries made.
 *
 * @since 0.1.0
 * @category errors
 */
export class HttpError extends ScalesetError {
  readonly reason: "StatusCode" | "Transport" | "Timeout"
  readonly attempts: number
  readonly body: string | undefined
  readonly detail: string | undefined
  constructor(
    message: string,
    info: RequestInfo & {
      readonly reason: "StatusCode" | "Transport" | "Timeout"
      readonly attempts: number
      readonly body?: string | undefined
      readonly detail?: string | undefined
    },
    options?: { readonly cause?: unknown }
  ) {
    super(message, "ScaleSetApiError", info, options)
    this.reason = info.reason
    this.attempts = info.attempts
    this.body = info.body
    this.detail = info.detail
  }
}

/** A successful response with a malformed body. @since 0.1.0 @category errors */
export class ResponseDecodeError extends ScalesetError {
  readonly reason: string
  constructor(message: string, info: RequestInfo & { readonly reason: string }, options?: { readonly cause?: unknown }) {
    super(message, "ResponseDecodeError", info, options)
    this.reason = info.reason
  }
}

/** No runner group has the name asked for. @since 0.1.0 @category errors */
export class RunnerGroupNotFoundError extends ScalesetError {
  readonly groupName: string
  constructor(message: string, info: RequestInfo & { readonly name: string }, options?: { readonly cause?: unknown }) {
    super(message, "RunnerGroupNotFound", info, options)
    this.groupName = info.name
  }
}

/** The configuration URL names no enterprise, organization or repository. @since 0.1.0 @category errors */
export class InvalidGitHubConfigURLError extends ScalesetError {
  readonly reason: string
  constructor(message: string, info: { readonly url: string; readonly reason: string }, options?: { readonly cause?: unknown }) {
    super(message, "InvalidConfigUrl", { url: info.url }, options)
    this.reason = info.reason
  }
}

/** Unusable credentials, or a token exchange answer the client cannot use. Never holds a secret. @since 0.1.0 @category errors */
export class AuthenticationError extends ScalesetError {
  readonly step: string
  readonly reason: string
  constructor(
    message: string,
    info: { readonly step: string; readonly reason: string; readonly url?: string | undefined },
    options?: { readonly cause?: unknown }
  ) {
    super(message, "AuthError", { url: info.url }, options)
    this.step = info.step
    this.reason = info.reason
  }
}

/** An argument was rejected before anything was sent. @since 0.1.0 @category errors */
export class ValidationError extends ScalesetError {
  readonly field: string
  readonly reason: string
  constructor(message: string, info: { readonly field: string; readonly reason: string }, options?: { readonly cause?: unknown }) {
    super(message, "ValidationError", {}, options)
    this.field = info.field
    this.reason = info.reason
  }
}

/** A client option cannot be used (a proxy URL, a CA file). @since 0.1.0 @category errors */
export class ConfigurationError extends ScalesetError {
  readonly problems: ReadonlyArray<string>
  constructor(message: string, problems: ReadonlyArray<string>, options?: { readonly cause?: unknown }) {
    super(message, "ConfigurationError", {}, options)
    this.problems = problems
  }
}

/**
 * A required argument is missing or of the wrong type (a call from JavaScript): `ValidationError`
 * naming it.
 *
 * @internal
 */
export const invalidArgument = (field: string, expected: string, value: unknown): ValidationError =>
  new ValidationError(
    `${field} must be ${expected}, got ${value === null ? "null" : typeof value}`,
    { field, reason: value === undefined || value === null ? "missing" : "invalid type" }
  )

/** Whether a value is a non-null object (a JavaScript caller may pass anything). @internal */
export const isObject = (value: unknown): value is object => typeof value === "object" && value !== null

const requestInfo = (e: RequestInfo): RequestInfo => ({
  method: e.method,
  url: e.url,
  status: e.status,
  activityId: e.activityId,
  githubRequestId: e.githubRequestId
})

const exceptionInfo = (e: RequestInfo & { readonly typeName: string; readonly exceptionMessage: string }): ExceptionInfo => ({
  ...requestInfo(e),
  typeName: e.typeName,
  exceptionMessage: e.exceptionMessage
})

/**
 * The facade error for a failure of the Effect API (anything else is returned as is when it is an
 * `Error`, wrapped otherwise).
 *
 * @since 0.1.0
 */
export const fromFailure = (e: unknown): Error => {
  const cause = { cause: e }
  if (e instanceof ScaleSetError.RunnerNotFound) return new RunnerNotFoundError(e.message, exceptionInfo(e), cause)
  if (e instanceof ScaleSetError.RunnerExists) return new RunnerExistsError(e.message, exceptionInfo(e), cause)
  if (e instanceof ScaleSetError.JobStillRunning) return new JobStillRunningError(e.message, exceptionInfo(e), cause)
  if (e instanceof ScaleSetError.ScaleSetNotFound) return new ScaleSetNotFoundError(e.message, exceptionInfo(e), cause)
  if (e instanceof ScaleSetError.SessionConflict) return new SessionConflictError(e.message, exceptionInfo(e), cause)
  if (e instanceof ScaleSetError.ActionsException) {
    return new ActionsExceptionError(e.message, { ...exceptionInfo(e), attempts: e.attempts }, cause)
  }
  if (e instanceof ScaleSetError.MessageQueueTokenExpired) {
    return new MessageQueueTokenExpiredError(e.message, { ...requestInfo(e), body: e.body }, cause)
  }
  if (e instanceof ScaleSetError.ScaleSetApiError) {
    return new HttpError(e.message, { ...requestInfo(e), reason: e.reason, attempts: e.attempts, body: e.body, detail: e.detail }, cause)
  }
  if (e instanceof ScaleSetError.ResponseDecodeError) return new ResponseDecodeError(e.message, { ...requestInfo(e), reason: e.reason }, cause)
  if (e instanceof ScaleSetError.RunnerGroupNotFound) return new RunnerGroupNotFoundError(e.message, { ...requestInfo(e), name: e.name }, cause)
  if (e instanceof ScaleSetError.InvalidConfigUrl) return new InvalidGitHubConfigURLError(e.message, { url: e.url, reason: e.reason }, cause)
  if (e instanceof ScaleSetError.AuthError) return new AuthenticationError(e.message, { step: e.step, reason: e.reason, url: e.url }, cause)
  if (e instanceof ScaleSetError.ValidationError) return new ValidationError(e.message, { field: e.field, reason: e.reason }, cause)
  if (e instanceof ListenerError.ListenerClientError) return fromFailure(e.cause)
  if (e instanceof ListenerError.ListenerConfigError) return new ValidationError(e.message, { field: e.field, reason: e.reason }, cause)
  if (e instanceof ListenerError.InvalidSession) return new ScalesetError(e.message, "InvalidSession", {}, cause)
  if (e instanceof NodeError.TransportError) return new ConfigurationError(e.message, [e.message], cause)
  if (e instanceof NodeError.NodeConfigError) return new ConfigurationError(e.message, e.problems, cause)
  if (e instanceof Error) return e
  return new ScalesetError(String(e), "Unknown", {}, cause)
}

/**
 * The error a failed Effect rejects with: its typed failure converted, `ScalesetError` with the
 * message `aborted` for an interruption, or the defect itself.
 *
 * @since 0.1.0
 */
export const fromCause = (cause: Cause.Cause<unknown>): Error => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return fromFailure(failure.value)
  if (Cause.isInterruptedOnly(cause)) return new ScalesetError("aborted", "Aborted")
  return fromFailure(Cause.squash(cause))
}
