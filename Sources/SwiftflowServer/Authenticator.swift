import Crypto
import Foundation
import SwiftflowCore
import SwiftflowStore
import Synchronization

/// Checks HTTP Basic credentials against the auth store.
///
/// A password hash costs a few hundred milliseconds by design, so a verified password is remembered:
/// the cache keeps, per username, an HMAC of the password under a key that lives only in this process
/// and the stored hash it was checked against. A later request is accepted from the cache only while
/// the stored hash is unchanged, so a password change or a deleted user takes effect at once, on every
/// replica. Failed attempts are counted per username and per client address (`LoginThrottle`); a
/// throttled attempt is refused before any hashing.
package final class Authenticator: Sendable {
    let store: any AuthStore
    private let throttle: LoginThrottle
    /// The HMAC key of the cache, kept as bytes (SymmetricKey is not Sendable).
    private let cacheKey: [UInt8] = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
    private let cache = Mutex<[String: CachedCredential]>([:])
    /// A hash of a random password, verified against when the username is unknown, so that an unknown
    /// user costs as much time as a wrong password.
    private let decoyHash = PasswordHash.make(UUID().uuidString)

    private struct CachedCredential {
        var storedHash: String
        var mac: [UInt8]
    }

    /// Entries beyond which the cache starts over (bounded memory whatever the number of users).
    private static let cacheLimit = 10_000

    init(store: any AuthStore, throttle: LoginThrottle) {
        self.store = store
        self.throttle = throttle
    }

    /// The user named in `authorization` (an `Authorization` header), if the password is right.
    /// - Throws: `UNAUTHENTICATED` for a missing, malformed or wrong credential; `LoginThrottled` while
    ///   the username or the address is locked out.
    /// - Returns: the user and, unless an admin, their role permissions (read with the user, in one go).
    func authenticate(authorization: String?, address: String) async throws -> SignIn {
        guard let authorization, let (username, password) = Self.basicCredentials(authorization) else {
            throw Self.unauthenticated
        }
        if let wait = throttle.refusal(username: username, address: address) { throw LoginThrottled(seconds: wait) }
        let found = try await store.signIn(username: username, workspace: Role.defaultWorkspace)
        let mac = Array(HMAC<SHA256>.authenticationCode(for: Array(password.utf8), using: SymmetricKey(data: cacheKey)))
        if let found, let cached = cache.withLock({ $0[username] }), cached.storedHash == found.passwordHash,
            PasswordHash.constantTimeEqual(cached.mac, mac)
        {
            return found
        }
        let storedHash = found?.passwordHash ?? decoyHash
        let matches = try await PasswordHash.matches(password, storedHash)
        // An admin on the old shipped default password never signs in (MLflow 3 refuses it too).
        guard let found, matches, !(found.user.isAdmin && password == AuthConfig.defaultAdminPassword) else {
            throttle.recordFailure(username: username, address: address)
            throw Self.unauthenticated
        }
        throttle.recordSuccess(username: username)
        cache.withLock { entries in
            if entries.count >= Self.cacheLimit { entries.removeAll() }
            entries[username] = CachedCredential(storedHash: found.passwordHash, mac: mac)
        }
        return found
    }

    /// The answer while a username or an address is locked out: 429 with Retry-After.
    struct LoginThrottled: Error {
        let seconds: Int

        var error: SwiftflowError {
            SwiftflowError(.requestLimitExceeded, "Too many failed login attempts. Try again in \(seconds) seconds.")
        }
    }

    /// MLflow's answer to a request without valid credentials.
    static let unauthenticated = SwiftflowError(
        .unauthenticated,
        "You are not authenticated. Please see "
            + "https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.")

    /// The username and password of a `Basic` credential; nil for any other scheme or a malformed value.
    package static func basicCredentials(_ header: String) -> (String, String)? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8),
            let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}

/// Counts failed logins per username and per client address and refuses further attempts for a while
/// once either reaches the limit: the first lockout lasts `lockoutSeconds`, each further failure doubles
/// it up to 15 minutes. A success clears the username's count only, so that one valid account cannot
/// reset an address's count while it guesses others. Kept per server process: each replica throttles
/// what it sees.
package final class LoginThrottle: Sendable {
    private let maxFailures: Int
    private let lockout: Double
    private let now: @Sendable () -> Double
    private let entries = Mutex<[String: Entry]>([:])

    private struct Entry {
        var failures: Int
        var lockedUntil: Double
        var lastFailure: Double
    }

    static let maxLockout = 900.0
    /// Keys whose last failure is older than this are forgotten.
    static let memory = 3600.0

    package init(maxFailures: Int, lockoutSeconds: Int, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.maxFailures = maxFailures
        self.lockout = Double(lockoutSeconds)
        self.now = now
    }

    /// Seconds to wait if the username or the address is locked out, else nil.
    package func refusal(username: String, address: String) -> Int? {
        let time = now()
        return entries.withLock { entries in
            let until = [entries["u:" + username], entries["a:" + address]].compactMap { $0?.lockedUntil }.max() ?? 0
            return until > time ? Int((until - time).rounded(.up)) : nil
        }
    }

    package func recordFailure(username: String, address: String) {
        let time = now()
        entries.withLock { entries in
            if entries.count > 100_000 { entries = entries.filter { time - $0.value.lastFailure < Self.memory } }
            for key in ["u:" + username, "a:" + address] {
                var entry = entries[key] ?? Entry(failures: 0, lockedUntil: 0, lastFailure: time)
                if time - entry.lastFailure > Self.memory { entry.failures = 0 }
                entry.failures += 1
                entry.lastFailure = time
                if entry.failures >= maxFailures {
                    let doublings = Double(min(entry.failures - maxFailures, 20))
                    entry.lockedUntil = time + min(lockout * pow(2, doublings), Self.maxLockout)
                }
                entries[key] = entry
            }
        }
    }

    package func recordSuccess(username: String) {
        _ = entries.withLock { $0.removeValue(forKey: "u:" + username) }
    }
}
