import Foundation
import SwiftflowCore
import SwiftflowStore
import Testing

// Expected behaviour below was checked against MLflow 3.17.2's SQL registry store and server.

/// Runs `body` with a registry store over a new embedded database.
private func withRegistry<T>(
    _ backend: Backend, _ body: (SQLRegistryStore, SQLTrackingStore) async throws -> T
) async throws -> T {
    try await withStore(backend) { store, _ in try await body(SQLRegistryStore(sharing: store), store) }
}

/// Registers `count` versions of `name` from a made-up run.
private func addVersions(_ registry: SQLRegistryStore, _ name: String, count: Int) async throws {
    for _ in 0..<count {
        _ = try await registry.createModelVersion(
            name: name, source: "runs:/r1/model", runId: "r1", tags: [], runLink: "", description: "")
    }
}

@Suite("Embedded registry store")
struct RegistryStoreTests {
    @Test("model and version tags come back in the order set, as MLflow lists them", arguments: Backend.all)
    func tagOrder(backend: Backend) async throws {
        try await withRegistry(backend) { registry, _ in
            _ = try await registry.createRegisteredModel(name: "m", tags: [KeyValue("zz", "1"), KeyValue("aa", "2")], description: nil)
            try await registry.setRegisteredModelTag(name: "m", tag: KeyValue("mm", "3"))
            _ = try await registry.createModelVersion(
                name: "m", source: "s", runId: nil, tags: [KeyValue("zv", "1")], runLink: nil, description: nil)
            try await registry.setModelVersionTag(name: "m", version: "1", tag: KeyValue("av", "2"))
            #expect(try await registry.getRegisteredModel(name: "m").tags.map(\.key) == ["zz", "aa", "mm"])
            #expect(try await registry.getModelVersion(name: "m", version: "1").tags.map(\.key) == ["zv", "av"])
        }
    }

    @Test("a selective tag filter gives the same versions, in the same order, as a scan", arguments: Backend.all)
    func tagDrivenVersionSearch(backend: Backend) async throws {
        try await withRegistry(backend) { registry, _ in
            for name in ["a", "b"] {
                _ = try await registry.createRegisteredModel(name: name, tags: [], description: nil)
                for index in 1...12 {
                    // Versions 3, 6, 9 and 12 are tagged: 8 of 24, so the tag rows drive the search.
                    let tags = index % 3 == 0 ? [KeyValue("validated", "true")] : [KeyValue("validated", "false")]
                    _ = try await registry.createModelVersion(
                        name: name, source: "runs:/r1/model", runId: "r1", tags: tags, runLink: "", description: "")
                }
            }
            // A prompt model's versions stay out of a search that does not ask for prompts.
            _ = try await registry.createRegisteredModel(name: "p", tags: [], description: nil)
            _ = try await registry.createModelVersion(
                name: "p", source: "runs:/r1/model", runId: "r1",
                tags: [KeyValue("validated", "true"), KeyValue("mlflow.prompt.is_prompt", "true")], runLink: "", description: "")
            func search(_ filter: String) async throws -> [String] {
                try await registry.searchModelVersions(
                    filter: try SearchFilter.parseModelVersionFilter(filter), maxResults: 100,
                    orderBy: try OrderByClause.parseModelVersionOrderBy(["name ASC", "version_number DESC"]),
                    pageToken: nil
                ).items.map { "\($0.name)/\($0.version)" }
            }
            #expect(try await search("tags.validated = 'true'") == ["a/12", "a/9", "a/6", "a/3", "b/12", "b/9", "b/6", "b/3"])
            #expect(try await search("tags.validated = 'true' AND name = 'b'") == ["b/12", "b/9", "b/6", "b/3"])
            #expect(try await search("tags.validated != 'true' AND name = 'a'").count == 8)
        }
    }

