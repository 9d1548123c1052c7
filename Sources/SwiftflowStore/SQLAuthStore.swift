import Logging
import SQLKit
import SwiftflowCore

/// The SQL implementation of `AuthStore`, for SQLite and PostgreSQL alike.
///
/// Its tables have their own migrations and applied-ids table (`swiftflow_auth_migrations`), so they
/// can live in the tracking store's database or in one of their own (the ini's `database_uri`).
/// Roles, their permissions and assignments reference their owners with `ON DELETE CASCADE`.
public final class SQLAuthStore: AuthStore {
    package let executor: any DatabaseExecutor

    package init(executor: any DatabaseExecutor) {
        self.executor = executor
    }

    /// Opens the auth tables in the SQLite file at `path`, migrating them.
    public static func openSQLite(path: String, logger: Logger) async throws -> SQLAuthStore {
        try await open(executor: try await SQLiteExecutor.open(path: path, readers: 1, logger: logger))
    }

    /// Opens the auth tables in the PostgreSQL database named by `uri`, migrating them.
    public static func openPostgres(uri: String, poolSize: Int, logger: Logger) async throws -> SQLAuthStore {
        try await open(executor: try await PostgresExecutor.open(uri: uri, poolSize: poolSize, logger: logger))
    }

    /// The auth tables in the tracking store's own database (its executor is shared, not owned).
    public static func open(sharing store: SQLTrackingStore) async throws -> SQLAuthStore {
        try await Migrator(migrations: AuthSchema.migrations, table: AuthSchema.migrationsTable).migrate(store.executor)
        return SQLAuthStore(executor: store.executor)
    }

    package static func open(executor: any DatabaseExecutor) async throws -> SQLAuthStore {
        do {
            try await Migrator(migrations: AuthSchema.migrations, table: AuthSchema.migrationsTable).migrate(executor)
        } catch {
            await executor.shutdown()
            throw error
        }
        return SQLAuthStore(executor: executor)
    }

    public func shutdown() async {
        await executor.shutdown()
    }

    // MARK: - Users

    public func createUser(username: String, password: String, isAdmin: Bool) async throws -> AuthUser {
        try Self.validate(password: password)
        // Hashing is slow by design: done before the transaction, which then holds the writer briefly.
        let hash = try await PasswordHash.hashed(password)
        do {
            return try await executor.write { db in
                let rows = try await db.raw("""
                    INSERT INTO auth_users (username, password_hash, is_admin)
                    VALUES (\(bind: username), \(bind: hash), \(bind: isAdmin)) RETURNING id
                    """).all()
                return AuthUser(id: try Self.insertedId(rows, "user"), username: username, isAdmin: isAdmin)
            }
        } catch let error where executor.isUniqueViolation(error) {
            // MLflow's message goes on with the driver's text, the new hash included; ours stops here.
            throw SwiftflowError.alreadyExists("User (username=\(username)) already exists.")
        }
    }

    public func user(named username: String) async throws -> AuthUser {
        guard let found = try await credentials(username: username) else { throw Self.noUser(username) }
        return found.user
    }

    public func credentials(username: String) async throws -> (user: AuthUser, passwordHash: String)? {
        try await executor.read { db in try await Self.credentials(db, username: username) }
    }

    public func signIn(username: String, workspace: String) async throws -> SignIn? {
        try await executor.read { db in
            guard let (user, hash) = try await Self.credentials(db, username: username) else { return nil }
            let permissions = user.isAdmin ? [] : try await Self.permissions(db, userId: user.id, workspace: workspace)
            return SignIn(user: user, passwordHash: hash, permissions: permissions)
        }
    }

    private static func credentials(
        _ db: any SQLDatabase, username: String
    ) async throws -> (user: AuthUser, passwordHash: String)? {
        let rows = try await db.raw(
            "SELECT id, username, password_hash, is_admin FROM auth_users WHERE username = \(bind: username)"
        ).all()
        guard let row = rows.first else { return nil }
        return (try user(row), try row.decode(column: "password_hash", as: String.self))
    }

    public func listUsers() async throws -> [AuthUser] {
        try await executor.read { db in
            try await db.raw("SELECT id, username, is_admin FROM auth_users ORDER BY id").all().map(Self.user)
        }
    }

