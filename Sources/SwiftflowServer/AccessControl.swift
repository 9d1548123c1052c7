import SwiftflowCore
import SwiftflowStore
import Synchronization

/// The basic-auth app as the server runs it: who the users are, what `default_permission` gives,
/// and the stores that tell which experiment a run or a logged model belongs to.
public struct AccessControl: Sendable {
    let auth: any AuthStore
    let tracking: any TrackingStore
    let registry: any RegistryStore
    let defaultPermission: Permission
    let authenticator: Authenticator
    /// Runs never change experiment, so where each run belongs is remembered (bounded).
    private let runExperiments = RunExperimentCache()

    public init(
        auth: any AuthStore, tracking: any TrackingStore, registry: any RegistryStore, config: AuthConfig
    ) {
        self.auth = auth
        self.tracking = tracking
        self.registry = registry
        self.defaultPermission = config.defaultPermission
        self.authenticator = Authenticator(
            store: auth, throttle: LoginThrottle(maxFailures: config.maxFailedLogins, lockoutSeconds: config.lockoutSeconds))
    }

    /// The experiment of a run, or nil if there is no such run.
    func experimentId(ofRun runId: String) async throws -> String? {
        if let known = runExperiments.get(runId) { return known }
        guard let found = try await tracking.experimentId(ofRun: runId) else { return nil }
        runExperiments.set(runId, found)
        return found
    }

    /// Creates the configured admin user if there is none of that name (MLflow's start-up step). An
    /// existing admin still on the old default password gets the configured one instead, as in MLflow.
    /// - Throws: `INVALID_PARAMETER_VALUE` for a missing, default or too short password.
    public static func bootstrapAdmin(_ config: AuthConfig, store: any AuthStore) async throws {
        if let existing = try await store.credentials(username: config.adminUsername) {
            guard try await PasswordHash.matches(AuthConfig.defaultAdminPassword, existing.passwordHash) else { return }
            try validateAdminPassword(config)
            try await store.updatePassword(username: config.adminUsername, password: config.adminPassword)
            return
        }
        try validateAdminPassword(config)
        _ = try await store.createUser(username: config.adminUsername, password: config.adminPassword, isAdmin: true)
    }

    /// MLflow 3's refusals for the configured admin password.
    public static func validateAdminPassword(_ config: AuthConfig) throws {
        let user = config.adminUsername
        if config.adminPassword.isEmpty {
            throw SwiftflowError.invalidParameter(
                "Authentication needs a password to create the admin user '\(user)', but none is configured "
                    + "(admin_password in the auth configuration, or MLFLOW_AUTH_ADMIN_PASSWORD).")
        }
        if config.adminPassword == AuthConfig.defaultAdminPassword {
            throw SwiftflowError.invalidParameter(
                "Refusing to use the insecure default password for the admin user '\(user)'. "
                    + "Set admin_password (or MLFLOW_AUTH_ADMIN_PASSWORD) to a password of at least 12 characters.")
        }
        if config.adminPassword.count < 12 {
            throw SwiftflowError.invalidParameter(
                "The configured password for the admin user '\(user)' is invalid: Password must be at least 12 characters.")
        }
    }
}

/// Run id → experiment id, at most `limit` entries (emptied when full: a refill costs one query a run).
final class RunExperimentCache: Sendable {
    private let entries = Mutex<[String: String]>([:])
    private static let limit = 100_000

    func get(_ runId: String) -> String? { entries.withLock { $0[runId] } }

    func set(_ runId: String, _ experimentId: String) {
        entries.withLock { entries in
            if entries.count >= Self.limit { entries.removeAll(keepingCapacity: true) }
            entries[runId] = experimentId
        }
    }
}

/// MLflow's answer to an authorization refusal: plain text, status 403.
struct PermissionDenied: Error {}

