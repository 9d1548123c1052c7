import Foundation
import SwiftflowCore
import SwiftflowServer
import SwiftflowStore
import Synchronization
import Testing

@Suite("Password hashes")
struct PasswordHashTests {
    @Test("a new hash verifies its password and nothing else")
    func roundTrip() {
        let hash = PasswordHash.make("correct horse battery", iterations: 1_000)
        #expect(hash.hasPrefix("pbkdf2:sha256:1000$"))
        #expect(PasswordHash.verify("correct horse battery", against: hash))
        #expect(!PasswordHash.verify("correct horse batterY", against: hash))
        #expect(PasswordHash.make("x", iterations: 1_000) != PasswordHash.make("x", iterations: 1_000))
    }

    @Test("hashes written by werkzeug (MLflow's basic-auth app) verify: pbkdf2 and scrypt")
    func werkzeug() {
        let pbkdf2 = "pbkdf2:sha256:1000$GKTBNn2EsVYphWzL$6cc830bd0b8f302f93b5ca60e332470b8a5263c1df262bfe8fb22ce59ddce4eb"
        let scrypt = "scrypt:1024:8:1$Syv04SDZF9aiNM81$91c60d8f950138b2e79c693351264f4ae1fd1e1fbd5785db44cbeda5ab634603"
            + "386ab5cb3e8db1aac9008a464968a53f7d2cce6ceb011e2cce96618d66831831"
        #expect(PasswordHash.verify("correct horse battery", against: pbkdf2))
        #expect(PasswordHash.verify("correct horse battery", against: scrypt))
        #expect(!PasswordHash.verify("wrong horse battery", against: scrypt))
    }

    @Test("unreadable hashes match nothing", arguments: ["", "plain", "md5$a$b", "pbkdf2:sha1:1000$a$00", "pbkdf2:sha256:x$a$00", "scrypt:0:8:1$a$00"])
    func garbage(_ stored: String) {
        #expect(!PasswordHash.verify("", against: stored))
        #expect(!PasswordHash.verify("anything", against: stored))
    }
}

@Suite("Auth settings and throttling")
struct AuthConfigTests {
    @Test("the ini is read as MLflow's configparser reads it")
    func ini() throws {
        let config = try AuthConfig.parse(ini: """
            # comment
            [mlflow]
            default_permission = NO_PERMISSIONS
            database_uri: sqlite:///auth.db
            admin_username = root
            admin_password = a-long-password-1
            ; another comment
            [swiftflow]
            max_failed_logins = 3
            lockout_seconds = 7
            """)
        #expect(config.defaultPermission == .noPermissions)
        #expect(config.databaseURI == "sqlite:///auth.db")
        #expect(config.adminUsername == "root" && config.adminPassword == "a-long-password-1")
        #expect(config.maxFailedLogins == 3 && config.lockoutSeconds == 7)
        #expect(AuthConfig().defaultPermission == .read && AuthConfig().adminPassword.isEmpty)
        #expect(throws: SwiftflowError.self) { try AuthConfig.parse(ini: "[mlflow]\ndefault_permission = read\n") }
    }

    @Test("the admin password must be set, not MLflow's old default, and 12 characters long")
    func adminPassword() {
        for bad in ["", AuthConfig.defaultAdminPassword, "short-pass"] {
            #expect(throws: SwiftflowError.self) {
                try AccessControl.validateAdminPassword(AuthConfig(adminPassword: bad))
            }
        }
        #expect(throws: Never.self) { try AccessControl.validateAdminPassword(AuthConfig(adminPassword: "twelve-chars")) }
    }

    @Test("failed logins lock out the user and the address, doubling; a success clears the user's count")
    func throttle() {
        let clock = Mutex(1_000.0)
        let throttle = LoginThrottle(maxFailures: 3, lockoutSeconds: 10, now: { clock.withLock { $0 } })
        for _ in 0..<2 { throttle.recordFailure(username: "alice", address: "10.0.0.1") }
        #expect(throttle.refusal(username: "alice", address: "10.0.0.1") == nil)
        throttle.recordFailure(username: "alice", address: "10.0.0.1")
        #expect(throttle.refusal(username: "alice", address: "10.0.0.9") == 10)
        #expect(throttle.refusal(username: "bob", address: "10.0.0.1") == 10)
        #expect(throttle.refusal(username: "bob", address: "10.0.0.2") == nil)
        clock.withLock { $0 += 10 }
        #expect(throttle.refusal(username: "alice", address: "10.0.0.1") == nil)
        throttle.recordFailure(username: "alice", address: "10.0.0.1")
        #expect(throttle.refusal(username: "alice", address: "10.0.0.3") == 20)
        throttle.recordSuccess(username: "alice")
        #expect(throttle.refusal(username: "alice", address: "10.0.0.3") == nil)
        #expect(throttle.refusal(username: "carol", address: "10.0.0.1") == 20)
    }

    @Test("Basic credentials: case-insensitive scheme; anything malformed is nil")
    func basicCredentials() {
        #expect(Authenticator.basicCredentials("Basic YWxpY2U6cDpx")! == ("alice", "p:q"))
        #expect(Authenticator.basicCredentials("basic YWxpY2U6")! == ("alice", ""))
        for bad in ["Bearer x", "Basic !!!", "Basic YWxpY2U=", "Basic", "Digest abc"] {
            #expect(Authenticator.basicCredentials(bad) == nil)
        }
    }
}