    public func updatePassword(username: String, password: String) async throws {
        try Self.validate(password: password)
        let hash = try await PasswordHash.hashed(password)
        try await updateUser(username, "password_hash = \(bind: hash)")
    }

    public func updateAdmin(username: String, isAdmin: Bool) async throws {
        try await updateUser(username, "is_admin = \(bind: isAdmin)")
    }

    public func deleteUser(username: String) async throws {
        try await executor.write { db in
            let rows = try await db.raw("DELETE FROM auth_users WHERE username = \(bind: username) RETURNING id").all()
            guard let id = try rows.first?.decode(column: "id", as: Int64.self) else { throw Self.noUser(username) }
            try await db.raw("""
                DELETE FROM auth_roles WHERE name = \(bind: Role.userRoleName(id)) AND workspace = \(bind: Role.defaultWorkspace)
                """).run()
        }
    }

    private func updateUser(_ username: String, _ assignment: SQLQueryString) async throws {
        try await executor.write { db in
            let rows = try await db.raw(
                "UPDATE auth_users SET \(assignment) WHERE username = \(bind: username) RETURNING id").all()
            if rows.isEmpty { throw Self.noUser(username) }
        }
    }

    // MARK: - Permissions

    public func permissions(userId: Int64, workspace: String) async throws -> [RolePermission] {
        try await executor.read { db in try await Self.permissions(db, userId: userId, workspace: workspace) }
    }

    private static func permissions(_ db: any SQLDatabase, userId: Int64, workspace: String) async throws -> [RolePermission] {
            try await db.raw("""
                SELECT p.id, p.role_id, p.resource_type, p.resource_pattern, p.permission
                FROM auth_role_permissions p
                JOIN auth_user_roles a ON a.role_id = p.role_id
                JOIN auth_roles r ON r.id = p.role_id
                WHERE a.user_id = \(bind: userId) AND r.workspace = \(bind: workspace)
                ORDER BY p.id
                """).all().map(Self.rolePermission)
    }

    public func roles(userId: Int64) async throws -> [Role] {
        try await loadRoles("WHERE id IN (SELECT role_id FROM auth_user_roles WHERE user_id = \(bind: userId))")
    }

    public func grant(username: String, resourceType: String, resourcePattern: String, permission: Permission) async throws {
        let user = try await user(named: username)
        do {
            try await executor.write { db in
                let roleId = try await Self.ownRole(db, userId: user.id)
                try await db.raw("""
                    INSERT INTO auth_role_permissions (role_id, resource_type, resource_pattern, permission)
                    VALUES (\(bind: roleId), \(bind: resourceType), \(bind: resourcePattern), \(bind: permission.rawValue))
                    """).run()
            }
        } catch let error where executor.isUniqueViolation(error) {
            throw SwiftflowError.alreadyExists(
                "Permission for user=\(username) on resource_type=\(resourceType), resource_id=\(resourcePattern) already exists.")
        }
    }

    public func setGrant(userId: Int64, resourceType: String, resourcePattern: String, permission: Permission) async throws {
        try await executor.write { db in
            let roleId = try await Self.ownRole(db, userId: userId)
            try await db.raw("""
                INSERT INTO auth_role_permissions (role_id, resource_type, resource_pattern, permission)
                VALUES (\(bind: roleId), \(bind: resourceType), \(bind: resourcePattern), \(bind: permission.rawValue))
                ON CONFLICT (role_id, resource_type, resource_pattern) DO UPDATE SET permission = excluded.permission
                """).run()
        }
    }

    public func revoke(username: String, resourceType: String, resourcePattern: String) async throws {
        let user = try await user(named: username)
        try await executor.write { db in
            let rows = try await db.raw("""
                DELETE FROM auth_role_permissions WHERE role_id IN (
                    SELECT id FROM auth_roles WHERE name = \(bind: Role.userRoleName(user.id))
                    AND workspace = \(bind: Role.defaultWorkspace))
                AND resource_type = \(bind: resourceType) AND resource_pattern = \(bind: resourcePattern)
                RETURNING id
                """).all()
            if rows.isEmpty {
                throw SwiftflowError.notFound(
                    "Permission for user=\(username) on resource_type=\(resourceType), resource_id=\(resourcePattern) not found.")
            }
        }
    }

