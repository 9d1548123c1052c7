import Hummingbird
import NIOCore
import SwiftflowCore
import SwiftflowStore

/// The basic-auth app's REST API, as MLflow 3 serves it: users under `/api/2.0/mlflow/users/*`, a
/// user's permissions under `/api/3.0/mlflow/users/permissions/*`, and the roles API (admins only).
///
/// Answers are Flask's `jsonify`: compact, keys sorted, a trailing newline. No answer carries a
/// password or a hash.
struct AuthRoutes {
    let access: AccessControl

    func register(on router: Router<ServerRequestContext>) {
        let api2 = APIRouter(router: router)
        var api3 = APIRouter(router: router)
        api3.routePrefixes = APIRouter.prefixes3
        registerUsers(on: api2)
        registerLegacyPermissions(on: api2)
        registerPermissions(on: api3)
        registerRoles(on: api3)
    }

    // MARK: - Users

    private func registerUsers(on api: APIRouter) {
        let store = access.auth
        // Registered on the router itself: MLflow answers a body that is not JSON with a plain sentence.
        for prefix in APIRouter.prefixes {
            api.router.post(RouterPath(prefix + "/users/create")) { request, context in
                guard request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true else {
                    return AuthMiddleware.text(.badRequest, "Invalid content type. Must be application/json")
                }
                var decoded = try await APIRouter.decode(request, context: context)
                decoded.auth = context.auth
                return try await Self.createUser(decoded, store: store)
            }
        }
        api.on(.get, "/users/get") { request in
            let auth = try Self.caller(request)
            let username = try Self.required(request, "username")
            if !auth.isAdmin, username != auth.user.username { throw PermissionDenied() }
            let user = try await store.user(named: username)
            return JSONResponse.flask { w in w.beginObject(); w.key("user"); Self.write(user, into: &w); w.endObject() }
        }
        api.on(.get, "/users/current") { request in
            let auth = try Self.caller(request)
            return JSONResponse.flask { w in
                w.beginObject()
                w.field("is_basic_auth", true)
                w.key("user"); Self.write(auth.user, into: &w)
                w.endObject()
            }
        }
        api.on(.get, "/users/list") { request in
            let auth = try Self.caller(request)
            let users = try await store.listUsers()
            var roles: [Int64: [Role]] = [:]
            for user in users where auth.isAdmin || user.id == auth.user.id {
                roles[user.id] = try await store.roles(userId: user.id)
            }
            return JSONResponse.flask { w in
                w.beginObject()
                w.key("users")
                w.beginArray()
                for user in users {
                    w.beginObject()
                    w.field("id", user.id)
                    w.field("is_admin", user.isAdmin)
                    w.key("roles"); Self.write(roles[user.id] ?? [], into: &w)
                    w.field("username", user.username)
                    w.endObject()
                }
                w.endArray()
                w.endObject()
            }
        }
        api.on(.patch, "/users/update-password") { request in
            let auth = try Self.caller(request)
            let username = try Self.required(request, "username")
            let password = try Self.required(request, "password")
            if !auth.isAdmin, username != auth.user.username { throw PermissionDenied() }
            if username == auth.user.username {
                // Changing one's own password asks for the current one, admins included.
                guard let current = try request.string("current_password"), !current.isEmpty else {
                    throw SwiftflowError.invalidParameter("Current password is required when changing your own password.")
                }
                guard let stored = try await store.credentials(username: username),
                    try await PasswordHash.matches(current, stored.passwordHash)
                else { throw SwiftflowError.invalidParameter("Current password does not match.") }
                if current == password {
                    throw SwiftflowError.invalidParameter("New password must differ from the current password.")
                }
            }
            try await store.updatePassword(username: username, password: password)
            return Self.flaskEmpty
        }
        api.on(.patch, "/users/update-admin") { request in
            let username = try Self.required(request, "username")
            guard let isAdmin = try request.bool("is_admin") else {
                throw SwiftflowError.invalidParameter(Self.missing("is_admin"))
            }
            try await store.updateAdmin(username: username, isAdmin: isAdmin)
            return Self.flaskEmpty
        }
        api.on(.delete, "/users/delete") { request in
            let auth = try Self.caller(request)
            let username = try Self.required(request, "username")
            if username == auth.user.username {
                throw SwiftflowError(
                    .badRequest, "Users cannot delete their own account. Ask another admin to delete this user instead.")
            }
            try await store.deleteUser(username: username)
            return Self.flaskEmpty
        }
    }

