// The entities of MLflow's basic-auth app: users, permission levels and per-resource grants.

/// A permission level, as MLflow's basic-auth app names and orders them (MLflow 3: `USE` between READ
/// and EDIT, and `DENY`, an explicit veto).
public enum Permission: String, Sendable, CaseIterable {
    case read = "READ"
    case use = "USE"
    case edit = "EDIT"
    case manage = "MANAGE"
    case noPermissions = "NO_PERMISSIONS"
    case deny = "DENY"

    /// The order in which a fold of several grants picks the highest (DENY lowest; it wins by rule).
    public var priority: Int {
        switch self {
        case .deny: -1
        case .noPermissions: 0
        case .read: 1
        case .use: 2
        case .edit: 3
        case .manage: 4
        }
    }

    public var canRead: Bool { priority >= 1 }
    public var canUse: Bool { priority >= 2 }
    public var canUpdate: Bool { priority >= 3 }
    public var canDelete: Bool { self == .manage }
    public var canManage: Bool { self == .manage }

    /// What an operation needs of a permission.
    public enum Need: Sendable {
        case read, use, update, delete, manage
        /// Anything but an explicit DENY.
        case notDenied
    }

    public func allows(_ need: Need) -> Bool {
        switch need {
        case .read: canRead
        case .use: canUse
        case .update: canUpdate
        case .delete: canDelete
        case .manage: canManage
        case .notDenied: self != .deny
        }
    }

    /// Parses a level, or fails with MLflow's message.
    /// - Throws: `INVALID_PARAMETER_VALUE` naming the levels accepted.
    public static func parse(_ text: String) throws(SwiftflowError) -> Permission {
        guard let permission = Permission(rawValue: text) else {
            let names = allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            throw .invalidParameter("Invalid permission '\(text)'. Valid permissions are: (\(names))")
        }
        return permission
    }
}

/// The kinds of resource a role permission names, as MLflow 3's basic-auth app lists them.
public enum AuthResourceType: String, Sendable, CaseIterable {
    case assessment, experiment
    case gatewayEndpoint = "gateway_endpoint"
    case gatewayModelDefinition = "gateway_model_definition"
    case gatewaySecret = "gateway_secret"
    case loggedModel = "logged_model"
    case mcpServer = "mcp_server"
    case mcpServerVersion = "mcp_server_version"
    case prompt
    case promptVersion = "prompt_version"
    case registeredModel = "registered_model"
    case registeredModelVersion = "registered_model_version"
    case reviewQueue = "review_queue"
    case run, scorer
    case scorerVersion = "scorer_version"
    case trace, workspace

    /// Sub-resource tiers that only take `*` grants.
    public var isWildcardOnly: Bool {
        switch self {
        case .run, .trace, .assessment, .loggedModel, .reviewQueue, .registeredModelVersion, .promptVersion,
            .scorerVersion, .mcpServerVersion, .workspace:
            true
        default:
            false
        }
    }

    public static func parse(_ text: String) throws(SwiftflowError) -> AuthResourceType {
        guard let type = AuthResourceType(rawValue: text) else {
            let names = allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            throw .invalidParameter("Invalid resource type '\(text)'. Valid resource types are: (\(names))")
        }
        return type
    }
}

/// One row of a role: a permission on the resources of one type matching a pattern (an id, a name,
/// or `*` for all).
public struct RolePermission: Sendable, Equatable {
    public var id: Int64
    public var roleId: Int64
    public var resourceType: String
    public var resourcePattern: String
    public var permission: Permission

    public init(id: Int64, roleId: Int64, resourceType: String, resourcePattern: String, permission: Permission) {
        self.id = id
        self.roleId = roleId
        self.resourceType = resourceType
        self.resourcePattern = resourcePattern
        self.permission = permission
    }
}

/// A named set of permissions in a workspace, assigned to users. Per-user grants live in a hidden
/// role named `__user_<id>__`, as in MLflow.
public struct Role: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var workspace: String
    public var description: String?
    public var permissions: [RolePermission]

    public init(id: Int64, name: String, workspace: String, description: String?, permissions: [RolePermission]) {
        self.id = id
        self.name = name
        self.workspace = workspace
        self.description = description
        self.permissions = permissions
    }

    public static let defaultWorkspace = "default"
    public static let userRolePrefix = "__user_"
    public static func userRoleName(_ userId: Int64) -> String { "\(userRolePrefix)\(userId)__" }
}

/// A user of the basic-auth app. The password hash never leaves the store.
public struct AuthUser: Sendable, Equatable {
    public var id: Int64
    public var username: String
    public var isAdmin: Bool

    public init(id: Int64, username: String, isAdmin: Bool) {
        self.id = id
        self.username = username
        self.isAdmin = isAdmin
    }
}

/// Which resources of one kind (experiments by id, registered models by name) a search may return to
/// its caller: what the auth app lets them read. Applied in the query, so pages stay full.
public enum Visibility: Sendable, Equatable {
    case all
    /// Everything but these (a default permission that reads, less explicit NO_PERMISSIONS grants).
    case allExcept(Set<String>)
    /// Only these (a default permission that does not read, plus explicit grants that do).
    case only(Set<String>)
}