/// One authenticated request's view of the permissions: the user, and their role permissions, read
/// at most once per request.
package final class RequestAuth: Sendable {
    let user: AuthUser
    let access: AccessControl
    private let cached = Mutex<[RolePermission]?>(nil)

    /// - Parameter grants: the user's role permissions when already read (at sign-in); else read on first use.
    package init(user: AuthUser, access: AccessControl, grants: [RolePermission]? = nil) {
        self.user = user
        self.access = access
        cached.withLock { $0 = grants }
    }

    var isAdmin: Bool { user.isAdmin }

    func grants() async throws -> [RolePermission] {
        if let rows = cached.withLock({ $0 }) { return rows }
        let rows = try await access.auth.permissions(userId: user.id, workspace: Role.defaultWorkspace)
        cached.withLock { $0 = rows }
        return rows
    }

    // MARK: - Resolution

    /// What the user has on one resource: the first of `key` and `fallbacks` holding any grant
    /// decides (DENY wins within a key, else the highest level); a positive grant never falls below
    /// the default; without any grant, the default.
    package func permission(
        _ type: AuthResourceType, _ id: String, fallbacks: [(AuthResourceType, String)] = []
    ) async throws -> Permission {
        let rows = try await grants()
        if rows.contains(where: { $0.resourceType == "workspace" && $0.permission == .manage }) { return .manage }
        let floor = access.defaultPermission
        for (keyType, keyId) in [(type, id)] + fallbacks {
            guard let folded = Self.fold(rows, keyType, keyId) else { continue }
            if folded.canRead, folded.priority < floor.priority { return floor }
            return folded
        }
        return floor
    }

    /// The grants matching one key, folded: DENY if any, else the highest; nil if none match.
    static func fold(_ rows: [RolePermission], _ type: AuthResourceType, _ id: String) -> Permission? {
        var best: Permission?
        for row in rows where row.resourceType == type.rawValue && (row.resourcePattern == "*" || row.resourcePattern == id) {
            if row.permission == .deny { return .deny }
            if best == nil || row.permission.priority > best!.priority { best = row.permission }
        }
        return best
    }

    func require(
        _ need: Permission.Need, _ type: AuthResourceType, _ id: String, fallbacks: [(AuthResourceType, String)] = []
    ) async throws {
        if isAdmin { return }
        guard try await permission(type, id, fallbacks: fallbacks).allows(need) else { throw PermissionDenied() }
    }

    // MARK: - Resources

    func requireExperiment(_ id: String, _ need: Permission.Need) async throws {
        try await require(need, .experiment, id)
    }

    /// A run operation: READ on the run's experiment and `need` on the run tier (falling back to the
    /// experiment). An unknown run is refused, so that refusals tell nothing of what exists.
    func requireRun(_ runId: String, _ need: Permission.Need) async throws {
        if isAdmin { return }
        guard let experimentId = try await access.experimentId(ofRun: runId) else { throw PermissionDenied() }
        try await requireTier(.run, experimentId: experimentId, need)
    }

    func requireLoggedModel(_ modelId: String, _ need: Permission.Need) async throws {
        if isAdmin { return }
        let model: LoggedModel
        do {
            model = try await access.tracking.getLoggedModel(id: modelId, allowDeleted: true)
        } catch let error as SwiftflowError where error.code == .resourceDoesNotExist {
            throw PermissionDenied()
        }
        try await requireTier(.loggedModel, experimentId: model.experimentId, need)
    }

    /// READ on the experiment and `need` on a sub-resource tier of it.
    func requireTier(_ tier: AuthResourceType, experimentId: String, _ need: Permission.Need) async throws {
        try await require(.read, .experiment, experimentId)
        try await require(need, tier, "*", fallbacks: [(.experiment, experimentId)])
    }

    func requireRegisteredModel(_ name: String, _ need: Permission.Need) async throws {
        try await require(need, .registeredModel, name)
    }

    /// A model version operation: READ on the model and `need` on the version tier (falling back to
    /// the model). An unknown model is refused.
    func requireModelVersion(_ name: String, _ need: Permission.Need, modelNeed: Permission.Need = .read) async throws {
        if isAdmin { return }
        try await requireExistingModel(name)
        try await require(modelNeed, .registeredModel, name)
        try await require(need, .registeredModelVersion, "*", fallbacks: [(.registeredModel, name)])
    }

    func requireExistingModel(_ name: String) async throws {
        do {
            _ = try await access.registry.getRegisteredModel(name: name)
        } catch let error as SwiftflowError where error.code == .resourceDoesNotExist {
            throw PermissionDenied()
        }
    }

    func requireAdmin() throws {
        if !isAdmin { throw PermissionDenied() }
    }

    // MARK: - Searches

    /// The experiments (or registered models) a search may return: everything the user can read,
    /// computed from their grants without reading the resources.
    package func visibility(_ type: AuthResourceType) async throws -> Visibility {
        if isAdmin { return .all }
        let rows = try await grants()
        if rows.contains(where: { $0.resourceType == "workspace" }) { return .all }
        let wildcard = Self.fold(rows, type, "*")
        if wildcard == .deny { return .only([]) }
        let floor = access.defaultPermission
        func readable(_ permission: Permission?) -> Bool { permission.map(\.canRead) ?? floor.canRead }
        let explicit = Set(rows.filter { $0.resourceType == type.rawValue && $0.resourcePattern != "*" }.map(\.resourcePattern))
        if readable(wildcard) {
            return .allExcept(explicit.filter { !readable(Self.fold(rows, type, $0)) })
        }
        return .only(explicit.filter { readable(Self.fold(rows, type, $0)) })
    }

    /// The experiment ids of a run search the user may read (and whose run tier is not denied).
    package func readableExperiments(_ ids: [String], tier: AuthResourceType = .run) async throws -> [String] {
        if isAdmin { return ids }
        var kept: [String] = []
        for id in ids {
            let experiment = try await permission(.experiment, id)
            let sub = try await permission(tier, "*", fallbacks: [(.experiment, id)])
            if experiment.canRead, sub != .deny { kept.append(id) }
        }
        return kept
    }

    /// Whether versions of a model show in a version search: READ on the model, version tier not denied.
    func canReadVersions(of name: String) async throws -> Bool {
        if isAdmin { return true }
        let model = try await permission(.registeredModel, name)
        let tier = try await permission(.registeredModelVersion, "*", fallbacks: [(.registeredModel, name)])
        return model.canRead && tier != .deny
    }

    // MARK: - Ownership

    /// Gives the creator of a resource MANAGE on it (admins too, as MLflow does).
    func grantCreator(_ type: AuthResourceType, _ id: String) async throws {
        try await access.auth.setGrant(userId: user.id, resourceType: type.rawValue, resourcePattern: id, permission: .manage)
        cached.withLock { $0 = nil }
    }
}
