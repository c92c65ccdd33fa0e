/**
 * The typed errors of the scale set client. Every error that comes from a request names the
 * request (method and URL) and keeps the status and correlation ids the service sent.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/** The request an error came from, and what the service said about it. */
const RequestContext = {
  method: Schema.String,
  url: Schema.String,
  status: Schema.optional(Schema.Number),
  activityId: Schema.optional(Schema.String),
  githubRequestId: Schema.optional(Schema.String)
}

const reasonPhrases: Record<number, string> = {
  200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
  403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
  410: "Gone", 422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
  501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"
}

interface RequestFields {
  readonly method: string
  readonly url: string
  readonly status?: number | undefined
  readonly activityId?: string | undefined
  readonly githubRequestId?: string | undefined
}

/** Renders `request GET url failed(status="404 Not Found", activity_id="…")`, the Go client's form. */
export const describeRequest = (r: RequestFields): string => {
  const parts: Array<string> = []
  if (r.status !== undefined) parts.push(`status="${r.status} ${reasonPhrases[r.status] ?? ""}"`.replace(" \"", "\""))
  if (r.activityId) parts.push(`activity_id="${r.activityId}"`)
  if (r.githubRequestId) parts.push(`github_request_id="${r.githubRequestId}"`)
  return `request ${r.method} ${r.url} failed${parts.length > 0 ? `(${parts.join(", ")})` : ""}`
}

/**
 * A request failed: an unexpected status, a transport failure or a timeout. When retries ran out,
 * `attempts` says how many were made and the fields hold the last attempt's status and ids.
 *
 * @since 0.1.0
 * @category errors
 */
export class ScaleSetApiError extends Schema.TaggedError<ScaleSetApiError>("@scaleset/core/ScaleSetApiError")(
  "ScaleSetApiError",
  {
    ...RequestContext,
    reason: Schema.Literal("StatusCode", "Transport", "Timeout"),
    attempts: Schema.Number,
    body: Schema.optional(Schema.String),
    detail: Schema.optional(Schema.String)
  }
) {
  override get message(): string {
    const detail = this.reason === "StatusCode"
      ? (this.body && this.body.length > 0 ? this.body : "unknown error")
      : this.reason === "Timeout" ? `timed out${this.detail ? `: ${this.detail}` : ""}` : (this.detail ?? "transport error")
    const attempts = this.attempts > 1 ? ` (giving up after ${this.attempts} attempts)` : ""
    return `${describeRequest(this)}: ${detail}${attempts}`
  }
}

/**
 * The service answered with an exception body `{"typeName", "message"}`.
 *
 * @since 0.1.0
 * @category errors
 */
export class ActionsException extends Schema.TaggedError<ActionsException>("@scaleset/core/ActionsException")(
  "ActionsException",
  { ...RequestContext, typeName: Schema.String, exceptionMessage: Schema.String, attempts: Schema.Number }
) {
  override get message(): string {
    return `${describeRequest(this)}: ${this.typeName ? `${this.typeName}: ` : ""}${this.exceptionMessage}`
  }
}

const exceptionFields = { ...RequestContext, typeName: Schema.String, exceptionMessage: Schema.String }

/** @since 0.1.0 @category errors */
export class RunnerNotFound extends Schema.TaggedError<RunnerNotFound>("@scaleset/core/RunnerNotFound")(
  "RunnerNotFound",
  exceptionFields
) {
  override get message(): string {
    return `${describeRequest(this)}: runner not found: ${this.exceptionMessage}`
  }
}

/** @since 0.1.0 @category errors */
export class RunnerExists extends Schema.TaggedError<RunnerExists>("@scaleset/core/RunnerExists")(
  "RunnerExists",
  exceptionFields
) {
  override get message(): string {
    return `${describeRequest(this)}: runner exists: ${this.exceptionMessage}`
  }
}

/** @since 0.1.0 @category errors */
export class JobStillRunning extends Schema.TaggedError<JobStillRunning>("@scaleset/core/JobStillRunning")(
  "JobStillRunning",
  exceptionFields
) {
  override get message(): string {
    return `${describeRequest(this)}: job still running: ${this.exceptionMessage}`
  }
}

/**
 * 404 `RunnerScaleSetNotFoundException`: the scale set is gone (deleted behind the client's back).
 *
 * @since 0.1.0
 * @category errors
 */
