import SwiftflowCore

/// The users, roles and role permissions of the basic-auth app (MLflow 3's model: a user holds roles,
/// a role holds permissions on resource patterns; a user's own grants live in their `__user_<id>__`
/// role).
///
/// Errors carry MLflow's codes and messages: `RESOURCE_DOES_NOT_EXIST` for an unknown user, role or
/// grant, `RESOURCE_ALREADY_EXISTS` for a taken name or an existing grant, `INVALID_PARAMETER_VALUE`
/// for input MLflow refuses.
public protocol AuthStore: Sendable {
    // MARK: - Users

    func createUser(username: String, password: String, isAdmin: Bool) async throws -> AuthUser
    /// - Throws: `RESOURCE_DOES_NOT_EXIST` if there is no such user.
    func user(named username: String) async throws -> AuthUser
    /// The user and their stored password hash, or nil: for checking credentials only.
    func credentials(username: String) async throws -> (user: AuthUser, passwordHash: String)?
    /// The user, their stored password hash and (unless an admin) their role permissions in
    /// `workspace`, read together: what one request needs to sign in and be authorized.
    func signIn(username: String, workspace: String) async throws -> SignIn?
    func listUsers() async throws -> [AuthUser]
    func updatePassword(username: String, password: String) async throws
    func updateAdmin(username: String, isAdmin: Bool) async throws
    /// Deletes the user with their own role and its grants.
    func deleteUser(username: String) async throws

    // MARK: - Permissions

    /// Every permission of every role the user holds in `workspace`: what authorization folds.
    func permissions(userId: Int64, workspace: String) async throws -> [RolePermission]
    /// The roles the user holds, with their permissions.
    func roles(userId: Int64) async throws -> [Role]
    /// Adds a permission to the user's own role (created on first use).
    /// - Throws: `RESOURCE_ALREADY_EXISTS` if the user has a grant on that resource already.
    func grant(username: String, resourceType: String, resourcePattern: String, permission: Permission) async throws
    /// Sets the permission of an existing or new grant in the user's own role (for creators).
    func setGrant(userId: Int64, resourceType: String, resourcePattern: String, permission: Permission) async throws
    /// - Throws: `RESOURCE_DOES_NOT_EXIST` if the user has no such grant.
    func revoke(username: String, resourceType: String, resourcePattern: String) async throws
    /// Changes the level of one role permission.
    /// - Throws: `RESOURCE_DOES_NOT_EXIST` if there is no such row.
    func updateRolePermission(id: Int64, permission: Permission) async throws -> RolePermission
    // MARK: - Roles

    /// - Throws: `RESOURCE_ALREADY_EXISTS` if the workspace has a role of that name.
    func createRole(name: String, workspace: String, description: String?) async throws -> Role
    /// - Throws: `RESOURCE_DOES_NOT_EXIST` for an unknown id.
    func role(id: Int64) async throws -> Role
    /// Every role of the workspaces given (all when empty), with their permissions.
    func listRoles(workspaces: [String]) async throws -> [Role]
    func updateRole(id: Int64, name: String?, description: String?) async throws -> Role
    func deleteRole(id: Int64) async throws
    func addRolePermission(roleId: Int64, resourceType: String, resourcePattern: String, permission: Permission) async throws
        -> RolePermission
    func removeRolePermission(id: Int64) async throws
    /// - Returns: the assignment's id and the user's id.
    func assignRole(username: String, roleId: Int64) async throws -> (id: Int64, userId: Int64)
    func unassignRole(username: String, roleId: Int64) async throws
    /// The users holding a role: assignment id and user id.
    func roleAssignments(roleId: Int64) async throws -> [(id: Int64, userId: Int64)]

    /// Renames the resource in every per-user grant (a renamed registered model).
    func renameGrants(resourceTypes: [String], from oldPattern: String, to newPattern: String) async throws
    /// Removes every per-user grant on the resource (a deleted registered model).
    func deleteGrants(resourceTypes: [String], resourcePattern: String) async throws
}

/// A user as one request signs in: who, the hash to check the password against, and the grants.
public struct SignIn: Sendable {
    public var user: AuthUser
    public var passwordHash: String
    /// Empty for admins, whom no grant concerns.
    public var permissions: [RolePermission]
}