    private static func createUser(_ request: MLflowRequest, store: any AuthStore) async throws -> Response {
        try await requireAdminOrWorkspaceAdmin(try caller(request))
        let username = try required(request, "username")
        let password = try required(request, "password")
        if username.isEmpty || password.isEmpty {
            return AuthMiddleware.text(.badRequest, "Username and password cannot be empty.")
        }
        let user = try await store.createUser(username: username, password: password, isAdmin: false)
        return JSONResponse.flask { w in w.beginObject(); w.key("user"); write(user, into: &w); w.endObject() }
    }

    // MARK: - A user's permissions

    private func registerPermissions(on api: APIRouter) {
        let access = self.access
        let store = access.auth
        api.on(.post, "/users/permissions/grant") { request in
            let auth = try Self.caller(request)
            let (username, type, id) = try Self.target(request)
            let permission = try Permission.parse(try Self.required(request, "permission"))
            try await Self.requireManage(auth, type, id)
            if permission == .noPermissions {
                let accepted = Permission.allCases.filter { $0 != .noPermissions }.map { "'\($0.rawValue)'" }.sorted()
                throw SwiftflowError.invalidParameter(
                    "Invalid permission 'NO_PERMISSIONS' for resource_type='\(type.rawValue)'. "
                        + "Resource-level grants accept only: (\(accepted.joined(separator: ", "))).")
            }
            try await store.grant(username: username, resourceType: type.rawValue, resourcePattern: id, permission: permission)
            return Self.flaskEmpty
        }
        api.on(.post, "/users/permissions/revoke") { request in
            let auth = try Self.caller(request)
            let (username, type, id) = try Self.target(request)
            try await Self.requireManage(auth, type, id)
            try await store.revoke(username: username, resourceType: type.rawValue, resourcePattern: id)
            return Self.flaskEmpty
        }
        api.on(.get, "/users/permissions/get") { request in
            let auth = try Self.caller(request)
            let username = try Self.required(request, "username")
            if !auth.isAdmin, username != auth.user.username { throw PermissionDenied() }
            let (_, type, id) = try Self.target(request)
            if type.isWildcardOnly {
                throw SwiftflowError.invalidParameter(
                    "resource_type '\(type.rawValue)' is not supported by the per-user permission convenience APIs.")
            }
            let target = RequestAuth(user: try await store.user(named: username), access: access)
            let permission = try await target.permission(type, id)
            return JSONResponse.flask { w in
                w.beginObject()
                w.field("allowed", permission.canUse)
                w.field("permission", permission.rawValue)
                w.endObject()
            }
        }
        api.on(.get, "/users/permissions/list") { request in
            let auth = try Self.caller(request)
            let username = try Self.required(request, "username")
            if !auth.isAdmin, username != auth.user.username { throw PermissionDenied() }
            return try await Self.permissionList(try await store.user(named: username), store: store)
        }
        api.on(.get, "/users/current/permissions") { request in
            try await Self.permissionList(try Self.caller(request).user, store: store)
        }
        api.on(.get, "/users/roles/list") { request in
            let auth = try Self.caller(request)
            let username = try Self.required(request, "username")
            if !auth.isAdmin, username != auth.user.username { throw PermissionDenied() }
            let roles = try await store.roles(userId: try await store.user(named: username).id)
            return JSONResponse.flask { w in w.beginObject(); w.key("roles"); Self.write(roles, into: &w); w.endObject() }
        }
    }

    // MARK: - MLflow 2.x permission routes