    public func updateRolePermission(id: Int64, permission: Permission) async throws -> RolePermission {
        try await executor.write { db in
            let rows = try await db.raw("""
                UPDATE auth_role_permissions SET permission = \(bind: permission.rawValue) WHERE id = \(bind: id)
                RETURNING id, role_id, resource_type, resource_pattern, permission
                """).all()
            guard let row = rows.first else { throw SwiftflowError.notFound("Role permission with id=\(id) not found") }
            return try Self.rolePermission(row)
        }
    }

    // MARK: - Roles

    public func createRole(name: String, workspace: String, description: String?) async throws -> Role {
        if name.hasPrefix(Role.userRolePrefix) {
            throw SwiftflowError.invalidParameter(
                "Role name '\(name)' uses the reserved '\(Role.userRolePrefix)' prefix, which is held for the per-user "
                    + "permission representation. Choose a different name.")
        }
        do {
            return try await executor.write { db in
                let rows = try await db.raw("""
                    INSERT INTO auth_roles (name, workspace, description)
                    VALUES (\(bind: name), \(bind: workspace), \(bind: description)) RETURNING id
                    """).all()
                return Role(id: try Self.insertedId(rows, "role"), name: name, workspace: workspace, description: description, permissions: [])
            }
        } catch let error where executor.isUniqueViolation(error) {
            throw SwiftflowError.alreadyExists("Role (name=\(name), workspace=\(workspace)) already exists.")
        }
    }

    public func role(id: Int64) async throws -> Role {
        guard let role = try await loadRoles("WHERE id = \(bind: id)").first else { throw Self.noRole(id) }
        return role
    }

    public func listRoles(workspaces: [String]) async throws -> [Role] {
        if workspaces.isEmpty { return try await loadRoles("") }
        var roles: [Role] = []
        for workspace in workspaces { roles += try await loadRoles("WHERE workspace = \(bind: workspace)") }
        return roles.sorted { $0.id < $1.id }
    }

    public func updateRole(id: Int64, name: String?, description: String?) async throws -> Role {
        if let name, name.hasPrefix(Role.userRolePrefix) {
            throw SwiftflowError.invalidParameter(
                "Role name '\(name)' uses the reserved '\(Role.userRolePrefix)' prefix, which is held for the per-user "
                    + "permission representation. Choose a different name.")
        }
        try await executor.write { db in
            let rows = try await db.raw("SELECT id FROM auth_roles WHERE id = \(bind: id)").all()
            if rows.isEmpty { throw Self.noRole(id) }
            if let name { try await db.raw("UPDATE auth_roles SET name = \(bind: name) WHERE id = \(bind: id)").run() }
            if let description {
                try await db.raw("UPDATE auth_roles SET description = \(bind: description) WHERE id = \(bind: id)").run()
            }
        }
        return try await role(id: id)
    }

    public func deleteRole(id: Int64) async throws {
        try await executor.write { db in
            let rows = try await db.raw("DELETE FROM auth_roles WHERE id = \(bind: id) RETURNING id").all()
            if rows.isEmpty { throw Self.noRole(id) }
        }
    }

    public func addRolePermission(
        roleId: Int64, resourceType: String, resourcePattern: String, permission: Permission
    ) async throws -> RolePermission {
        _ = try await role(id: roleId)
        do {
            return try await executor.write { db in
                let rows = try await db.raw("""
                    INSERT INTO auth_role_permissions (role_id, resource_type, resource_pattern, permission)
                    VALUES (\(bind: roleId), \(bind: resourceType), \(bind: resourcePattern), \(bind: permission.rawValue))
                    RETURNING id, role_id, resource_type, resource_pattern, permission
                    """).all()
                guard let row = rows.first else { throw SwiftflowError(.internalError, "The new role permission has no id.") }
                return try Self.rolePermission(row)
            }
        } catch let error where executor.isUniqueViolation(error) {
            throw SwiftflowError.alreadyExists(
                "Role \(roleId) already has a permission on resource_type=\(resourceType), resource_pattern=\(resourcePattern).")
        }
    }