    @Test("versions count up per model and a deleted number is never given again", arguments: Backend.all)
    func versionNumbering(backend: Backend) async throws {
        try await withRegistry(backend) { registry, _ in
            _ = try await registry.createRegisteredModel(name: "a", tags: [], description: nil)
            _ = try await registry.createRegisteredModel(name: "b", tags: [], description: nil)
            try await addVersions(registry, "a", count: 3)
            let first = try await registry.createModelVersion(
                name: "b", source: "s3://bucket/m", runId: "", tags: [KeyValue("k", "v")], runLink: "", description: "d")
            #expect(first.version == 1)
            #expect(first.currentStage == .none && first.status == .ready)
            #expect(try await registry.getModelVersion(name: "b", version: "1").tags == [KeyValue("k", "v")])

            try await registry.deleteModelVersion(name: "a", version: "3")
            #expect(await errorCode { _ = try await registry.getModelVersion(name: "a", version: "3") }
                == "RESOURCE_DOES_NOT_EXIST")
            let next = try await registry.createModelVersion(
                name: "a", source: "runs:/r1/model", runId: "r1", tags: [], runLink: "", description: "")
            #expect(next.version == 4)
            let listed = try await registry.searchModelVersions(
                filter: try SearchFilter.parseModelVersionFilter("name = 'a'"), maxResults: 10,
                orderBy: try OrderByClause.parseModelVersionOrderBy(["version_number ASC"]), pageToken: nil)
            #expect(listed.items.map(\.version) == [1, 2, 4])

            // Deleting the model deletes its versions: a new model of that name starts again at 1.
            try await registry.deleteRegisteredModel(name: "a")
            #expect(await errorCode { _ = try await registry.getModelVersion(name: "a", version: "1") }
                == "RESOURCE_DOES_NOT_EXIST")
            _ = try await registry.createRegisteredModel(name: "a", tags: [], description: nil)
            try await addVersions(registry, "a", count: 1)
            #expect(try await registry.getModelVersion(name: "a", version: "1").version == 1)
            #expect(await errorCode { _ = try await registry.getModelVersion(name: "a", version: "x") }
                == "INVALID_PARAMETER_VALUE")
            #expect(await errorCode {
                _ = try await registry.createModelVersion(
                    name: "nope", source: "s3://b/m", runId: "", tags: [], runLink: "", description: "")
            } == "RESOURCE_DOES_NOT_EXIST")
        }
    }

    @Test("stage transitions: any case in, canonical out; archive_existing_versions archives that stage only", arguments: Backend.all)
    func stageTransitions(backend: Backend) async throws {
        try await withRegistry(backend) { registry, _ in
            _ = try await registry.createRegisteredModel(name: "m", tags: [], description: nil)
            try await addVersions(registry, "m", count: 4)
            let production = try await registry.transitionModelVersionStage(
                name: "m", version: "1", stage: "production", archiveExistingVersions: false)
            #expect(production.currentStage == .production)
            _ = try await registry.transitionModelVersionStage(
                name: "m", version: "3", stage: "STAGING", archiveExistingVersions: false)
            _ = try await registry.transitionModelVersionStage(
                name: "m", version: "2", stage: "Production", archiveExistingVersions: true)

            let all = try await registry.searchModelVersions(
                filter: try SearchFilter.parseModelVersionFilter("name = 'm'"), maxResults: 10, orderBy: [],
                pageToken: nil)
            let stages = Dictionary(uniqueKeysWithValues: all.items.map { ($0.version, $0.currentStage) })
            #expect(stages == [1: .archived, 2: .production, 3: .staging, 4: .none])

            let latest = try await registry.getLatestVersions(name: "m", stages: [])
            #expect(Dictionary(uniqueKeysWithValues: latest.map { ($0.currentStage, $0.version) })
                == [.archived: 1, .production: 2, .staging: 3, .none: 4])
            #expect(try await registry.getLatestVersions(name: "m", stages: ["staging"]).map(\.version) == [3])
            #expect(try await registry.getRegisteredModel(name: "m").latestVersions.count == 4)

            #expect(await errorCode {
                _ = try await registry.transitionModelVersionStage(
                    name: "m", version: "1", stage: "Bogus", archiveExistingVersions: false)
            } == "INVALID_PARAMETER_VALUE")
            // MLflow raises this one without a code.
            #expect(await errorCode {
                _ = try await registry.transitionModelVersionStage(
                    name: "m", version: "1", stage: "None", archiveExistingVersions: true)
            } == "INTERNAL_ERROR")
            #expect(await errorCode { _ = try await registry.getLatestVersions(name: "m", stages: ["Bogus"]) }
                == "INVALID_PARAMETER_VALUE")
        }
    }

    @Test("aliases: set, move, read back from model and version, removed with their version", arguments: Backend.all)
    func aliasLifecycle(backend: Backend) async throws {
        try await withRegistry(backend) { registry, _ in
            _ = try await registry.createRegisteredModel(name: "m", tags: [], description: nil)
            try await addVersions(registry, "m", count: 2)
            try await registry.setRegisteredModelAlias(name: "m", alias: "champion", version: "1")
            try await registry.setRegisteredModelAlias(name: "m", alias: "challenger", version: "2")
            #expect(try await registry.getModelVersion(name: "m", alias: "champion").version == 1)
            #expect(Set(try await registry.getRegisteredModel(name: "m").aliases)
                == [RegisteredModelAlias(alias: "champion", version: 1), RegisteredModelAlias(alias: "challenger", version: 2)])

            try await registry.setRegisteredModelAlias(name: "m", alias: "champion", version: "2")
            #expect(try await registry.getModelVersion(name: "m", version: "2").aliases.sorted() == ["challenger", "champion"])
            #expect(try await registry.getModelVersion(name: "m", version: "1").aliases.isEmpty)
            #expect(try await registry.getModelVersion(name: "m", alias: "LATEST").version == 2)

            try await registry.deleteRegisteredModelAlias(name: "m", alias: "challenger")
            try await registry.deleteRegisteredModelAlias(name: "m", alias: "never-set")  // not an error
            // MLflow answers INVALID_PARAMETER_VALUE for an unknown alias.
            #expect(await errorCode { _ = try await registry.getModelVersion(name: "m", alias: "challenger") }
                == "INVALID_PARAMETER_VALUE")
            #expect(await errorCode { try await registry.setRegisteredModelAlias(name: "m", alias: "x", version: "9") }
                == "RESOURCE_DOES_NOT_EXIST")
            for reserved in ["latest", "v3", "bad alias"] {
                #expect(await errorCode { try await registry.setRegisteredModelAlias(name: "m", alias: reserved, version: "1") }
                    == "INVALID_PARAMETER_VALUE")
            }

            try await registry.deleteModelVersion(name: "m", version: "2")
            #expect(try await registry.getRegisteredModel(name: "m").aliases.isEmpty)
        }
    }

    @Test("rename carries versions, tags and aliases; a taken name is RESOURCE_ALREADY_EXISTS", arguments: Backend.all)
    func rename(backend: Backend) async throws {
        try await withRegistry(backend) { registry, _ in
            _ = try await registry.createRegisteredModel(name: "old", tags: [KeyValue("team", "ml")], description: "d")
            _ = try await registry.createRegisteredModel(name: "taken", tags: [], description: nil)
            try await addVersions(registry, "old", count: 1)
            try await registry.setModelVersionTag(name: "old", version: "1", tag: KeyValue("ok", "yes"))
            try await registry.setRegisteredModelAlias(name: "old", alias: "prod", version: "1")

            #expect(await errorCode { _ = try await registry.renameRegisteredModel(name: "old", newName: "taken") }
                == "RESOURCE_ALREADY_EXISTS")
            #expect(await errorCode { _ = try await registry.createRegisteredModel(name: "taken", tags: [], description: nil) }
                == "RESOURCE_ALREADY_EXISTS")
            let renamed = try await registry.renameRegisteredModel(name: "old", newName: "new")
            #expect(renamed.name == "new" && renamed.tags == [KeyValue("team", "ml")] && renamed.description == "d")
            #expect(renamed.latestVersions.map(\.name) == ["new"])
            let version = try await registry.getModelVersion(name: "new", alias: "prod")
            #expect(version.name == "new" && version.tags == [KeyValue("ok", "yes")])
            #expect(await errorCode { _ = try await registry.getRegisteredModel(name: "old") } == "RESOURCE_DOES_NOT_EXIST")
        }
    }

    @Test("registered model search: name LIKE/ILIKE/=, tags, order and page tokens; prompts left out", arguments: Backend.all)
    func searchRegisteredModels(backend: Backend) async throws {
        try await withRegistry(backend) { registry, _ in
            for (suffix, tier) in [("b", "gold"), ("a", "silver"), ("c", "gold")] {
                _ = try await registry.createRegisteredModel(name: "p-\(suffix)", tags: [KeyValue("tier", tier)], description: nil)
            }
            _ = try await registry.createRegisteredModel(
                name: "p-prompt", tags: [KeyValue(RegistryTags.isPrompt, "true")], description: nil)
            func names(_ filter: String, _ order: [String] = [], max: Int = 100, token: String? = nil) async throws
                -> (names: [String], token: String?) {
                let page = try await registry.searchRegisteredModels(
                    filter: try SearchFilter.parseRegisteredModelFilter(filter), maxResults: max,
                    orderBy: try OrderByClause.parseRegisteredModelOrderBy(order), pageToken: token)
                return (page.items.map(\.name), page.nextPageToken)
            }
            #expect(try await names("name LIKE 'p-%'").names == ["p-a", "p-b", "p-c"])
            #expect(try await names("name ILIKE 'P-%'", ["name DESC"]).names == ["p-c", "p-b", "p-a"])
            #expect(try await names("name = 'p-b'").names == ["p-b"])
            #expect(try await names("name LIKE 'p-%' AND tags.tier = 'gold'").names == ["p-b", "p-c"])
            #expect(try await names("tags.`mlflow.prompt.is_prompt` = 'true'").names == ["p-prompt"])
            let first = try await names("name LIKE 'p-%'", ["name ASC"], max: 2)
            #expect(first.names == ["p-a", "p-b"] && first.token != nil)
            let rest = try await names("name LIKE 'p-%'", ["name ASC"], max: 2, token: first.token)
            #expect(rest.names == ["p-c"] && rest.token == nil)
        }
    }

    @Test("model version search: run_id =, run_id IN, tags, version_number comparisons", arguments: Backend.all)
    func searchModelVersions(backend: Backend) async throws {
        try await withRegistry(backend) { registry, _ in
            _ = try await registry.createRegisteredModel(name: "m", tags: [], description: nil)
            for (run, tag) in [("r1", "x"), ("r2", "y"), ("r1", "y")] {
                _ = try await registry.createModelVersion(
                    name: "m", source: "runs:/\(run)/model", runId: run, tags: [KeyValue("t", tag)], runLink: "",
                    description: "")
            }
            func versions(_ filter: String) async throws -> [Int64] {
                try await registry.searchModelVersions(
                    filter: try SearchFilter.parseModelVersionFilter(filter), maxResults: 100,
                    orderBy: try OrderByClause.parseModelVersionOrderBy(["version_number"]), pageToken: nil
                ).items.map(\.version)
            }
            #expect(try await versions("run_id = 'r1'") == [1, 3])
            #expect(try await versions("run_id IN ('r2', 'r9')") == [2])
            #expect(try await versions("name = 'm' AND tags.t = 'y'") == [2, 3])
            #expect(try await versions("version_number >= 2") == [2, 3])
            #expect(try await versions("source_path LIKE 'runs:/r2/%'") == [2])
        }
    }
}