    /// `experiments/permissions/*` and `registered-models/permissions/*` as MLflow 2.x served them, for
    /// clients and scripts written against it: each reads and writes the user's own grant, the same
    /// row MLflow 3's `users/permissions/*` routes see. Callers need MANAGE (`AccessRules`).
    private func registerLegacyPermissions(on api: APIRouter) {
        let access = self.access
        for kind in LegacyKind.allCases {
            api.on(.post, "\(kind.route)/create") { request in
                let (key, username) = try await kind.target(request, access)
                let permission = try Permission.parse(try Self.required(request, "permission"))
                do {
                    try await access.auth.grant(
                        username: username, resourceType: kind.type.rawValue, resourcePattern: key, permission: permission)
                } catch let error as SwiftflowError where error.code == .resourceAlreadyExists {
                    throw SwiftflowError.alreadyExists("\(kind.title) (\(kind.keyName)=\(key), username=\(username)) already exists.")
                }
                let user = try await access.auth.user(named: username)
                return JSONResponse.flask { w in kind.write(key, user.id, permission, into: &w) }
            }
            api.on(.get, "\(kind.route)/get") { request in
                let (key, username) = try await kind.target(request, access)
                let (user, row) = try await kind.row(key, username, access)
                return JSONResponse.flask { w in kind.write(key, user.id, row.permission, into: &w) }
            }
            api.on(.patch, "\(kind.route)/update") { request in
                let (key, username) = try await kind.target(request, access)
                let permission = try Permission.parse(try Self.required(request, "permission"))
                let (_, row) = try await kind.row(key, username, access)
                _ = try await access.auth.updateRolePermission(id: row.id, permission: permission)
                return Self.flaskEmpty
            }
            api.on(.delete, "\(kind.route)/delete") { request in
                let (key, username) = try await kind.target(request, access)
                let (_, row) = try await kind.row(key, username, access)
                try await access.auth.removeRolePermission(id: row.id)
                return Self.flaskEmpty
            }
        }
    }

    /// The two resources MLflow 2.x's permission routes cover.
    enum LegacyKind: CaseIterable {
        case experiment, registeredModel

        var route: String { self == .experiment ? "/experiments/permissions" : "/registered-models/permissions" }
        var type: AuthResourceType { self == .experiment ? .experiment : .registeredModel }
        var keyName: String { self == .experiment ? "experiment_id" : "name" }
        var title: String { self == .experiment ? "Experiment permission" : "Registered model permission" }

        /// The resource (which must exist) and the username of a request.
        func target(_ request: MLflowRequest, _ access: AccessControl) async throws -> (String, String) {
            let key = try AuthRoutes.required(request, keyName)
            let username = try AuthRoutes.required(request, "username")
            if self == .experiment {
                _ = try await access.tracking.getExperiment(id: key)
            } else {
                _ = try await access.registry.getRegisteredModel(name: key)
            }
            return (key, username)
        }

        /// The user's own grant on the resource, or MLflow 2.x's 404.
        func row(_ key: String, _ username: String, _ access: AccessControl) async throws -> (AuthUser, RolePermission) {
            let user = try await access.auth.user(named: username)
            let own = try await access.auth.roles(userId: user.id).first { $0.name == Role.userRoleName(user.id) }
            guard let row = own?.permissions.first(where: { $0.resourceType == type.rawValue && $0.resourcePattern == key })
            else {
                throw SwiftflowError.notFound("\(title) with \(keyName)=\(key) and username=\(username) not found")
            }
            return (user, row)
        }

        func write(_ key: String, _ userId: Int64, _ permission: Permission, into w: inout JSONWriter) {
            w.beginObject()
            w.key(self == .experiment ? "experiment_permission" : "registered_model_permission")
            w.beginObject()
            if self == .experiment { w.field("experiment_id", key) } else { w.field("name", key) }
            w.field("permission", permission.rawValue)
            w.field("user_id", userId)
            w.endObject()
            w.endObject()
        }
    }

    private static func permissionList(_ user: AuthUser, store: any AuthStore) async throws -> Response {
        let roles = try await store.roles(userId: user.id)
        return JSONResponse.flask { w in
            w.beginObject()
            w.field("is_admin", user.isAdmin)
            w.key("permissions")
            w.beginArray()
            for role in roles {
                for permission in role.permissions {
                    w.beginObject()
                    w.field("permission", permission.permission.rawValue)
                    w.field("resource_pattern", permission.resourcePattern)
                    w.field("resource_type", permission.resourceType)
                    w.field("role_id", role.id)
                    w.field("role_name", role.name)
                    w.field("workspace", role.workspace)
                    w.endObject()
                }
            }
            w.endArray()
            w.endObject()
        }
    }

    // MARK: - Roles (admins)

