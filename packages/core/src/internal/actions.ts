/**
 * Requests to the Actions service: the admin token and service URL from the token chain, the
 * `api-version` query, and the JSON headers, all on top of the one pipeline.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Retry from "../Retry.js"
import type { Duration } from "effect"
import { joinBase, lastBase, type Method, type Pipeline, type RawResponse } from "./http.js"
import type { TokenChain, TokenChainError } from "./tokenChain.js"

export const API_VERSION = "6.0-preview"

export interface ActionsRequest {
  readonly method: Method
  readonly path: string
  readonly query?: Record<string, string | number | undefined>
  readonly json?: unknown
  readonly ok?: ReadonlyArray<number>
  /** Use this token instead of the admin token (acquire jobs uses the queue token). */
  readonly token?: Redacted.Redacted<string>
  readonly retry?: Retry.RetryOptions | undefined
  readonly timeout?: Duration.DurationInput | undefined
}

export interface ActionsApi {
  readonly pipeline: Pipeline
  readonly tokens: TokenChain
  readonly request: (request: ActionsRequest) => Effect.Effect<RawResponse, TokenChainError>
}

export const make = (pipeline: Pipeline, tokens: TokenChain): ActionsApi => {
  const serviceBase = lastBase()
  return {
    pipeline,
    tokens,
    request: (request) =>
      Effect.flatMap(tokens.get, (admin) =>
        pipeline.send({
          method: request.method,
          url: joinBase(
            serviceBase(admin.serviceUrl),
            request.path,
            request.path.includes("api-version=") ? request.query : { ...request.query, "api-version": API_VERSION }
          ),
          headers: {
            authorization: `Bearer ${Redacted.value(request.token ?? admin.token)}`,
            "content-type": "application/json"
          },
          ...(request.json === undefined ? {} : { json: request.json }),
          ...(request.ok === undefined ? {} : { ok: request.ok }),
          ...(request.retry === undefined ? {} : { retry: request.retry }),
          ...(request.timeout === undefined ? {} : { timeout: request.timeout })
        }))
  }
}
