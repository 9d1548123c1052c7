import PostgresNIO
import SQLKit
import SwiftflowCore
import SwiftflowStore
import Testing

@Suite("PostgreSQL backend URIs")
struct PostgresURLTests {
    @Test("MLflow's spellings are PostgreSQL URIs; SQLite URIs and paths are not")
    func matches() {
        for uri in ["postgresql://u:p@h/db", "postgres://u@h/db", "postgresql+psycopg2://u:p@h:5433/db",
                    "postgresql+psycopg://u@h/db", "POSTGRESQL://u@h/db"] {
            #expect(PostgresURL.matches(uri), "\(uri)")
        }
        for uri in ["sqlite:///mlflow.db", "./mlruns", "/var/lib/postgresql/mlflow.db", "mysql://u@h/db"] {
            #expect(!PostgresURL.matches(uri), "\(uri)")
        }
    }

    @Test("host, port, user, password, database and pool size are read; sslmode has libpq's names")
    func configuration() throws {
        let configuration = try PostgresURL.configuration(
            "postgresql+psycopg2://alice:s%40cret@db.example:6543/mlflow?sslmode=disable", poolSize: 7)
        #expect(configuration.host == "db.example")
        #expect(configuration.port == 6543)
        #expect(configuration.username == "alice")
        #expect(configuration.password == "s@cret")
        #expect(configuration.database == "mlflow")
        #expect(configuration.options.maximumConnections == 7)
        for mode in ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] {
            _ = try PostgresURL.configuration("postgresql://u@h/db?sslmode=\(mode)")
        }
        #expect(throws: SwiftflowError.self) { try PostgresURL.configuration("postgresql://u@h/db?sslmode=sometimes") }
        #expect(throws: SwiftflowError.self) { try PostgresURL.configuration("postgresql:///db") }
    }

    @Test("the password never reaches logs")
    func redacted() {
        #expect(PostgresURL.redacted("postgresql://u:secret@h:5432/db?sslmode=require")
            == "postgresql://u:***@h:5432/db?sslmode=require")
        #expect(PostgresURL.redacted("postgresql://u@h/db") == "postgresql://u@h/db")
    }

    @Test("an unreachable server is TEMPORARILY_UNAVAILABLE within the lease timeout, not a hang")
    func unreachable() async throws {
        // A port nothing listens on: bind one, close it.
        let port = try ServerProcess.freePort()
        let configuration = try PostgresURL.configuration("postgresql://u:p@127.0.0.1:\(port)/db?sslmode=disable")
        let executor = PostgresExecutor(configuration: configuration, logger: Logger(label: "test"))
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: SwiftflowError.self) {
            _ = try await executor.read { db in try await db.raw("SELECT 1 AS one").all() }
        }
        let waited = clock.now - start
        #expect(error?.code == .temporarilyUnavailable)
        #expect(waited >= PostgresExecutor.leaseTimeout - .seconds(1))
        #expect(waited < PostgresExecutor.leaseTimeout + .seconds(5))
        await executor.shutdown()
    }
}

@Suite("PostgreSQL connections lost mid-call")
struct PostgresLostConnectionTests {
    @Test("a query on a connection PostgreSQL has closed fails with 503 at once, and the pool recovers",
          .enabled(if: Backend.postgresURL != nil))
    func closedConnection() async throws {
        let executor = try await PostgresExecutor.open(uri: Backend.postgresURL!, poolSize: 2, logger: Logger(label: "test"))
        let error = await #expect(throws: SwiftflowError.self) {
            try await within(.seconds(20)) {
                try await executor.write { db in
                    let pid = try await db.raw("SELECT pg_backend_pid() AS pid").all()[0].decode(column: "pid", as: Int.self)
                    _ = try await executor.read { other in try await other.raw("SELECT pg_terminate_backend(CAST(\(bind: pid) AS integer))").all() }
                    // Long enough for the client to see the close: the next query is written to a closed channel,
                    // as the ROLLBACK after a lost query is.
                    try await Task.sleep(for: .milliseconds(300))
                    _ = try await db.raw("SELECT 1 AS one").all()
                }
            }
        }
        #expect(error?.code == .temporarilyUnavailable)
        let one = try await within(.seconds(20)) {
            try await executor.read { db in try await db.raw("SELECT 1 AS one").all()[0].decode(column: "one", as: Int.self) }
        }
        #expect(one == 1)
        await executor.shutdown()
    }
}
