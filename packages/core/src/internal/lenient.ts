/**
 * Lenient records for the hot path (queue messages: up to 50 jobs each, one message per poll).
 * A record is a `Schema` built with `Schema.declare` from per-field decoders: missing or null
 * fields take zero values (as the Go client's JSON decoding does), unknown keys are ignored, a
 * wrongly typed field is a `ParseError` naming the field. It validates as much as a `Schema.Struct`
 * of `optionalWith(…, { default, nullable })` fields would, at a fraction of the cost.
 */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as AST from "effect/SchemaAST"

const INVALID: unique symbol = Symbol.for("@scaleset/core/lenient/invalid")

/** A field: decodes a wire value (`undefined` when the key is absent) or answers `INVALID`. */
export interface Field<A, Optional extends boolean = false> {
  readonly expected: string
  readonly optional: Optional
  readonly decode: (u: unknown) => A | typeof INVALID
  // a method, so a Field<string> is also a Field<unknown> (parameters of methods are bivariant)
  encode(a: A): unknown
}

const field = <A>(expected: string, decode: (u: unknown) => A | typeof INVALID, encode: (a: A) => unknown = (a) => a): Field<A> => ({
  expected,
  optional: false,
  decode,
  encode
})

export const string: Field<string> = field("a string", (u) => (u == null ? "" : typeof u === "string" ? u : INVALID))
export const number: Field<number> = field("a number", (u) =>
  u == null ? 0 : typeof u === "number" && Number.isFinite(u) ? u : INVALID)
export const boolean: Field<boolean> = field("a boolean", (u) => (u == null ? false : typeof u === "boolean" ? u : INVALID))
export const strings: Field<ReadonlyArray<string>> = field("an array of strings", (u) =>
  u == null ? [] : Array.isArray(u) && u.every((s) => typeof s === "string") ? (u as ReadonlyArray<string>) : INVALID)
export const literal = <L extends string>(value: L): Field<L> =>
  field(JSON.stringify(value), (u) => (u === value ? value : INVALID))

const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

/**
 * An RFC 3339 time. Absent, null, empty and the zero time (`0001-01-01T00:00:00Z`, "not yet")
 * decode to an absent key.
 */
export const time: Field<Date | undefined, true> = {
  expected: "an RFC 3339 time",
  optional: true,
  decode: (u) => {
    if (u == null || u === "") return undefined
    if (typeof u !== "string" || !rfc3339.test(u)) return INVALID
    if (u.startsWith("0001-01-01")) return undefined
    const date = new Date(u)
    return Number.isNaN(date.getTime()) ? INVALID : date
  },
  encode: (d) => d?.toISOString()
}

/** A nested record that may be absent or null (an absent key then). */
export const optional = <A, I>(schema: Schema.Schema<A, I>): Field<A | undefined, true> => {
  const decode = ParseResult.decodeUnknownEither(schema)
  const encode = ParseResult.encodeUnknownEither(schema)
  return {
    expected: `${String(schema.ast)} or null`,
    optional: true,
    decode: (u) => {
      if (u == null) return undefined
      const result = decode(u)
      return result._tag === "Right" ? result.right : INVALID
    },
    encode: (a) => {
      const result = encode(a)
      return result._tag === "Right" ? result.right : undefined
    }
  }
}

export type Fields = Readonly<Record<string, Field<unknown, boolean>>>

type Required<F extends Fields> = { readonly [K in keyof F as F[K] extends Field<unknown, true> ? never : K]: F[K] extends Field<infer A> ? A : never }
type Optional<F extends Fields> = {
  readonly [K in keyof F as F[K] extends Field<unknown, true> ? K : never]?: F[K] extends Field<infer A, true> ? Exclude<A, undefined> : never
}
/** The decoded type of a record of fields. */
export type Type<F extends Fields> = { readonly [K in keyof (Required<F> & Optional<F>)]: (Required<F> & Optional<F>)[K] }

/**
 * A record schema from its fields. Decoding needs an object; each field decodes on its own and
 * every failing field is reported with its key.
 */
export const struct = <F extends Fields>(identifier: string, fields: F): Schema.Schema<Type<F>> => {
  const entries = Object.entries(fields)
  const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
  return Schema.declare([], {
    decode: () => (input, _, ast: AST.Declaration) => {
      if (!isObject(input)) return ParseResult.fail(new ParseResult.Type(ast, input, `Expected ${identifier}, an object`))
      const out: Record<string, unknown> = {}
      let issues: Array<ParseResult.Pointer> | undefined
      for (const [key, f] of entries) {
        const value = f.decode(input[key])
        if (value === INVALID) {
          ;(issues ??= []).push(new ParseResult.Pointer(key, input, new ParseResult.Type(ast, input[key], `Expected ${f.expected}`)))
        } else if (value !== undefined || !f.optional) {
          out[key] = value
        }
      }
      return issues
        ? ParseResult.fail(new ParseResult.Composite(ast, input, issues as [ParseResult.Pointer, ...Array<ParseResult.Pointer>]))
        : ParseResult.succeed(out as Type<F>)
    },
    encode: () => (value) => {
      const out: Record<string, unknown> = {}
      for (const [key, f] of entries) {
        const v = (value as Record<string, unknown>)[key]
        if (v !== undefined) out[key] = f.encode(v)
      }
      return ParseResult.succeed(out as Type<F>)
    }
  }, { identifier })
}