    public func removeRolePermission(id: Int64) async throws {
        try await executor.write { db in
            let rows = try await db.raw("DELETE FROM auth_role_permissions WHERE id = \(bind: id) RETURNING id").all()
            if rows.isEmpty { throw SwiftflowError.notFound("Role permission with id=\(id) not found") }
        }
    }

    public func assignRole(username: String, roleId: Int64) async throws -> (id: Int64, userId: Int64) {
        let user = try await user(named: username)
        _ = try await role(id: roleId)
        do {
            return try await executor.write { db in
                let rows = try await db.raw("""
                    INSERT INTO auth_user_roles (user_id, role_id) VALUES (\(bind: user.id), \(bind: roleId)) RETURNING id
                    """).all()
                return (try Self.insertedId(rows, "assignment"), user.id)
            }
        } catch let error where executor.isUniqueViolation(error) {
            throw SwiftflowError.alreadyExists("User \(username) already holds role \(roleId).")
        }
    }

    public func unassignRole(username: String, roleId: Int64) async throws {
        let user = try await user(named: username)
        try await executor.write { db in
            let rows = try await db.raw("""
                DELETE FROM auth_user_roles WHERE user_id = \(bind: user.id) AND role_id = \(bind: roleId) RETURNING id
                """).all()
            if rows.isEmpty {
                throw SwiftflowError.notFound("Role assignment (username=\(username), role_id=\(roleId)) not found")
            }
        }
    }

    public func roleAssignments(roleId: Int64) async throws -> [(id: Int64, userId: Int64)] {
        _ = try await role(id: roleId)
        return try await executor.read { db in
            try await db.raw("SELECT id, user_id FROM auth_user_roles WHERE role_id = \(bind: roleId) ORDER BY id").all().map {
                (try $0.decode(column: "id", as: Int64.self), try $0.decode(column: "user_id", as: Int64.self))
            }
        }
    }

    /// Roles matching `condition` (a WHERE clause or nothing), with their permissions.
    private func loadRoles(_ condition: SQLQueryString) async throws -> [Role] {
        try await executor.read { db in
            var roles = try await db.raw("SELECT id, name, workspace, description FROM auth_roles \(condition) ORDER BY id")
                .all().map { row in
                    Role(
                        id: try row.decode(column: "id", as: Int64.self), name: try row.decode(column: "name", as: String.self),
                        workspace: try row.decode(column: "workspace", as: String.self),
                        description: try row.decode(column: "description", as: String?.self), permissions: [])
                }
            guard !roles.isEmpty else { return [] }
            var query = SQLQuery("""
                SELECT id, role_id, resource_type, resource_pattern, permission FROM auth_role_permissions WHERE role_id IN
                """)
            query.bindList(roles.map(\.id))
            query += " ORDER BY id"
            var byRole: [Int64: [RolePermission]] = [:]
            for permission in try await db.all(query).map(Self.rolePermission) {
                byRole[permission.roleId, default: []].append(permission)
            }
            for index in roles.indices { roles[index].permissions = byRole[roles[index].id] ?? [] }
            return roles
        }
    }

    static func noRole(_ id: Int64) -> SwiftflowError { .notFound("Role with id=\(id) not found") }

    public func renameGrants(resourceTypes: [String], from oldPattern: String, to newPattern: String) async throws {
        try await executor.write { db in
            var query = SQLQuery("UPDATE auth_role_permissions SET resource_pattern = ")
            query.bind(newPattern)
            query += " WHERE resource_pattern = "
            query.bind(oldPattern)
            query += " AND resource_type IN "
            query.bindList(resourceTypes)
            query += " AND role_id IN (SELECT id FROM auth_roles WHERE name LIKE '\\_\\_user\\_%' ESCAPE '\\')"
            try await db.run(query)
        }
    }

    public func deleteGrants(resourceTypes: [String], resourcePattern: String) async throws {
        try await executor.write { db in
            var query = SQLQuery("DELETE FROM auth_role_permissions WHERE resource_pattern = ")
            query.bind(resourcePattern)
            query += " AND resource_type IN "
            query.bindList(resourceTypes)
            query += " AND role_id IN (SELECT id FROM auth_roles WHERE name LIKE '\\_\\_user\\_%' ESCAPE '\\')"
            try await db.run(query)
        }
    }