@Suite("Registry search filters")
struct RegistryFilterTests {
    @Test("filters that MLflow refuses are INVALID_PARAMETER_VALUE")
    func rejected() {
        for filter in ["creation_timestamp > 0", "name = 1", "name = p", "name < 'a'", "tags.x IN ('a')",
                       "foo.x = 'a'", "run_id = 'x'"] {
            #expect(throws: SwiftflowError.self, "\(filter)") { try SearchFilter.parseRegisteredModelFilter(filter) }
        }
        for filter in ["version_number = 1.5", "version_number = 'x'", "run_id = 3", "source_path IN ('x')",
                       "version_number LIKE '2'"] {
            #expect(throws: SwiftflowError.self, "\(filter)") { try SearchFilter.parseModelVersionFilter(filter) }
        }
        for order in ["creation_timestamp", "name sideways"] {
            #expect(throws: SwiftflowError.self, "\(order)") { try OrderByClause.parseRegisteredModelOrderBy([order]) }
        }
        #expect(throws: SwiftflowError.self) { try OrderByClause.parseModelVersionOrderBy(["run_id"]) }
    }

    @Test("comparators are case-insensitive; a quoted number counts for version_number")
    func accepted() throws {
        let like = try SearchFilter.parseRegisteredModelFilter("name like 'p-%'").comparisons
        #expect(like == [SearchComparison(entity: .attribute, key: "name", op: .like, value: .string("p-%"))])
        let version = try SearchFilter.parseModelVersionFilter("version_number = '2'").comparisons
        #expect(version == [SearchComparison(entity: .attribute, key: "version_number", op: .equal, value: .number(2))])
        let order = try OrderByClause.parseRegisteredModelOrderBy(["timestamp DESC"])
        #expect(order == [OrderByClause(entity: .attribute, key: "last_updated_timestamp", ascending: false)])
    }

    @Test("models:/ URIs: version, stage, latest, alias and logged-model forms")
    func modelsURIs() throws {
        #expect(try ModelsURI.parse("models:/m/3") == .version(name: "m", version: "3"))
        #expect(try ModelsURI.parse("models:/m/Production") == .stage(name: "m", stage: "Production"))
        #expect(try ModelsURI.parse("models:/m/LATEST") == .latest(name: "m"))
        #expect(try ModelsURI.parse("models:/m@champ") == .alias(name: "m", alias: "champ"))
        #expect(try ModelsURI.parse("models:/m-abc") == .modelId("m-abc"))
        #expect(throws: SwiftflowError.self) { try ModelsURI.parse("models:/a/b/c") }
        #expect(throws: SwiftflowError.self) { try ModelsURI.parse("runs:/a/b") }
    }
}
