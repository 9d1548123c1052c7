import SQLKit
import SwiftflowCore

extension SQLRegistryStore {
    public func promote(
        name: String, alias: String, version: Int64, expectedCurrent: Int64?, rule: String, actor: String
    ) async throws -> PromotionRecord {
        try Validation.validateModelName(name)
        try Validation.validateAliasName(alias)
        try Validation.validateAliasNameNotReserved(alias)
        return try await executor.write { db in
            let modelId = try await self.requireVersion(db, name: name, version: version)
            let held = try await db.raw("""
                SELECT version FROM registered_model_aliases WHERE model_id = \(bind: modelId) AND alias = \(bind: alias)
                """).all()
            let current = try held.first?.decode(column: "version", as: Int64.self)
            guard current == expectedCurrent else {
                throw SwiftflowError(
                    .resourceConflict,
                    "Alias '\(alias)' of model '\(name)' points at \(current.map { "version \($0)" } ?? "no version") "
                        + "now, not \(expectedCurrent.map { "version \($0)" } ?? "no version") as when the policy was "
                        + "evaluated; evaluate again.")
            }
            try await db.raw("""
                INSERT INTO registered_model_aliases (model_id, alias, version)
                VALUES (\(bind: modelId), \(bind: alias), \(bind: version))
                ON CONFLICT (model_id, alias) DO UPDATE SET version = excluded.version
                """).run()
            let now = Timestamp.nowMillis()
            let inserted = try await db.raw("""
                INSERT INTO registry_promotions (model_name, alias, rule_name, old_version, new_version, actor,
                    promoted_time)
                VALUES (\(bind: name), \(bind: alias), \(bind: rule), \(bind: current), \(bind: version), \(bind: actor),
                    \(bind: now))
                RETURNING promotion_id
                """).all()
            guard let id = try inserted.first?.decode(column: "promotion_id", as: Int64.self) else {
                throw SwiftflowError(.internalError, "The promotion record was not written.")
            }
            return PromotionRecord(
                id: id, name: name, alias: alias, rule: rule, oldVersion: current, newVersion: version, actor: actor,
                timestamp: now)
        }
    }

    public func listPromotions(name: String, maxResults: Int) async throws -> [PromotionRecord] {
        try Validation.validateModelName(name)
        return try await executor.read { db in
            try await db.raw("""
                SELECT promotion_id, model_name, alias, rule_name, old_version, new_version, actor, promoted_time
                FROM registry_promotions WHERE model_name = \(bind: name)
                ORDER BY promotion_id DESC LIMIT \(bind: max(0, maxResults))
                """).all().map { row in
                PromotionRecord(
                    id: try row.decode(column: "promotion_id", as: Int64.self),
                    name: try row.decode(column: "model_name", as: String.self),
                    alias: try row.decode(column: "alias", as: String.self),
                    rule: try row.decode(column: "rule_name", as: String.self),
                    oldVersion: try row.decode(column: "old_version", as: Int64?.self),
                    newVersion: try row.decode(column: "new_version", as: Int64.self),
                    actor: try row.decode(column: "actor", as: String.self),
                    timestamp: try row.decode(column: "promoted_time", as: Int64.self))
            }
        }
    }
}