    /// The id of the user's own role, created and assigned on first use.
    private static func ownRole(_ db: any SQLDatabase, userId: Int64) async throws -> Int64 {
        let name = Role.userRoleName(userId)
        try await db.raw("""
            INSERT INTO auth_roles (name, workspace, description) VALUES (\(bind: name), \(bind: Role.defaultWorkspace), NULL)
            ON CONFLICT (workspace, name) DO NOTHING
            """).run()
        let rows = try await db.raw("""
            SELECT id FROM auth_roles WHERE name = \(bind: name) AND workspace = \(bind: Role.defaultWorkspace)
            """).all()
        guard let roleId = try rows.first?.decode(column: "id", as: Int64.self) else {
            throw SwiftflowError(.internalError, "The user's role could not be created.")
        }
        try await db.raw("""
            INSERT INTO auth_user_roles (user_id, role_id) VALUES (\(bind: userId), \(bind: roleId))
            ON CONFLICT (user_id, role_id) DO NOTHING
            """).run()
        return roleId
    }

    // MARK: - Rows and messages

    /// The id an `INSERT … RETURNING id` gave.
    private static func insertedId(_ rows: [any SQLRow], _ what: String) throws -> Int64 {
        guard let id = try rows.first?.decode(column: "id", as: Int64.self) else {
            throw SwiftflowError(.internalError, "The new \(what) has no id.")
        }
        return id
    }

    private static func user(_ row: any SQLRow) throws -> AuthUser {
        AuthUser(
            id: try row.decode(column: "id", as: Int64.self),
            username: try row.decode(column: "username", as: String.self),
            isAdmin: try row.decode(column: "is_admin", as: Bool.self))
    }

    private static func rolePermission(_ row: any SQLRow) throws -> RolePermission {
        let text = try row.decode(column: "permission", as: String.self)
        return RolePermission(
            id: try row.decode(column: "id", as: Int64.self),
            roleId: try row.decode(column: "role_id", as: Int64.self),
            resourceType: try row.decode(column: "resource_type", as: String.self),
            resourcePattern: try row.decode(column: "resource_pattern", as: String.self),
            // Written only through `Permission`; an unknown value (a newer binary's) grants nothing.
            permission: Permission(rawValue: text) ?? .deny)
    }

    /// MLflow's password rule.
    package static func validate(password: String) throws {
        if password.count < 12 { throw SwiftflowError.invalidParameter("Password must be at least 12 characters.") }
    }

    static func noUser(_ username: String) -> SwiftflowError {
        .notFound("User with username=\(username) not found")
    }
}

/// The auth tables and their migrations.
enum AuthSchema {
    static let migrationsTable = "swiftflow_auth_migrations"

    static let migrations: [Migration] = [
        Migration(id: "auth-0001-roles") { kind in
            let autoId = kind.autoIncrementPrimaryKey
            return [
                """
                CREATE TABLE auth_users (
                    id \(autoId),
                    username TEXT NOT NULL UNIQUE,
                    password_hash TEXT NOT NULL,
                    is_admin BOOLEAN NOT NULL DEFAULT FALSE)
                """,
                """
                CREATE TABLE auth_roles (
                    id \(autoId),
                    name TEXT NOT NULL,
                    workspace TEXT NOT NULL,
                    description TEXT,
                    UNIQUE (workspace, name))
                """,
                """
                CREATE TABLE auth_role_permissions (
                    id \(autoId),
                    role_id BIGINT NOT NULL REFERENCES auth_roles (id) ON DELETE CASCADE,
                    resource_type TEXT NOT NULL,
                    resource_pattern TEXT NOT NULL,
                    permission TEXT NOT NULL,
                    UNIQUE (role_id, resource_type, resource_pattern))
                """,
                "CREATE INDEX auth_role_permissions_resource ON auth_role_permissions (resource_type, resource_pattern)",
                """
                CREATE TABLE auth_user_roles (
                    id \(autoId),
                    user_id BIGINT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
                    role_id BIGINT NOT NULL REFERENCES auth_roles (id) ON DELETE CASCADE,
                    UNIQUE (user_id, role_id))
                """,
                "CREATE INDEX auth_user_roles_role ON auth_user_roles (role_id)",
            ]
        },
    ]
}
