/**
 * Spans of the library's own operations (client calls, queue polls and acknowledgements).
 *
 * Effect's built-in tracer keeps each span in memory and hands it to no one; making one (random
 * ids, a context copy, two clock reads) cost as much as the rest of a request's pipeline. So
 * under the built-in tracer an operation runs without a span, and with a tracer installed
 * (OpenTelemetry, a test's) every operation has its span, attributes and status. So under the
 * built-in tracer code the library runs (a scaler's handlers) sees the caller's span, if any, as
 * its `Effect.currentSpan`; with a tracer installed, the operation's.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Tracer from "effect/Tracer"

const builtIn = Context.get(DefaultServices.liveServices, Tracer.Tracer)

/** @since 0.1.0 @category models */
export type Attributes = Readonly<Record<string, unknown>>

/**
 * Whether a fiber traces with Effect's built-in tracer (no tracer installed).
 *
 * @since 0.1.0
 * @category tracing
 */
export const isBuiltInTracer = (fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean => fiber.currentTracer === builtIn

/**
 * Runs `self` in a span named `name` (no stack captured), unless the tracer is the built-in one.
 *
 * @since 0.1.0
 * @category tracing
 */
export const withOperationSpan = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  name: string,
  attributes?: Attributes
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) =>
    fiber.currentTracer === builtIn ? self : Effect.withSpan(self, name, { attributes, captureStackTrace: false })
  )
