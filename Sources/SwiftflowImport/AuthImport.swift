import SQLKit
import SwiftflowCore
import SwiftflowStore

/// Carries MLflow's basic-auth database (users, roles, permissions) into ours.
///
/// Password hashes are copied as they are: ours verifies werkzeug's `scrypt` and `pbkdf2` hashes, so
/// every user signs in with the same password. Users get ids of the target's; each user's own role
/// (`__user_<id>__`) is renamed to match. Databases from before MLflow's roles keep grants in
/// `experiment_permissions` and `registered_model_permissions`; those become the user's own role's
/// grants, as MLflow's own migration does (NO_PERMISSIONS rows are dropped there too).
struct AuthImport {
    struct Counts: Sendable {
        var users = 0
        var usersKept = 0
        var roles = 0
        var permissions = 0
        var assignments = 0
    }

    let source: SourceDatabase
    /// Nil for a dry run, which only counts.
    let target: (any DatabaseExecutor)?

    func run(dryRun: Bool) async throws -> Counts {
        let tables = try await source.tables()
        guard tables.contains("users") else {
            throw SwiftflowError.invalidParameter("\(source.description) is not an MLflow basic-auth database: it has no 'users' table.")
        }
        var counts = Counts()
        let users = try await source.rows("SELECT id, username, password_hash, is_admin FROM users ORDER BY id",
                                          types: [.int, .text, .text, .bool])
        struct SourceRole { var id: Int64; var name: String; var workspace: String; var description: String? }
        struct Grant { var roleId: Int64; var type: String; var pattern: String; var permission: String }
        var roles: [SourceRole] = []
        var grants: [Grant] = []
        var assignments: [(userId: Int64, roleId: Int64)] = []
        var hasSyntheticRoles = false
        if tables.contains("roles") {
            let synthetic = try await source.rows(
                "SELECT id FROM roles WHERE name LIKE '\\_\\_user\\_%' ESCAPE '\\'", types: [.int])
            hasSyntheticRoles = !synthetic.isEmpty
        }
        let legacy = tables.contains("experiment_permissions") && !hasSyntheticRoles
        if tables.contains("roles"), !legacy {
            roles = try await source.rows("SELECT id, name, workspace, description FROM roles ORDER BY id",
                                          types: [.int, .text, .text, .text]).compactMap {
                guard let id = $0[0].int, let name = $0[1].string else { return nil }
                return SourceRole(id: id, name: name, workspace: $0[2].string ?? Role.defaultWorkspace, description: $0[3].string)
            }
            grants = try await source.rows("""
                SELECT role_id, resource_type, resource_pattern, permission FROM role_permissions ORDER BY id
                """, types: [.int, .text, .text, .text]).compactMap {
                guard let roleId = $0[0].int, let type = $0[1].string, let pattern = $0[2].string,
                      let permission = $0[3].string else { return nil }
                return Grant(roleId: roleId, type: type, pattern: pattern, permission: permission)
            }
            assignments = try await source.rows("SELECT user_id, role_id FROM user_role_assignments ORDER BY id",
                                                types: [.int, .int]).compactMap {
                guard let user = $0[0].int, let role = $0[1].int else { return nil }
                return (user, role)
            }
        } else if legacy {
            // Synthetic role ids, negative so they cannot meet a real one.
            var roleOf: [Int64: Int64] = [:]
            func role(for userId: Int64) -> Int64 {
                if let id = roleOf[userId] { return id }
                let id = -Int64(roleOf.count + 1)
                roleOf[userId] = id
                roles.append(SourceRole(id: id, name: Role.userRoleName(userId), workspace: Role.defaultWorkspace, description: nil))
                assignments.append((userId, id))
                return id
            }
            for row in try await source.rows("SELECT experiment_id, user_id, permission FROM experiment_permissions ORDER BY id",
                                             types: [.text, .int, .text]) {
                guard let pattern = row[0].string, let user = row[1].int, let permission = row[2].string,
                      permission != Permission.noPermissions.rawValue else { continue }
                grants.append(Grant(roleId: role(for: user), type: "experiment", pattern: pattern, permission: permission))
            }
            if tables.contains("registered_model_permissions") {
                for row in try await source.rows("SELECT name, user_id, permission FROM registered_model_permissions ORDER BY id",
                                                 types: [.text, .int, .text]) {
                    guard let pattern = row[0].string, let user = row[1].int, let permission = row[2].string,
                          permission != Permission.noPermissions.rawValue else { continue }
                    grants.append(Grant(roleId: role(for: user), type: "registered_model", pattern: pattern, permission: permission))
                }
            }
        }
        guard !dryRun, let target else {
            counts.users = users.count
            counts.roles = roles.filter { !$0.name.hasPrefix(Role.userRolePrefix) }.count
            counts.permissions = grants.count
            counts.assignments = assignments.count
            return counts
        }
        let sourceUsers = users
        let sourceRoles = roles
        let sourceGrants = grants
        let sourceAssignments = assignments
        return try await target.write { db in
            var counts = Counts()
            var userIds: [Int64: Int64] = [:]
            for row in sourceUsers {
                guard let id = row[0].int, let name = row[1].string, let hash = row[2].string else { continue }
                let inserted = try await db.raw("""
                    INSERT INTO auth_users (username, password_hash, is_admin)
                    VALUES (\(bind: name), \(bind: hash), \(bind: row[3].bool ?? false))
                    ON CONFLICT (username) DO NOTHING RETURNING id
                    """).all()
                if let newId = try inserted.first?.decode(column: "id", as: Int64.self) {
                    userIds[id] = newId
                    counts.users += 1
                } else {
                    let found = try await db.raw("SELECT id FROM auth_users WHERE username = \(bind: name)").all()
                    userIds[id] = try found.first?.decode(column: "id", as: Int64.self)
                    counts.usersKept += 1
                }
            }
            var roleIds: [Int64: Int64] = [:]
            for role in sourceRoles {
                var name = role.name
                if name.hasPrefix(Role.userRolePrefix), name.hasSuffix("__"),
                   let sourceUser = Int64(name.dropFirst(Role.userRolePrefix.count).dropLast(2))
                {
                    guard let targetUser = userIds[sourceUser] else { continue }
                    name = Role.userRoleName(targetUser)
                } else {
                    counts.roles += 1
                }
                try await db.raw("""
                    INSERT INTO auth_roles (name, workspace, description)
                    VALUES (\(bind: name), \(bind: role.workspace), \(bind: role.description))
                    ON CONFLICT (workspace, name) DO NOTHING
                    """).run()
                let found = try await db.raw("""
                    SELECT id FROM auth_roles WHERE name = \(bind: name) AND workspace = \(bind: role.workspace)
                    """).all()
                roleIds[role.id] = try found.first?.decode(column: "id", as: Int64.self)
            }
            for grant in sourceGrants {
                guard let roleId = roleIds[grant.roleId] else { continue }
                let rows = try await db.raw("""
                    INSERT INTO auth_role_permissions (role_id, resource_type, resource_pattern, permission)
                    VALUES (\(bind: roleId), \(bind: grant.type), \(bind: grant.pattern), \(bind: grant.permission))
                    ON CONFLICT (role_id, resource_type, resource_pattern) DO NOTHING RETURNING id
                    """).all()
                counts.permissions += rows.count
            }
            for assignment in sourceAssignments {
                guard let userId = userIds[assignment.userId], let roleId = roleIds[assignment.roleId] else { continue }
                let rows = try await db.raw("""
                    INSERT INTO auth_user_roles (user_id, role_id) VALUES (\(bind: userId), \(bind: roleId))
                    ON CONFLICT (user_id, role_id) DO NOTHING RETURNING id
                    """).all()
                counts.assignments += rows.count
            }
            return counts
        }
    }
}