    private func registerRoles(on api: APIRouter) {
        let store = access.auth
        api.on(.post, "/roles/create") { request in
            try await Self.requireAdminOrWorkspaceAdmin(try Self.caller(request))
            let role = try await store.createRole(
                name: try Self.required(request, "name"), workspace: try Self.required(request, "workspace"),
                description: try request.string("description"))
            return JSONResponse.flask { w in w.beginObject(); w.key("role"); Self.write(role, into: &w); w.endObject() }
        }
        api.on(.get, "/roles/get") { request in
            let role = try await Self.viewableRole(request, store: store)
            return JSONResponse.flask { w in w.beginObject(); w.key("role"); Self.write(role, into: &w); w.endObject() }
        }
        api.on(.get, "/roles/list") { request in
            try await Self.requireAdminOrWorkspaceAdmin(try Self.caller(request))
            let roles = try await store.listRoles(workspaces: try request.stringArray("workspace"))
            return JSONResponse.flask { w in w.beginObject(); w.key("roles"); Self.write(roles, into: &w); w.endObject() }
        }
        api.on(.patch, "/roles/update") { request in
            try await Self.requireAdminOrWorkspaceAdmin(try Self.caller(request))
            let role = try await store.updateRole(
                id: try Self.roleId(request, "role_id"), name: try request.string("name"),
                description: try request.string("description"))
            return JSONResponse.flask { w in w.beginObject(); w.key("role"); Self.write(role, into: &w); w.endObject() }
        }
        api.on(.delete, "/roles/delete") { request in
            try await Self.requireAdminOrWorkspaceAdmin(try Self.caller(request))
            try await store.deleteRole(id: try Self.roleId(request, "role_id"))
            return Self.flaskEmpty
        }
        api.on(.post, "/roles/permissions/add") { request in
            try await Self.requireAdminOrWorkspaceAdmin(try Self.caller(request))
            let roleId = try Self.roleId(request, "role_id")
            let type = try AuthResourceType.parse(try Self.required(request, "resource_type"))
            let pattern = try Self.required(request, "resource_pattern")
            let permission = try Permission.parse(try Self.required(request, "permission"))
            let row = try await store.addRolePermission(
                roleId: roleId, resourceType: type.rawValue, resourcePattern: pattern, permission: permission)
            return JSONResponse.flask { w in w.beginObject(); w.key("role_permission"); Self.write(row, into: &w); w.endObject() }
        }
        api.on(.delete, "/roles/permissions/remove") { request in
            try await Self.requireAdminOrWorkspaceAdmin(try Self.caller(request))
            try await store.removeRolePermission(id: try Self.roleId(request, "role_permission_id"))
            return Self.flaskEmpty
        }
        api.on(.get, "/roles/permissions/list") { request in
            let role = try await Self.viewableRole(request, store: store)
            return JSONResponse.flask { w in
                w.beginObject()
                w.key("role_permissions")
                w.beginArray()
                for row in role.permissions { Self.write(row, into: &w) }
                w.endArray()
                w.endObject()
            }
        }
        api.on(.patch, "/roles/permissions/update") { request in
            try await Self.requireAdminOrWorkspaceAdmin(try Self.caller(request))
            let id = try Self.roleId(request, "role_permission_id")
            let permission = try Permission.parse(try Self.required(request, "permission"))
            let row = try await store.updateRolePermission(id: id, permission: permission)
            return JSONResponse.flask { w in
                w.beginObject(); w.key("role_permission"); Self.write(row, into: &w); w.endObject()
            }
        }
        api.on(.post, "/roles/assign") { request in
            try await Self.requireAdminOrWorkspaceAdmin(try Self.caller(request))
            let roleId = try Self.roleId(request, "role_id")
            let assignment = try await store.assignRole(username: try Self.required(request, "username"), roleId: roleId)
            return JSONResponse.flask { w in
                w.beginObject(); w.key("assignment"); Self.write(assignment, roleId: roleId, into: &w); w.endObject()
            }
        }
        api.on(.delete, "/roles/unassign") { request in
            try await Self.requireAdminOrWorkspaceAdmin(try Self.caller(request))
            try await store.unassignRole(
                username: try Self.required(request, "username"), roleId: try Self.roleId(request, "role_id"))
            return Self.flaskEmpty
        }
        api.on(.get, "/roles/users/list") { request in
            try await Self.requireAdminOrWorkspaceAdmin(try Self.caller(request))
            let roleId = try Self.roleId(request, "role_id")
            let assignments = try await store.roleAssignments(roleId: roleId)
            return JSONResponse.flask { w in
                w.beginObject()
                w.key("assignments")
                w.beginArray()
                for assignment in assignments { Self.write(assignment, roleId: roleId, into: &w) }
                w.endArray()
                w.endObject()
            }
        }
    }

