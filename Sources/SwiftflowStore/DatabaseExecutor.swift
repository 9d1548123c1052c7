import SQLKit

/// Runs SQL against one backend: reads on any connection, writes one transaction at a time.
///
/// Stores hold no connection of their own; every call goes through `read` or `write`, so that a
/// request that writes is exactly one transaction (all-or-nothing after a crash).
package protocol DatabaseExecutor: Sendable {
    /// Which SQL dialect the connections speak, for the few statements that differ.
    var kind: DatabaseKind { get }

    /// Runs `body` on a connection that sees every committed write.
    func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T

    /// Runs `body` inside one transaction, committed when it returns and rolled back when it throws.
    func write<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T

    /// Runs `body`, which issues exactly one statement, atomic on its own: no explicit transaction
    /// (and so no extra round trips) around it.
    func writeStatement<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T

    /// True if `error` is the driver's unique-constraint violation.
    func isUniqueViolation(_ error: any Error) -> Bool

    /// True if `error` is the driver's foreign-key violation (a row naming a run that does not exist).
    func isForeignKeyViolation(_ error: any Error) -> Bool

    /// The database's own message for `error` (PostgreSQL's driver hides it from `description`).
    func errorMessage(_ error: any Error) -> String

    /// Closes every connection.
    func shutdown() async
}

package enum DatabaseKind: Sendable {
    case sqlite
    case postgres
}