@Suite("Auth store and permission resolution")
struct AuthStoreTests {
    @Test("users, grants in the user's own role, and MLflow's messages", arguments: Backend.all)
    func grants(_ backend: Backend) async throws {
        try await withStore(backend) { store, _ in
            let auth = try await SQLAuthStore.open(sharing: store)
            let alice = try await auth.createUser(username: "alice", password: "alice-password-1", isAdmin: false)
            let duplicate = await thrownError { _ = try await auth.createUser(username: "alice", password: "another-password", isAdmin: false) }
            #expect(duplicate?.message == "User (username=alice) already exists.")
            #expect(await thrownError { _ = try await auth.createUser(username: "bob", password: "short", isAdmin: false) }?.message
                == "Password must be at least 12 characters.")
            try await auth.grant(username: "alice", resourceType: "experiment", resourcePattern: "7", permission: .edit)
            #expect(await thrownError {
                try await auth.grant(username: "alice", resourceType: "experiment", resourcePattern: "7", permission: .read)
            }?.message == "Permission for user=alice on resource_type=experiment, resource_id=7 already exists.")
            try await auth.setGrant(userId: alice.id, resourceType: "registered_model", resourcePattern: "m", permission: .manage)
            var rows = try await auth.permissions(userId: alice.id, workspace: Role.defaultWorkspace)
            #expect(rows.map { "\($0.resourceType)/\($0.resourcePattern)=\($0.permission.rawValue)" }
                == ["experiment/7=EDIT", "registered_model/m=MANAGE"])
            try await auth.renameGrants(resourceTypes: ["registered_model"], from: "m", to: "n")
            let roles = try await auth.roles(userId: alice.id)
            #expect(roles.map(\.name) == [Role.userRoleName(alice.id)] && roles[0].permissions.count == 2)
            _ = try await auth.updateRolePermission(id: rows[0].id, permission: .manage)
            try await auth.revoke(username: "alice", resourceType: "registered_model", resourcePattern: "n")
            #expect(await thrownCode { try await auth.revoke(username: "alice", resourceType: "registered_model", resourcePattern: "n") }
                == .resourceDoesNotExist)
            rows = try await auth.permissions(userId: alice.id, workspace: Role.defaultWorkspace)
            #expect(rows.map(\.permission) == [.manage])
            try await auth.deleteUser(username: "alice")
            #expect(try await auth.permissions(userId: alice.id, workspace: Role.defaultWorkspace).isEmpty)
            #expect(try await auth.roles(userId: alice.id).isEmpty)
            #expect(try await auth.credentials(username: "alice") == nil)
        }
    }

    @Test("start-up creates the admin once, and replaces MLflow's old default password with the configured one")
    func bootstrap() async throws {
        try await withStore { store, _ in
            let auth = try await SQLAuthStore.open(sharing: store)
            _ = try await auth.createUser(username: "admin", password: AuthConfig.defaultAdminPassword, isAdmin: true)
            #expect(await thrownCode { try await AccessControl.bootstrapAdmin(AuthConfig(adminPassword: "short"), store: auth) }
                == .invalidParameterValue)
            try await AccessControl.bootstrapAdmin(AuthConfig(adminPassword: "configured-password"), store: auth)
            let hash = try #require(try await auth.credentials(username: "admin")).passwordHash
            #expect(PasswordHash.verify("configured-password", against: hash))
            // Once changed, the configured password no longer touches the stored one.
            try await AccessControl.bootstrapAdmin(AuthConfig(adminPassword: "another-password"), store: auth)
            #expect(try await auth.credentials(username: "admin")?.passwordHash == hash)
            try await AccessControl.bootstrapAdmin(AuthConfig(adminUsername: "root", adminPassword: "root-password-1"), store: auth)
            #expect(try await auth.user(named: "root").isAdmin)
        }
    }

    @Test("resolution: DENY wins in a key, the first key with a grant decides, grants never fall below the default")
    func resolution() async throws {
        try await withStore { store, _ in
            let auth = try await SQLAuthStore.open(sharing: store)
            let user = try await auth.createUser(username: "u", password: "u-password-123", isAdmin: false)
            for (type, pattern, permission) in [
                ("experiment", "1", Permission.edit), ("experiment", "2", .deny), ("experiment", "*", .read),
                ("run", "*", .manage), ("registered_model", "m", .read),
            ] {
                try await auth.setGrant(userId: user.id, resourceType: type, resourcePattern: pattern, permission: permission)
            }
            func resolve(_ defaultPermission: Permission) -> RequestAuth {
                RequestAuth(user: user, access: AccessControl(
                    auth: auth, tracking: store, registry: SQLRegistryStore(sharing: store),
                    config: AuthConfig(defaultPermission: defaultPermission)))
            }
            let reader = resolve(.read)
            #expect(try await reader.permission(.experiment, "1") == .edit)
            #expect(try await reader.permission(.experiment, "2") == .deny)
            #expect(try await reader.permission(.experiment, "3") == .read)
            #expect(try await reader.permission(.run, "*", fallbacks: [(.experiment, "2")]) == .manage)
            #expect(try await reader.permission(.loggedModel, "*", fallbacks: [(.experiment, "1")]) == .edit)
            #expect(try await resolve(.edit).permission(.registeredModel, "m") == .edit)
            #expect(try await resolve(.noPermissions).permission(.registeredModel, "other") == .noPermissions)
            #expect(try await reader.visibility(.experiment) == .allExcept(["2"]))
            #expect(try await resolve(.noPermissions).visibility(.registeredModel) == .only(["m"]))
            #expect(try await reader.readableExperiments(["1", "2", "3"]) == ["1", "3"])
        }
    }
}

/// The error a call throws, if it is a `SwiftflowError`.
func thrownError(_ body: () async throws -> Void) async -> SwiftflowError? {
    do {
        try await body()
        return nil
    } catch let error as SwiftflowError {
        return error
    } catch {
        return nil
    }
}