    /// A role the caller may look at: admins and workspace admins any, others the roles they hold.
    private static func viewableRole(_ request: MLflowRequest, store: any AuthStore) async throws -> Role {
        let auth = try caller(request)
        let role = try await store.role(id: try roleId(request, "role_id"))
        if auth.isAdmin { return role }
        let rows = try await auth.grants()
        let workspaceAdmin = rows.contains { $0.resourceType == "workspace" && $0.permission == .manage }
        if !workspaceAdmin, !(try await store.roles(userId: auth.user.id)).contains(where: { $0.id == role.id }) {
            throw PermissionDenied()
        }
        return role
    }

    /// An integer id field, with MLflow's messages.
    private static func roleId(_ request: MLflowRequest, _ name: String) throws -> Int64 {
        guard let value = request.value(name) else { throw SwiftflowError.invalidParameter(missing(name)) }
        switch value {
        case .number(let text), .string(let text):
            if let id = Int64(text) { return id }
            throw SwiftflowError.invalidParameter("Parameter '\(name)' must be an integer. Got: '\(text)'")
        default:
            throw SwiftflowError.invalidParameter("Parameter '\(name)' must be an integer.")
        }
    }

    static func write(_ assignment: (id: Int64, userId: Int64), roleId: Int64, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", assignment.id)
        w.field("role_id", roleId)
        w.field("user_id", assignment.userId)
        w.endObject()
    }

    // MARK: - Helpers

    private static func caller(_ request: MLflowRequest) throws -> RequestAuth {
        guard let auth = request.auth else { throw SwiftflowError(.internalError, "The auth routes run without a caller.") }
        return auth
    }

    private static func requireAdminOrWorkspaceAdmin(_ auth: RequestAuth) async throws {
        if auth.isAdmin { return }
        let rows = try await auth.grants()
        if !rows.contains(where: { $0.resourceType == "workspace" && $0.permission == .manage }) { throw PermissionDenied() }
    }

    /// Granting or revoking needs MANAGE on the resource; grants on every resource (`*`) are for admins.
    private static func requireManage(_ auth: RequestAuth, _ type: AuthResourceType, _ id: String) async throws {
        if auth.isAdmin { return }
        if id == "*" { throw PermissionDenied() }
        try await auth.require(.manage, type, id)
    }

    /// `username`, `resource_type` and `resource_id`, read and checked in MLflow's order.
    private static func target(_ request: MLflowRequest) throws -> (String, AuthResourceType, String) {
        let username = try required(request, "username")
        let type = try AuthResourceType.parse(try required(request, "resource_type"))
        let id = try required(request, "resource_id")
        if type == .workspace {
            throw SwiftflowError.invalidParameter(
                "resource_type 'workspace' is not supported by the per-user permission convenience APIs. "
                    + "Use set_workspace_permission / delete_workspace_permission for workspace-wide grants.")
        }
        if type.isWildcardOnly, id != "*" {
            throw SwiftflowError.invalidParameter(
                "Invalid resource_pattern '\(id)' for resource_type='\(type.rawValue)'. "
                    + "This resource type supports only wildcard ('*') grants.")
        }
        return (username, type, id)
    }

    /// A field that must be present (it may be empty), with MLflow's message when it is not.
    static func required(_ request: MLflowRequest, _ name: String) throws -> String {
        guard let value = try request.string(name) else { throw SwiftflowError.invalidParameter(missing(name)) }
        return value
    }

    private static func missing(_ name: String) -> String {
        "Missing value for required parameter '\(name)'. See the API docs for more information about request parameters."
    }

    static func write(_ user: AuthUser, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", user.id)
        w.field("is_admin", user.isAdmin)
        w.field("username", user.username)
        w.endObject()
    }

    static func write(_ roles: [Role], into w: inout JSONWriter) {
        w.beginArray()
        for role in roles { write(role, into: &w) }
        w.endArray()
    }

    static func write(_ role: Role, into w: inout JSONWriter) {
        w.beginObject()
        if let description = role.description { w.field("description", description) } else { w.key("description"); w.null() }
        w.field("id", role.id)
        w.field("name", role.name)
        w.key("permissions")
        w.beginArray()
        for permission in role.permissions { write(permission, into: &w) }
        w.endArray()
        w.field("workspace", role.workspace)
        w.endObject()
    }

    static func write(_ permission: RolePermission, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", permission.id)
        w.field("permission", permission.permission.rawValue)
        w.field("resource_pattern", permission.resourcePattern)
        w.field("resource_type", permission.resourceType)
        w.field("role_id", permission.roleId)
        w.endObject()
    }

    static var flaskEmpty: Response { JSONResponse.flask { w in w.beginObject(); w.endObject() } }
}
