import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import { GitHubConfig } from "@scaleset/core"

const noEnv = Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
const forceGhes = (value: string) => Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["GITHUB_ACTIONS_FORCE_GHES", value]])))

describe("GitHubConfig.parse", () => {
  const valid: ReadonlyArray<readonly [string, GitHubConfig.GitHubScope, string, string, string, string]> = [
    // input, scope, enterprise, organization, repository, configUrl
    ["https://github.com/my-org", "Organization", "", "my-org", "", "https://github.com/my-org"],
    ["https://github.com/my-org/", "Organization", "", "my-org", "", "https://github.com/my-org"],
    ["/https://github.com/my-org//", "Organization", "", "my-org", "", "https://github.com/my-org"],
    ["https://github.com/owner/repo", "Repository", "", "owner", "repo", "https://github.com/owner/repo"],
    ["https://github.com/owner/repo/", "Repository", "", "owner", "repo", "https://github.com/owner/repo"],
    ["https://github.com/enterprises/my-ent", "Enterprise", "my-ent", "", "", "https://github.com/enterprises/my-ent"],
    ["https://ghes.example.com/Enterprises/my-ent", "Enterprise", "my-ent", "", "", "https://ghes.example.com/Enterprises/my-ent"],
    ["http://localhost:8080/org", "Organization", "", "org", "", "http://localhost:8080/org"]
  ]
  for (const [input, scope, enterprise, organization, repository, configUrl] of valid) {
    it.effect(`parses ${input}`, () =>
      Effect.gen(function*() {
        const config = yield* GitHubConfig.parse(input)
        assert.strictEqual(config.scope, scope)
        assert.strictEqual(config.enterprise, enterprise)
        assert.strictEqual(config.organization, organization)
        assert.strictEqual(config.repository, repository)
        assert.strictEqual(config.configUrl, configUrl)
      }).pipe(noEnv))
  }

  const invalid = [
    "",
    "/",
    "https://github.com",
    "https://github.com/",
    "https://github.com/some/random/path",
    "https://github.com/enterprises/ent/extra",
    "github.com/my-org",
    "my-org",
    "ftp://github.com/my-org",
    "https:///my-org"
  ]
  for (const input of invalid) {
    it.effect(`rejects ${JSON.stringify(input)} naming the URL`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(GitHubConfig.parse(input))
        assert.strictEqual(error._tag, "InvalidConfigUrl")
        assert.strictEqual(error.url, input)
        assert.include(error.message, JSON.stringify(input))
        assert.include(error.message, "invalid config URL")
      }).pipe(noEnv))
  }
})

describe("GitHubConfig.isHosted / apiUrl", () => {
  const table: ReadonlyArray<readonly [string, boolean, string]> = [
    ["https://github.com/org", true, "https://api.github.com/x"],
    ["https://GitHub.COM/org", true, "https://api.github.com/x"],
    ["https://www.github.com/org", true, "https://api.github.com/x"],
    ["http://github.localhost/org", true, "http://api.github.localhost/x"],
    ["http://github.localhost:8080/org", true, "http://api.github.localhost:8080/x"],
    ["https://my-tenant.ghe.com/org", true, "https://api.my-tenant.ghe.com/x"],
    ["https://My-Tenant.GHE.COM/org", true, "https://api.my-tenant.ghe.com/x"],
    ["https://my-tenant.ghe.com:8443/org", true, "https://api.my-tenant.ghe.com:8443/x"],
    ["https://ghes.example.com/org", false, "https://ghes.example.com/api/v3/x"],
    ["https://ghes.example.com:8443/org", false, "https://ghes.example.com:8443/api/v3/x"],
    ["https://ghe.com.evil.example/org", false, "https://ghe.com.evil.example/api/v3/x"],
    ["https://notgithub.com/org", false, "https://notgithub.com/api/v3/x"]
  ]
  for (const [url, hosted, api] of table) {
    it.effect(`${url} → hosted ${hosted}, ${api}`, () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* GitHubConfig.isHosted(url), hosted)
        const config = yield* GitHubConfig.parse(url)
        assert.strictEqual(config.isHosted, hosted)
        assert.strictEqual(GitHubConfig.apiUrl(config, "/x"), api)
        assert.strictEqual(GitHubConfig.apiUrl(config, "x"), api)
      }).pipe(noEnv))
  }

  for (const value of ["1", "", "false"]) {
    it.effect(`GITHUB_ACTIONS_FORCE_GHES=${JSON.stringify(value)} makes every host GHES`, () =>
      Effect.gen(function*() {
        assert.isFalse(yield* GitHubConfig.isHosted("https://github.com/org"))
        const config = yield* GitHubConfig.parse("https://my-tenant.ghe.com/org")
        assert.isFalse(config.isHosted)
        assert.strictEqual(GitHubConfig.apiUrl(config, "/x"), "https://my-tenant.ghe.com/api/v3/x")
      }).pipe(forceGhes(value)))
  }

  it.effect("registration-token paths per scope", () =>
    Effect.gen(function*() {
      const org = yield* GitHubConfig.parse("https://github.com/my-org")
      const repo = yield* GitHubConfig.parse("https://github.com/o/r")
      const ent = yield* GitHubConfig.parse("https://github.com/enterprises/e")
      assert.strictEqual(GitHubConfig.registrationTokenPath(org), "/orgs/my-org/actions/runners/registration-token")
      assert.strictEqual(GitHubConfig.registrationTokenPath(repo), "/repos/o/r/actions/runners/registration-token")
      assert.strictEqual(GitHubConfig.registrationTokenPath(ent), "/enterprises/e/actions/runners/registration-token")
    }).pipe(noEnv))
})

describe("GitHubConfig.parse from JavaScript", () => {
  it.effect("a value that is not a string is an InvalidConfigUrl, not a crash", () =>
    Effect.gen(function*() {
      for (const input of [undefined, null, 42]) {
        const error = yield* Effect.flip(GitHubConfig.parse(input as unknown as string))
        assert.strictEqual(error._tag, "InvalidConfigUrl")
        assert.include(error.message, "must be a string")
      }
    }))
})