export class ScaleSetNotFound extends Schema.TaggedError<ScaleSetNotFound>("@scaleset/core/ScaleSetNotFound")(
  "ScaleSetNotFound",
  exceptionFields
) {
  override get message(): string {
    return `${describeRequest(this)}: runner scale set not found: ${this.exceptionMessage}`
  }
}

/**
 * 409 `…SessionConflictException`: another client holds the message session of this scale set.
 *
 * @since 0.1.0
 * @category errors
 */
export class SessionConflict extends Schema.TaggedError<SessionConflict>("@scaleset/core/SessionConflict")(
  "SessionConflict",
  exceptionFields
) {
  override get message(): string {
    return `${describeRequest(this)}: session conflict: ${this.exceptionMessage}`
  }
}

/**
 * The message queue token was refused again after the session was refreshed.
 *
 * @since 0.1.0
 * @category errors
 */
export class MessageQueueTokenExpired extends Schema.TaggedError<MessageQueueTokenExpired>(
  "@scaleset/core/MessageQueueTokenExpired"
)("MessageQueueTokenExpired", { ...RequestContext, body: Schema.optional(Schema.String) }) {
  override get message(): string {
    return `${describeRequest(this)}: message queue token expired${this.body ? `: ${this.body}` : ""}`
  }
}

/**
 * A successful response whose body is malformed or inconsistent with what was asked.
 *
 * @since 0.1.0
 * @category errors
 */
export class ResponseDecodeError extends Schema.TaggedError<ResponseDecodeError>("@scaleset/core/ResponseDecodeError")(
  "ResponseDecodeError",
  {
    ...RequestContext,
    reason: Schema.String,
    /** The queue message whose body did not decode, when its envelope did (so it can be acknowledged). */
    messageId: Schema.optional(Schema.Number)
  }
) {
  override get message(): string {
    return `${describeRequest(this)}: cannot decode the response: ${this.reason}`
  }
}

/**
 * No runner group has the name asked for.
 *
 * @since 0.1.0
 * @category errors
 */
export class RunnerGroupNotFound extends Schema.TaggedError<RunnerGroupNotFound>("@scaleset/core/RunnerGroupNotFound")(
  "RunnerGroupNotFound",
  { ...RequestContext, name: Schema.String }
) {
  override get message(): string {
    return `${describeRequest(this)}: no runner group named ${JSON.stringify(this.name)}`
  }
}

/**
 * The configuration URL does not name an enterprise, an organization or a repository.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidConfigUrl extends Schema.TaggedError<InvalidConfigUrl>("@scaleset/core/InvalidConfigUrl")(
  "InvalidConfigUrl",
  { url: Schema.String, reason: Schema.String }
) {
  override get message(): string {
    return `invalid config URL ${JSON.stringify(this.url)}: ${this.reason}`
  }
}

/**
 * Credentials are unusable (a key in the wrong format, empty app fields) or the token chain got an
 * answer it cannot use (an admin token that is not a JWT with `exp`, a missing service URL).
 * Never carries a secret.
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthError extends Schema.TaggedError<AuthError>("@scaleset/core/AuthError")(
  "AuthError",
  {
    step: Schema.Literal("credentials", "app-jwt", "installation-token", "registration-token", "admin-connection"),
    reason: Schema.String,
    url: Schema.optional(Schema.String)
  }
) {
  override get message(): string {
    return `${this.step === "admin-connection" ? "actions service admin connection" : this.step}: ${this.reason}${
      this.url ? ` (${this.url})` : ""
    }`
  }
}

/**
 * An argument was rejected before any request was sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class ValidationError extends Schema.TaggedError<ValidationError>("@scaleset/core/ValidationError")(
  "ValidationError",
  { field: Schema.String, reason: Schema.String }
) {
  override get message(): string {
    return `invalid ${this.field}: ${this.reason}`
  }
}

/**
 * Every error a request to the service can end with.
 *
 * @since 0.1.0
 * @category errors
 */
export type RequestError =
  | ScaleSetApiError
  | ActionsException
  | RunnerNotFound
  | RunnerExists
  | JobStillRunning
  | ScaleSetNotFound
  | SessionConflict
  | ResponseDecodeError
  | AuthError

/**
 * The first `code` (as Node and undici set on errors: `ECONNRESET`, `CERT_HAS_EXPIRED`, …) along an
 * error's cause chain that `matches`, if any.
 *
 * @since 0.1.0
 */
export const causeCode = (error: unknown, matches: (code: string) => boolean): string | undefined => {
  let current: unknown = error
  for (let i = 0; i < 6 && typeof current === "object" && current !== null; i++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string" && matches(code)) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}
