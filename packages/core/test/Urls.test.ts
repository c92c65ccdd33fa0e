import { assert, describe, it } from "@effect/vitest"
import { joinBase, joinUrl, parseBase, withBaseQuery, withQuery } from "../src/internal/http.js"

// the URLs built per request from a parsed base are the ones the URL parser gives
describe("URLs on a parsed base", () => {
  const bases = [
    "https://pipelines.actions.githubusercontent.com/abc123/",
    "https://pipelines.actions.githubusercontent.com/abc123",
    "http://127.0.0.1:8080/tenant/1/",
    "https://host/",
    "https://host",
    "https://host/queue/1?sessionId=00000000-0000-4000-8000-000000000001",
    "https://host/a%20b/?x=1&y=%20",
    "https://user:pass@host:8443/path/",
    "https://host/path#fragment",
    "https://host/?q=1#",
    "https://HOST.example/Path/",
    "https://host/ünï/"
  ]
  const paths = [
    "_apis/runtime/runnerscalesets/1/generatejitconfig",
    "/_apis/runtime/runnergroups/",
    "_apis/runtime/runnerscalesets/1/sessions/5d0f4f1a-9d7b-4ad2-b8f0-1f0cf2a1c7de",
    "42",
    "",
    "a/../b",
    "./x",
    "with space/x",
    "q?x",
    "h#y"
  ]
  const queries = [undefined, {}, { "api-version": "6.0-preview" }, { name: "a b&c=d", id: 3, skip: undefined }, { lastMessageId: 17 }]
  it("joinBase is joinUrl", () => {
    for (const base of bases) {
      const parsed = parseBase(base)
      for (const path of paths) {
        for (const query of queries) {
          assert.strictEqual(joinBase(parsed, path, query), joinUrl(base, path, query), `${base} + ${path} + ${JSON.stringify(query)}`)
        }
      }
    }
  })
  it("withBaseQuery is withQuery", () => {
    for (const base of bases) {
      for (const query of queries) {
        assert.strictEqual(withBaseQuery(parseBase(base), query), withQuery(base, query), `${base} + ${JSON.stringify(query)}`)
      }
    }
  })
  it("a queue URL with its own query keeps it before the poll's", () => {
    const base = parseBase("https://host/queue/1?sessionId=s")
    assert.strictEqual(withBaseQuery(base, { lastMessageId: 7 }), "https://host/queue/1?sessionId=s&lastMessageId=7")
    assert.strictEqual(joinBase(base, "7"), "https://host/queue/1/7?sessionId=s")
  })
})
